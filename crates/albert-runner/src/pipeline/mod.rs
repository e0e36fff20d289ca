//! Inference pipelines on a model loaded once: [`Pipeline::load`] reads a model directory and
//! keeps the model, the tokenizer and the device; every call after that runs a batch of inputs
//! through it and returns typed results shaped like transformers' pipelines (serialise them with
//! serde to get the pipelines' JSON). `albert classify`, `fill-mask`, `answer`, `tag` and `embed`
//! and the inference server (`albert serve`) all run through here; [`typed`] wraps one task
//! each under transformers' pipeline names (`FillMask`, `TextClassification`, …).
//!
//! ```no_run
//! use albert_runner::pipeline::{Pipeline, PipelineOptions, Task};
//!
//! let fill = Pipeline::load("models/albert-mini-mixed".as_ref(), &PipelineOptions::default())?;
//! assert_eq!(fill.task(), Task::FillMask); // from the config's `architectures`
//! for candidate in &fill.fill_mask(&["The [MASK] of the nation.".into()], 3)?[0][0] {
//!     println!("{} {:.3}", candidate.token_str, candidate.score);
//! }
//! # Ok::<(), albert_runner::RunnerError>(())
//! ```

use std::path::Path;

use albert_core::checkpoint::MissingPolicy;
use albert_core::precision::autocast;
use albert_core::{AlbertForPreTraining, AlbertModel, EncoderOutputs};
use albert_heads::finetune::qa::SpanQa;
use albert_heads::finetune::tagging::{word_pieces, word_windows};
use albert_heads::finetune::{FinetuneTask, qa_data, seqcls, token_batch};
use albert_heads::tasks::squad::SquadExample;
use albert_heads::{
    AlbertForQuestionAnswering, AlbertForSequenceClassification, AlbertForTokenClassification,
};
use albert_tokenizer::{EncodeOptions, TruncationStrategy};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::error::{Result, RunnerError};
use crate::finetune::{ModelDir, first_device, load_model, model_dir};

pub mod typed;
mod types;

pub use typed::{
    FeatureExtraction, FillMask, QuestionAnswering, TextClassification, TokenClassification,
};
pub use types::{Answer, LabelScore, MaskCandidate, PipelineOptions, Pooling, Task, WordTag};
use types::{rank_labels, top_indices};

/// The loaded head.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Head {
    Classify(AlbertForSequenceClassification),
    FillMask(AlbertForPreTraining),
    Answer(AlbertForQuestionAnswering),
    Tag(AlbertForTokenClassification),
    Embed(AlbertForPreTraining),
}

/// A model loaded once for many calls (see the module docs).
pub struct Pipeline {
    dir: ModelDir,
    device: Device,
    head: Head,
    options: PipelineOptions,
    labels: Vec<String>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("task", &self.task())
            .field("device", &self.device)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Loads the model directory `model` (config, weights in any supported format, tokenizer)
    /// for `options.task` (default: what its `architectures` names). Heads the task does not use
    /// may be missing from the checkpoint (fill-mask: the SOP head and pooler; embed: all heads).
    pub fn load(model: &Path, options: &PipelineOptions) -> Result<Self> {
        let dir = model_dir(model)?;
        let device = first_device(&options.device)?;
        crate::device::check_precision(&device, &options.device, options.precision)?;
        let task = options
            .task
            .unwrap_or_else(|| Task::of_architectures(&dir.hf.architectures));
        let labels = dir.hf.config.labels.clone().unwrap_or_default();
        let head = match task {
            Task::Classify => {
                let n = labels.len().max(1);
                Head::Classify(load_model(
                    &dir,
                    &device,
                    |c, i, d| AlbertForSequenceClassification::new(c, n, i, d),
                    MissingPolicy::Error,
                )?)
            }
            Task::FillMask => Head::FillMask(load_model(
                &dir,
                &device,
                AlbertForPreTraining::new,
                MissingPolicy::Unused(&["sop_classifier.", "albert.pooler."]),
            )?),
            Task::Answer => Head::Answer(load_model(
                &dir,
                &device,
                AlbertForQuestionAnswering::new,
                MissingPolicy::Error,
            )?),
            Task::Tag => {
                if labels.is_empty() {
                    return Err(RunnerError::BadFile {
                        path: dir.config_path.clone(),
                        message: "a token-classification model needs its tag names (id2label)"
                            .into(),
                    });
                }
                let n = labels.len();
                Head::Tag(load_model(
                    &dir,
                    &device,
                    |c, i, d| AlbertForTokenClassification::new(c, n, i, d),
                    MissingPolicy::Error,
                )?)
            }
            Task::Embed => Head::Embed(load_model(
                &dir,
                &device,
                AlbertForPreTraining::new,
                MissingPolicy::Unused(&["sop_classifier.", "albert.pooler.", "predictions."]),
            )?),
        };
        let mut options = options.clone();
        options.task = Some(task);
        options.batch_size = options.batch_size.max(1);
        options.max_seq_length = options
            .max_seq_length
            .clamp(2, dir.hf.config.max_position_embeddings);
        Ok(Self {
            dir,
            device,
            head,
            options,
            labels,
        })
    }

