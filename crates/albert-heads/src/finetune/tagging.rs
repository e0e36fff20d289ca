//! Token tagging (CoNLL-style data) with [`AlbertForTokenClassification`]: each word is
//! tokenized on its own (SentencePiece marks it as a word start), its tag goes on its first
//! piece and the other pieces are ignored (`-100`), as HF's `run_ner.py` aligns labels. Words
//! cut off by `max_seq_length` are predicted as the most frequent training tag and counted.

use std::collections::BTreeMap;
use std::path::Path;

use albert_core::AlbertConfig;
use albert_core::loss::IGNORE_INDEX;
use albert_tokenizer::AlbertTokenizer;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde_json::json;

use super::{FinetuneTask, token_batch};
use crate::AlbertForTokenClassification;
use crate::error::{HeadsError, Result};
use crate::metrics::tagging::{entity_scores, token_accuracy};
use crate::progress::Progress;
use crate::tasks::conll::TaggedSentence;

/// Encoded sentences.
#[derive(Debug, Clone)]
pub struct TaggingData {
    /// `(ids, token types)` per sentence: `[CLS] pieces [SEP]`.
    pub inputs: Vec<(Vec<u32>, Vec<u32>)>,
    /// Per position: the tag index at a word's first piece, `-100` elsewhere.
    pub labels: Vec<Vec<i64>>,
    /// Per sentence: the position of each kept word's first piece.
    pub word_starts: Vec<Vec<usize>>,
    /// Gold tags per word (all words, kept or not).
    pub gold: Vec<Vec<String>>,
    /// Tag predicted for words that did not fit.
    pub fallback: usize,
    /// The file's line of each sentence.
    pub lines: Vec<usize>,
}

/// The tags of a training file, sorted, with the most frequent one.
pub fn tag_set(sentences: &[TaggedSentence]) -> (Vec<String>, String) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in sentences {
        for t in &s.tags {
            *counts.entry(t).or_insert(0) += 1;
        }
    }
    let most = counts
        .iter()
        .max_by_key(|(_, c)| **c)
        .map(|(t, _)| (*t).to_string())
        .unwrap_or_default();
    (counts.keys().map(|t| (*t).to_string()).collect(), most)
}

/// Tokenizes and aligns `sentences`; a tag not in `tags` is an error naming the line.
pub fn encode(
    tokenizer: &AlbertTokenizer,
    sentences: &[TaggedSentence],
    tags: &[String],
    fallback_tag: &str,
    max_seq_length: usize,
    path: &Path,
) -> Result<TaggingData> {
    let special = tokenizer.special_ids();
    let mut data = TaggingData {
        inputs: Vec::new(),
        labels: Vec::new(),
        word_starts: Vec::new(),
        gold: Vec::new(),
        fallback: tags.iter().position(|t| t == fallback_tag).unwrap_or(0),
        lines: Vec::new(),
    };
    for s in sentences {
        let mut ids = vec![special.cls];
        let mut labels = vec![IGNORE_INDEX];
        let mut starts = Vec::new();
        for (w, (word, tag)) in s.tokens.iter().zip(&s.tags).enumerate() {
            let index = tags.iter().position(|t| t == tag).ok_or_else(|| {
                HeadsError::data(
                    path,
                    Some(s.line + w),
                    format!("tag {tag:?} is not one of the model's tags {tags:?}"),
                )
            })?;
            let mut pieces = tokenizer.tokenize(word)?.ids;
            if pieces.is_empty() {
                pieces.push(special.unk);
            }
            if ids.len() + pieces.len() + 1 > max_seq_length {
                break;
            }
            starts.push(ids.len());
            labels.push(index as i64);
            labels.extend(std::iter::repeat_n(IGNORE_INDEX, pieces.len() - 1));
            ids.extend(pieces);
        }
        ids.push(special.sep);
        labels.push(IGNORE_INDEX);
        let types = vec![0; ids.len()];
        data.inputs.push((ids, types));
        data.labels.push(labels);
        data.word_starts.push(starts);
        data.gold.push(s.tags.clone());
        data.lines.push(s.line);
    }
    Ok(data)
}

