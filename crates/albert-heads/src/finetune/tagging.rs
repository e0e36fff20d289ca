//! Token tagging (CoNLL-style data) with [`AlbertForTokenClassification`]: each word is
//! tokenized on its own (SentencePiece marks it as a word start), its tag goes on its first
//! piece and the other pieces are ignored (`-100`), as HF's `run_ner.py` aligns labels.
//!
//! A sentence longer than `max_seq_length` is split into windows, so that every word is
//! trained on and predicted (as transformers' token-classification pipeline does with a
//! `stride`): each window predicts the words that follow the previous window's, and starts with
//! up to half its pieces of the words before them as context (labelled `-100`). Each word is
//! predicted by exactly one window, with the left context of at least half a window whenever
//! it is not in the first one.

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

/// Encoded sentences, as windows of at most `max_seq_length` tokens.
#[derive(Debug, Clone)]
pub struct TaggingData {
    /// `(ids, token types)` per window: `[CLS] pieces [SEP]`.
    pub inputs: Vec<(Vec<u32>, Vec<u32>)>,
    /// Per window position: the tag index at the first piece of a word the window predicts,
    /// `-100` elsewhere (later pieces, context words, `[CLS]`, `[SEP]`).
    pub labels: Vec<Vec<i64>>,
    /// Per window: the position of the first piece of each word it predicts.
    pub word_starts: Vec<Vec<usize>>,
    /// Per window: its sentence and the index in it of the first word it predicts.
    pub windows: Vec<(usize, usize)>,
    /// Gold tags per sentence.
    pub gold: Vec<Vec<String>>,
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

/// One window of a sentence's words ([`word_windows`]): words `begin .. end` go into it,
/// `begin .. first` as unlabelled context and `first .. end` predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WordWindow {
    /// The first context word.
    pub begin: usize,
    /// The first word the window predicts.
    pub first: usize,
    /// One past its last word.
    pub end: usize,
}

/// The windows of a sentence whose words have `lengths` pieces (each at least 1, at most
/// `capacity`, the tokens a window holds beside `[CLS]` and `[SEP]`): the pieces of each
/// window's words at most `capacity`, the predicted words following each other from the
/// first word to the last, each window's context as many of the preceding words as fit in half
/// the capacity beside its first predicted word (module documentation). What fine-tuning,
/// evaluation and `albert tag` split long sentences with.
pub fn word_windows(lengths: &[usize], capacity: usize) -> Vec<WordWindow> {
    let mut out = Vec::new();
    let mut first = 0;
    while first < lengths.len() {
        let budget = (capacity / 2).min(capacity.saturating_sub(lengths[first]));
        let (mut begin, mut used) = (first, 0);
        while begin > 0 && used + lengths[begin - 1] <= budget {
            begin -= 1;
            used += lengths[begin];
        }
        let mut end = first;
        while end < lengths.len() && used + lengths[end] <= capacity {
            used += lengths[end];
            end += 1;
        }
        // A word longer than the capacity still gets a window of its own.
        let end = end.max(first + 1);
        out.push(WordWindow { begin, first, end });
        first = end;
    }
    out
}

impl WordWindow {
    /// The window's input: `[CLS]`, the pieces of its words (`pieces`: each word's, from
    /// [`word_pieces`]), `[SEP]`; and the position of the first piece of each word it predicts.
    pub fn input(self, pieces: &[Vec<u32>], cls: u32, sep: u32) -> (Vec<u32>, Vec<usize>) {
        let mut ids = vec![cls];
        let mut starts = Vec::with_capacity(self.end - self.first);
        for (w, p) in pieces.iter().enumerate().take(self.end).skip(self.begin) {
            if w >= self.first {
                starts.push(ids.len());
            }
            ids.extend(p);
        }
        ids.push(sep);
        (ids, starts)
    }
}

/// A word's pieces as the tagger reads them: the word tokenized on its own (`[UNK]` when that
/// gives none), cut to the `capacity` of a window.
pub fn word_pieces(
    tokenizer: &AlbertTokenizer,
    word: &str,
    capacity: usize,
) -> albert_tokenizer::Result<Vec<u32>> {
    let mut pieces = tokenizer.tokenize(word)?.ids;
    if pieces.is_empty() {
        pieces.push(tokenizer.special_ids().unk);
    }
    pieces.truncate(capacity);
    Ok(pieces)
}