    /// The task this pipeline was loaded for.
    pub fn task(&self) -> Task {
        match self.head {
            Head::Classify(_) => Task::Classify,
            Head::FillMask(_) => Task::FillMask,
            Head::Answer(_) => Task::Answer,
            Head::Tag(_) => Task::Tag,
            Head::Embed(_) => Task::Embed,
        }
    }

    /// The options it runs with (task resolved, lengths capped at the model's positions).
    pub fn options(&self) -> &PipelineOptions {
        &self.options
    }

    /// The classifier's label names (`id2label` order); empty for regression and other tasks.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The longest input the model takes, in tokens.
    pub fn max_positions(&self) -> usize {
        self.dir.hf.config.max_position_embeddings
    }

    fn wrong_task(&self, wanted: Task) -> RunnerError {
        RunnerError::Usage(format!(
            "this model was loaded for {}, not {} (its architectures: {:?})",
            self.task().name(),
            wanted.name(),
            self.dir.hf.architectures
        ))
    }

    fn truncating(&self) -> EncodeOptions {
        EncodeOptions {
            truncation: Some((
                self.options.max_seq_length,
                TruncationStrategy::LongestFirst,
            )),
            padding: None,
        }
    }

    fn encode(&self, inputs: &[(String, Option<String>)]) -> Result<Vec<(Vec<u32>, Vec<u32>)>> {
        Ok(self
            .dir
            .tokenizer
            .encode_batch(inputs, &self.truncating())?
            .into_iter()
            .map(|e| (e.ids, e.type_ids))
            .collect())
    }

    /// Class probabilities (or the regression value) of each `(text, pair)` input.
    pub fn class_probabilities(
        &self,
        inputs: &[(String, Option<String>)],
    ) -> Result<Vec<Vec<f32>>> {
        let Head::Classify(m) = &self.head else {
            return Err(self.wrong_task(Task::Classify));
        };
        let _precision = autocast(self.options.precision);
        let encoded = self.encode(inputs)?;
        let pad = self.dir.tokenizer.special_ids().pad;
        // Run in order of length (less padding per batch), answer in the input order.
        let order: Vec<usize> = length_sorted_chunks(&encoded, usize::MAX).concat();
        let sorted: Vec<(Vec<u32>, Vec<u32>)> = order.iter().map(|&i| encoded[i].clone()).collect();
        let probabilities = seqcls::probabilities(
            m,
            &self.dir.hf.config,
            &sorted,
            self.options.batch_size,
            pad,
            &self.device,
        )?;
        let mut out = vec![Vec::new(); inputs.len()];
        for (&i, p) in order.iter().zip(probabilities) {
            out[i] = p;
        }
        Ok(out)
    }

    /// The `top_k` best labels of each input, best first (transformers' text-classification
    /// pipeline with `top_k`; its default output is the first of each list). A regression
    /// model gives one unlabelled score.
    pub fn classify(
        &self,
        inputs: &[(String, Option<String>)],
        top_k: usize,
    ) -> Result<Vec<Vec<LabelScore>>> {
        let probabilities = self.class_probabilities(inputs)?;
        Ok(probabilities
            .iter()
            .map(|p| rank_labels(p, &self.labels, top_k))
            .collect())
    }

