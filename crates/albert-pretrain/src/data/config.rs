//! [`DataConfig`]: how pretraining instances are made (the flags of the original
//! `create_pretraining_data.py`, with its defaults, plus what it could not do).

use serde::{Deserialize, Serialize};

use crate::error::{PretrainError, Result};

/// The sentence-level objective the pairs are built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SentenceTask {
    /// Sentence-order prediction (ALBERT): two consecutive segments, swapped half the time
    /// (label 0 = in order, 1 = swapped).
    Sop,
    /// Next-sentence prediction (BERT; the paper's ablation): half the time segment B comes
    /// from another document (label 1 = random next).
    Nsp,
    /// No sentence-level objective: pairs are kept in order (label 0) and the loss ignores them.
    None,
}

/// What to do with a document chunk made of a single segment, which cannot be split into A
/// and B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SingleChunkPolicy {
    /// As the original: B comes from a random other document and the label is 1 (in SOP mode
    /// that makes these NSP-style negatives labelled "swapped").
    RandomNext,
    /// Drop the chunk.
    Skip,
}

/// How masks are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Masking {
    /// Fresh pairs and masks every epoch (RoBERTa-style dynamic masking).
    Dynamic,
    /// The original's static data: `dupe_factor` fixed versions, cycled through epochs.
    Static {
        /// Number of fixed versions of the data.
        dupe_factor: u32,
    },
}

/// Instance-creation settings. Defaults are the original's (`max_seq_length` 512, short 0.1,
/// masked 0.15, 20 predictions, 3-grams favouring short ones, whole-word masking, SOP).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Tokens per instance, `[CLS]`/`[SEP]` included.
    pub max_seq_length: usize,
    /// Share of documents whose target length is drawn uniformly from `2..=max-3`.
    pub short_seq_prob: f64,
    /// Share of tokens to mask.
    pub masked_lm_prob: f64,
    /// At most this many masked positions per instance.
    pub max_predictions_per_seq: usize,
    /// Longest masked n-gram (in words).
    pub ngram: usize,
    /// `p(n) ∝ 1/n` (else `∝ 1/(ngram+1-n)`).
    pub favor_shorter_ngram: bool,
    /// Mask whole words (a word = a piece starting with `▁` and the pieces after it).
    pub whole_word_mask: bool,
    /// Sentence-level objective.
    pub sentence_task: SentenceTask,
    /// Single-segment chunks.
    pub single_chunk: SingleChunkPolicy,
    /// Split paragraph lines into sentences before building segments.
    pub split_sentences: bool,
    /// Dynamic or static masking.
    pub masking: Masking,
    /// Seed of everything random in instance creation.
    pub seed: u64,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            max_seq_length: 512,
            short_seq_prob: 0.1,
            masked_lm_prob: 0.15,
            max_predictions_per_seq: 20,
            ngram: 3,
            favor_shorter_ngram: true,
            whole_word_mask: true,
            sentence_task: SentenceTask::Sop,
            single_chunk: SingleChunkPolicy::RandomNext,
            split_sentences: true,
            masking: Masking::Dynamic,
            seed: 12345,
        }
    }
}

impl DataConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        let err = |m: String| Err(PretrainError::Config(m));
        if self.max_seq_length < 5 {
            return err(format!(
                "max_seq_length {} is too small (at least 5)",
                self.max_seq_length
            ));
        }
        for (name, p) in [
            ("short_seq_prob", self.short_seq_prob),
            ("masked_lm_prob", self.masked_lm_prob),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return err(format!("{name} {p} is not in [0, 1]"));
            }
        }
        if self.ngram == 0 {
            return err("ngram must be at least 1".into());
        }
        if let Masking::Static { dupe_factor: 0 } = self.masking {
            return err("dupe_factor must be at least 1".into());
        }
        Ok(())
    }
}