/// The [`FinetuneTask`] of token tagging.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tagging;

impl FinetuneTask for Tagging {
    type Model = AlbertForTokenClassification;
    type Data = TaggingData;
    /// Predicted tag index per word.
    type Predictions = Vec<Vec<usize>>;

    fn body(model: &Self::Model) -> &albert_core::AlbertModel {
        &model.albert
    }

    fn len(data: &TaggingData) -> usize {
        data.inputs.len()
    }

    fn loss(
        model: &Self::Model,
        config: &AlbertConfig,
        data: &TaggingData,
        idx: &[usize],
        pad: u32,
        device: &Device,
    ) -> Result<Tensor<1>> {
        let batch = token_batch(&data.inputs, idx, pad);
        let [b, n] = batch.dims();
        let input = batch.to_input(config, device)?;
        let (_, logits) = model.forward(input, albert_core::EncoderOutputs::default());
        let mut flat = Vec::with_capacity(b * n);
        for &i in idx {
            let mut row = data.labels[i].clone();
            row.resize(n, IGNORE_INDEX);
            flat.extend(row);
        }
        let labels = Tensor::<2, Int>::from_data(TensorData::new(flat, [b, n]), device);
        Ok(model.loss(logits, labels))
    }

    fn predict(
        model: &Self::Model,
        config: &AlbertConfig,
        data: &TaggingData,
        batch_size: usize,
        pad: u32,
        device: &Device,
        progress: &Progress,
    ) -> Result<Vec<Vec<usize>>> {
        let all: Vec<usize> = (0..data.inputs.len()).collect();
        let mut out = Vec::with_capacity(all.len());
        for idx in all.chunks(batch_size.max(1)) {
            progress.inc(idx.len() as u64);
            let batch = token_batch(&data.inputs, idx, pad);
            let [_, n] = batch.dims();
            let input = batch.to_input(config, device)?;
            let (_, logits) = model.forward(input, albert_core::EncoderOutputs::default());
            let am: Vec<i64> = logits.argmax(2).into_data().iter::<i64>().collect();
            for (k, &i) in idx.iter().enumerate() {
                let mut tags: Vec<usize> = data.word_starts[i]
                    .iter()
                    .map(|&p| usize::try_from(am[k * n + p]).unwrap_or_default())
                    .collect();
                tags.resize(data.gold[i].len(), data.fallback);
                out.push(tags);
            }
        }
        Ok(out)
    }

    fn score(
        data: &TaggingData,
        preds: &Vec<Vec<usize>>,
        labels: &[String],
    ) -> BTreeMap<String, f64> {
        let pred: Vec<Vec<String>> = preds
            .iter()
            .map(|p| {
                p.iter()
                    .map(|&t| labels.get(t).cloned().unwrap_or_default())
                    .collect()
            })
            .collect();
        let mut m = BTreeMap::new();
        if let Some(a) = token_accuracy(&data.gold, &pred) {
            m.insert("accuracy".into(), a);
        }
        let chunked = labels
            .iter()
            .all(|t| t == "O" || ["B-", "I-", "E-", "S-"].iter().any(|p| t.starts_with(p)));
        if chunked {
            let e = entity_scores(&data.gold, &pred);
            m.insert("precision".into(), e.precision);
            m.insert("recall".into(), e.recall);
            m.insert("f1".into(), e.f1);
        }
        m
    }

    fn write_predictions(
        path: &Path,
        data: &TaggingData,
        preds: &Vec<Vec<usize>>,
        labels: &[String],
    ) -> Result<()> {
        let mut text = String::new();
        for (i, p) in preds.iter().enumerate() {
            let tags: Vec<&str> = p
                .iter()
                .map(|&t| labels.get(t).map_or("", String::as_str))
                .collect();
            text.push_str(
                &json!({"line": data.lines[i], "gold": data.gold[i], "prediction": tags})
                    .to_string(),
            );
            text.push('\n');
        }
        albert_core::io::write_atomic(path, text.as_bytes())?;
        Ok(())
    }
}