    /// The `top_k` candidates at every `[MASK]` of every text: per text, one list per mask (in
    /// order). A text without `[MASK]` or longer than the model's positions is an error.
    pub fn fill_mask(
        &self,
        texts: &[String],
        top_k: usize,
    ) -> Result<Vec<Vec<Vec<MaskCandidate>>>> {
        let Head::FillMask(m) = &self.head else {
            return Err(self.wrong_task(Task::FillMask));
        };
        let _precision = autocast(self.options.precision);
        let tokenizer = &self.dir.tokenizer;
        let mask = tokenizer.special_ids().mask;
        let mut encoded = Vec::with_capacity(texts.len());
        for text in texts {
            let enc = tokenizer.encode(text, None, &EncodeOptions::default())?;
            if !enc.ids.contains(&mask) {
                return Err(RunnerError::Usage(format!(
                    "the text has no [MASK] token: {text:?}"
                )));
            }
            if enc.ids.len() > self.max_positions() {
                return Err(RunnerError::Usage(format!(
                    "the text is {} tokens long, more than the model's {} positions: {text:?}",
                    enc.ids.len(),
                    self.max_positions()
                )));
            }
            encoded.push((enc.ids, enc.type_ids));
        }
        let config = &self.dir.hf.config;
        let pad = tokenizer.special_ids().pad;
        let mut out = vec![Vec::new(); texts.len()];
        for idx in length_sorted_chunks(&encoded, self.options.batch_size) {
            let batch = token_batch(&encoded, &idx, pad);
            let n = batch.input_ids.first().map_or(0, Vec::len);
            let body = m.albert.forward(
                batch.to_input(config, &self.device)?,
                EncoderOutputs::default(),
            );
            // Every mask of the chunk, as flattened `row · n + column` positions.
            let mut masks = Vec::new();
            for (row, &i) in idx.iter().enumerate() {
                for (col, &id) in encoded[i].0.iter().enumerate() {
                    if id == mask {
                        masks.push((row, col));
                    }
                }
            }
            let flat_rows: Vec<i64> = masks.iter().map(|&(r, c)| (r * n + c) as i64).collect();
            let rows = Tensor::<1, Int>::from_data(
                TensorData::new(flat_rows, [masks.len()]),
                &self.device,
            );
            let probs =
                burn::tensor::activation::softmax(m.mlm_logits_at(body.last_hidden_state, rows), 1);
            let v = config.vocab_size;
            let flat: Vec<f32> = probs.into_data().iter::<f32>().collect();
            let mut k = 0;
            for &i in &idx {
                let ids = &encoded[i].0;
                let positions: Vec<usize> = (0..ids.len()).filter(|&p| ids[p] == mask).collect();
                // One mask: the pipeline's sequence skips special tokens; with several it keeps
                // them (the other masks stay visible).
                let skip_special = positions.len() == 1;
                let mut per_mask = Vec::with_capacity(positions.len());
                for &p in &positions {
                    let row = &flat[k * v..(k + 1) * v];
                    k += 1;
                    let mut candidates = Vec::with_capacity(top_k);
                    for id in top_indices(row, top_k) {
                        let id32 = u32::try_from(id).unwrap_or(u32::MAX);
                        let mut filled = ids.clone();
                        filled[p] = id32;
                        candidates.push(MaskCandidate {
                            score: row[id],
                            token: id32,
                            token_str: tokenizer.decode(&[id32], false)?,
                            sequence: tokenizer.decode(&filled, skip_special)?,
                        });
                    }
                    per_mask.push(candidates);
                }
                out[i] = per_mask;
            }
        }
        Ok(out)
    }