/// Tokenizes and aligns `sentences` into windows of at most `max_seq_length` tokens (module
/// documentation); a tag not in `tags` is an error naming the line. A word of more pieces than
/// a window holds keeps its first `max_seq_length − 2`.
pub fn encode(
    tokenizer: &AlbertTokenizer,
    sentences: &[TaggedSentence],
    tags: &[String],
    max_seq_length: usize,
    path: &Path,
) -> Result<TaggingData> {
    let special = tokenizer.special_ids();
    if max_seq_length < 3 {
        return Err(HeadsError::data(
            path,
            None,
            format!(
                "max_seq_length {max_seq_length} leaves no room for a word beside [CLS] and [SEP]"
            ),
        ));
    }
    let capacity = max_seq_length - 2;
    let mut data = TaggingData {
        inputs: Vec::new(),
        labels: Vec::new(),
        word_starts: Vec::new(),
        windows: Vec::new(),
        gold: Vec::new(),
        lines: Vec::new(),
    };
    for (sentence, s) in sentences.iter().enumerate() {
        let (mut pieces, mut indices) = (Vec::new(), Vec::new());
        for (w, (word, tag)) in s.tokens.iter().zip(&s.tags).enumerate() {
            let index = tags.iter().position(|t| t == tag).ok_or_else(|| {
                HeadsError::data(
                    path,
                    Some(s.line + w),
                    format!("tag {tag:?} is not one of the model's tags {tags:?}"),
                )
            })?;
            pieces.push(word_pieces(tokenizer, word, capacity)?);
            indices.push(index as i64);
        }
        let lengths: Vec<usize> = pieces.iter().map(Vec::len).collect();
        let mut spans = word_windows(&lengths, capacity);
        if spans.is_empty() {
            // A sentence without words still has its (empty) input.
            spans.push(WordWindow {
                begin: 0,
                first: 0,
                end: 0,
            });
        }
        for span in spans {
            let (ids, starts) = span.input(&pieces, special.cls, special.sep);
            let mut labels = vec![IGNORE_INDEX; ids.len()];
            for (j, &p) in starts.iter().enumerate() {
                labels[p] = indices[span.first + j];
            }
            let types = vec![0; ids.len()];
            data.inputs.push((ids, types));
            data.labels.push(labels);
            data.word_starts.push(starts);
            data.windows.push((sentence, span.first));
        }
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
    /// Predicted tag index per word of each sentence.
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
        let mut out: Vec<Vec<usize>> = data.gold.iter().map(|g| vec![0; g.len()]).collect();
        for idx in all.chunks(batch_size.max(1)) {
            progress.inc(idx.len() as u64);
            let batch = token_batch(&data.inputs, idx, pad);
            let [_, n] = batch.dims();
            let input = batch.to_input(config, device)?;
            let (_, logits) = model.forward(input, albert_core::EncoderOutputs::default());
            let am: Vec<i64> = logits.argmax(2).into_data().iter::<i64>().collect();
            for (k, &i) in idx.iter().enumerate() {
                let (sentence, first) = data.windows[i];
                for (j, &p) in data.word_starts[i].iter().enumerate() {
                    out[sentence][first + j] = usize::try_from(am[k * n + p]).unwrap_or_default();
                }
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

#[cfg(test)]
mod tests {
    use super::{WordWindow, word_windows};

    /// `word_windows` as `(begin, first, end)` triples.
    fn windows(lengths: &[usize], capacity: usize) -> Vec<(usize, usize, usize)> {
        word_windows(lengths, capacity)
            .into_iter()
            .map(|WordWindow { begin, first, end }| (begin, first, end))
            .collect()
    }

    /// Windows worked out by hand: each predicts the words after the previous one's, with as
    /// many preceding words as fit in half the capacity (and beside its first word).
    #[test]
    fn windows_cover_every_word_once_with_left_context() {
        // Capacity 4: [2, 1] | context [1], predict [3] | predict [1, 2, 1] (the 3-piece word
        // does not fit in a context of 2).
        assert_eq!(
            windows(&[2, 1, 3, 1, 2, 1], 4),
            vec![(0, 0, 2), (1, 2, 3), (3, 3, 6)]
        );
        // One piece each: four words, then two of context and two new, then two and one.
        assert_eq!(windows(&[1; 7], 4), vec![(0, 0, 4), (2, 4, 6), (4, 6, 7)]);
        // A word as long as the window: no context beside it, nor is it context itself
        // (it does not fit in half the window).
        assert_eq!(
            windows(&[1, 4, 1], 4),
            vec![(0, 0, 1), (1, 1, 2), (2, 2, 3)]
        );
        assert_eq!(windows(&[3, 2], 8), vec![(0, 0, 2)]);
        // Longer than the capacity (callers truncate first): still a window of its own.
        assert_eq!(windows(&[5, 1], 4), vec![(0, 0, 1), (1, 1, 2)]);
        assert!(windows(&[], 4).is_empty());
    }
}