    /// The answer to each `(question, context)` (transformers' question-answering pipeline with
    /// `align_to_words`): the best span, or with [`PipelineOptions::handle_impossible_answer`]
    /// "" where the no-answer score (`[CLS]` as start and end) beats every span.
    pub fn answer(&self, items: &[(String, String)]) -> Result<Vec<Answer>> {
        let Head::Answer(m) = &self.head else {
            return Err(self.wrong_task(Task::Answer));
        };
        let _precision = autocast(self.options.precision);
        let examples = items
            .iter()
            .enumerate()
            .map(|(i, (question, context))| SquadExample {
                id: i.to_string(),
                title: String::new(),
                question: question.clone(),
                context: context.clone(),
                answers: Vec::new(),
                is_impossible: true,
            })
            .collect();
        let mut data = qa_data(
            &self.dir.tokenizer,
            examples,
            self.options.max_seq_length,
            self.options.handle_impossible_answer,
        )?;
        data.decode.align_to_words = true;
        let pad = self.dir.tokenizer.special_ids().pad;
        let answers = SpanQa::predict(
            m,
            &self.dir.hf.config,
            &data,
            self.options.batch_size,
            pad,
            &self.device,
            &albert_heads::progress::Progress::disabled(),
        )?;
        let mut out: Vec<Option<Answer>> = vec![None; items.len()];
        for a in answers {
            if let Some(slot) = out.get_mut(a.example) {
                *slot = Some(Answer {
                    score: a.score,
                    start: a.start,
                    end: a.end,
                    answer: a.text,
                });
            }
        }
        out.into_iter()
            .enumerate()
            .map(|(i, a)| a.ok_or_else(|| RunnerError::Usage(format!("no answer for input {i}"))))
            .collect()
    }

    /// A tag per word of each text (words split at whitespace; each tokenized on its own, its
    /// tag read at its first piece, as `albert finetune --task tagging` trains). A text whose
    /// pieces do not fit `max_seq_length` (or the model's positions) is tagged in windows, as
    /// fine-tuning splits long sentences (`albert_heads::finetune::tagging::word_windows`):
    /// every word is tagged once, with up to half a window of the words before it as context.
    pub fn tag(&self, texts: &[String]) -> Result<Vec<Vec<WordTag>>> {
        let Head::Tag(m) = &self.head else {
            return Err(self.wrong_task(Task::Tag));
        };
        let _precision = autocast(self.options.precision);
        let tokenizer = &self.dir.tokenizer;
        let special = tokenizer.special_ids();
        let limit = self.options.max_seq_length.min(self.max_positions());
        if limit < 3 {
            return Err(RunnerError::Usage(format!(
                "--max-seq-length {limit} leaves no room for a word beside [CLS] and [SEP]"
            )));
        }
        let capacity = limit - 2;
        // Per window: the ids; its text, first predicted word and those words' first pieces.
        let mut encoded = Vec::new();
        let mut windows = Vec::new();
        // Per text: each word with its span.
        let mut words = Vec::with_capacity(texts.len());
        for (t, text) in texts.iter().enumerate() {
            let mut spans = Vec::new();
            let mut pieces = Vec::new();
            for (start, end, word) in split_words(text) {
                spans.push((start, end, word.to_string()));
                pieces.push(word_pieces(tokenizer, word, capacity)?);
            }
            let lengths: Vec<usize> = pieces.iter().map(Vec::len).collect();
            for w in word_windows(&lengths, capacity) {
                let (ids, starts) = w.input(&pieces, special.cls, special.sep);
                let types = vec![0; ids.len()];
                encoded.push((ids, types));
                windows.push((t, w.first, starts));
            }
            words.push(spans);
        }
        let config = &self.dir.hf.config;
        let c = self.labels.len();
        let mut out: Vec<Vec<Option<WordTag>>> =
            words.iter().map(|w| vec![None; w.len()]).collect();
        for idx in length_sorted_chunks(&encoded, self.options.batch_size) {
            let batch = token_batch(&encoded, &idx, special.pad);
            let [_, n] = batch.dims();
            let (_, logits) = m.forward(
                batch.to_input(config, &self.device)?,
                EncoderOutputs::default(),
            );
            let probs: Vec<f32> = burn::tensor::activation::softmax(logits, 2)
                .into_data()
                .iter::<f32>()
                .collect();
            for (row, &i) in idx.iter().enumerate() {
                let (t, first, starts) = &windows[i];
                for (j, pos) in starts.iter().enumerate() {
                    let index = first + j;
                    let (start, end, word) = &words[*t][index];
                    let p = &probs[(row * n + pos) * c..(row * n + pos + 1) * c];
                    let best = top_indices(p, 1).first().copied().unwrap_or(0);
                    out[*t][index] = Some(WordTag {
                        entity: self.labels[best].clone(),
                        score: p[best],
                        index,
                        word: word.clone(),
                        start: *start,
                        end: *end,
                    });
                }
            }
        }
        Ok(out
            .into_iter()
            .map(|tags| tags.into_iter().flatten().collect())
            .collect())
    }

    /// One sentence vector per `(text, pair)` input from the model's body (works for every
    /// task), pooled as `pooling` says, scaled to unit length with `normalize`.
    pub fn embed(
        &self,
        inputs: &[(String, Option<String>)],
        pooling: Pooling,
        normalize: bool,
    ) -> Result<Vec<Vec<f32>>> {
        let body: &AlbertModel = match &self.head {
            Head::Classify(m) => &m.albert,
            Head::FillMask(m) | Head::Embed(m) => &m.albert,
            Head::Answer(m) => &m.albert,
            Head::Tag(m) => &m.albert,
        };
        let _precision = autocast(self.options.precision);
        let encoded = self.encode(inputs)?;
        let pad = self.dir.tokenizer.special_ids().pad;
        let config = &self.dir.hf.config;
        let mut out = vec![Vec::new(); inputs.len()];
        for idx in length_sorted_chunks(&encoded, self.options.batch_size) {
            let batch = token_batch(&encoded, &idx, pad); // right-padded, with the attention mask
            let states = body
                .forward(
                    batch.to_input(config, &self.device)?,
                    EncoderOutputs::default(),
                )
                .last_hidden_state;
            let [_, n, h] = states.dims();
            let values: Vec<f32> = states.into_data().iter::<f32>().collect();
            for (row, &i) in idx.iter().enumerate() {
                let at = |t: usize| &values[(row * n + t) * h..(row * n + t + 1) * h];
                let mut v = match pooling {
                    Pooling::Cls => at(0).to_vec(),
                    Pooling::Mean => {
                        // The real tokens are the first ones (right padding).
                        let real = encoded[i].0.len();
                        let mut sum = vec![0.0f32; h];
                        for t in 0..real {
                            for (s, x) in sum.iter_mut().zip(at(t)) {
                                *s += x;
                            }
                        }
                        sum.iter().map(|s| s / real.max(1) as f32).collect()
                    }
                };
                if normalize {
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                    v.iter_mut().for_each(|x| *x /= norm);
                }
                out[i] = v;
            }
        }
        Ok(out)
    }
}

/// The whitespace-separated words of `text` with their character spans `[start, end)`.
fn split_words(text: &str) -> Vec<(usize, usize, &str)> {
    let mut words = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (byte, char) of the current word
    let mut chars = 0;
    for (byte, ch) in text.char_indices() {
        match (ch.is_whitespace(), start) {
            (true, Some((b, c))) => {
                words.push((c, chars, &text[b..byte]));
                start = None;
            }
            (false, None) => start = Some((byte, chars)),
            _ => {}
        }
        chars += 1;
    }
    if let Some((b, c)) = start {
        words.push((c, chars, &text[b..]));
    }
    words
}

/// The inputs' indices in order of length (stable), cut into batches of `batch_size`: each
/// batch pads to its own longest input, so similar lengths together waste the least compute.
fn length_sorted_chunks(encoded: &[(Vec<u32>, Vec<u32>)], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    order.sort_by_key(|&i| encoded[i].0.len());
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::split_words;

    #[test]
    fn words_with_character_spans() {
        assert_eq!(
            split_words("  Zoë ate\tcake.\n"),
            vec![(2, 5, "Zoë"), (6, 9, "ate"), (10, 15, "cake.")]
        );
        assert!(split_words(" \n").is_empty());
        assert_eq!(split_words("x"), vec![(0, 1, "x")]);
    }
}
