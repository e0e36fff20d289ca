//! Fine-tuning and evaluation: the tasks, each described once ([`Task`]), presets from the
//! paper's Table 14, AdamW with linear warmup and decay, global-norm clipping and gradient
//! accumulation, evaluation on dev data after every epoch or every N steps with early stopping,
//! the best model kept in Hugging Face layout (written to a temporary directory, then renamed),
//! checkpoints with digests for `--resume`, a JSONL metrics log and a predictions file.

pub mod choice;
pub mod qa;
mod run;
pub mod seqcls;
pub mod tagging;
mod task;

pub use run::{Evaluation, FinetuneSummary, FinetuneTask, RunFiles, finetune};
pub use task::{Start, Task, TaskModel, TaskRun, load_model, qa_data};

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{HeadsError, Result};

/// Training settings.
///
/// ```
/// use albert_heads::finetune::{FinetuneConfig, table14};
///
/// // The paper's Table 14 row for RTE: lr 3e-5, batch 32, 200 of 800 steps warming up.
/// let rte = table14("rte").expect("a GLUE task");
/// assert_eq!((rte.learning_rate, rte.batch_size), (3e-5, 32));
/// assert_eq!(rte.warmup_ratio, 0.25);
/// // Settings are checked before a run starts.
/// let bad = FinetuneConfig { gradient_accumulation_steps: 0, ..rte };
/// assert!(bad.validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FinetuneConfig {
    /// Tokens per sequence (specials included).
    pub max_seq_length: usize,
    /// Sequences per step.
    pub batch_size: usize,
    /// Passes over the training data.
    pub epochs: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Share of the steps spent warming up.
    pub warmup_ratio: f64,
    /// AdamW weight decay (not applied to LayerNorm and biases, as ALBERT's optimiser).
    pub weight_decay: f64,
    /// Classifier dropout.
    pub classifier_dropout: f64,
    /// Global-norm clipping (0 disables).
    pub max_grad_norm: f64,
    /// Seed of the data order, dropout and fresh parameters.
    pub seed: u64,
    /// Batches whose gradients are summed before each optimiser step (the effective batch is
    /// `batch_size × gradient_accumulation_steps`).
    #[serde(default = "one")]
    pub gradient_accumulation_steps: usize,
    /// Evaluate on the dev data (and checkpoint) every this many optimiser steps and at the
    /// end; 0: after every epoch.
    #[serde(default)]
    pub eval_steps: u64,
    /// Stop after this many evaluations in a row without a better main metric; 0: never.
    #[serde(default)]
    pub early_stopping_patience: usize,
    /// Peak learning rate of the parameters outside the ALBERT body (the task head: classifier,
    /// span or tagging layer), on the same warmup and decay; `None`: `learning_rate`. A fresh
    /// head on a pretrained body learns little at a body's learning rate in a few hundred
    /// steps (docs/finetuning.md).
    #[serde(default)]
    pub head_learning_rate: Option<f64>,
}

fn one() -> usize {
    1
}

/// The task names [`table14`] knows (it also takes `stsb` and `sst2`).
pub const PRESETS: [&str; 12] = [
    "cola", "sts-b", "sst-2", "mnli", "qnli", "qqp", "rte", "mrpc", "wnli", "squad1", "squad2",
    "race",
];

/// The paper's Table 14 per task: learning rate, batch size, classifier dropout, and warmup as
/// the share `WS / TS` of its training steps; `max_seq_length` as the paper (512; 384 for
/// SQuAD v1.1), which CPU users will want to lower.
pub fn table14(task: &str) -> Option<FinetuneConfig> {
    let (lr, bsz, ts, ws, msl) = match task {
        "cola" => (1e-5, 16, 5336.0, 320.0, 512),
        "sts-b" | "stsb" => (2e-5, 16, 3598.0, 214.0, 512),
        "sst-2" | "sst2" => (1e-5, 32, 20935.0, 1256.0, 512),
        "mnli" => (3e-5, 128, 10000.0, 1000.0, 512),
        "qnli" => (1e-5, 32, 33112.0, 1986.0, 512),
        "qqp" => (5e-5, 128, 14000.0, 1000.0, 512),
        "rte" => (3e-5, 32, 800.0, 200.0, 512),
        "mrpc" => (2e-5, 32, 800.0, 200.0, 512),
        "wnli" => (2e-5, 16, 2000.0, 250.0, 512),
        "squad1" => (5e-5, 48, 3649.0, 365.0, 384),
        "squad2" => (3e-5, 48, 8144.0, 814.0, 512),
        "race" => (2e-5, 32, 12000.0, 1000.0, 512),
        _ => return None,
    };
    Some(FinetuneConfig {
        max_seq_length: msl,
        batch_size: bsz,
        epochs: 3,
        learning_rate: lr,
        warmup_ratio: ws / ts,
        weight_decay: 0.01,
        classifier_dropout: 0.1,
        max_grad_norm: 1.0,
        seed: 42,
        gradient_accumulation_steps: 1,
        eval_steps: 0,
        early_stopping_patience: 0,
        head_learning_rate: None,
    })
}

impl Default for FinetuneConfig {
    /// Generic classification defaults (SST-2's row of Table 14 at 128 tokens).
    fn default() -> Self {
        Self {
            max_seq_length: 128,
            ..table14("sst-2").unwrap_or_else(|| unreachable!("sst-2 is in the table"))
        }
    }
}

impl FinetuneConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(HeadsError::Head(m));
        if self.batch_size == 0 || self.epochs == 0 || self.gradient_accumulation_steps == 0 {
            return bad(
                "batch size, epochs and gradient accumulation steps must be at least 1".into(),
            );
        }
        if self.max_seq_length < 8 {
            return bad(format!(
                "max_seq_length {} is too small",
                self.max_seq_length
            ));
        }
        let head_lr = self.head_learning_rate.unwrap_or(self.learning_rate);
        if self.learning_rate.is_nan()
            || self.learning_rate <= 0.0
            || head_lr.is_nan()
            || head_lr <= 0.0
            || !(0.0..1.0).contains(&self.warmup_ratio)
        {
            return bad("learning rates must be > 0 and the warmup ratio in [0, 1)".into());
        }
        if !(0.0..1.0).contains(&self.classifier_dropout)
            || self.weight_decay.is_nan()
            || self.weight_decay < 0.0
            || self.max_grad_norm.is_nan()
            || self.max_grad_norm < 0.0
        {
            return bad(
                "classifier dropout must be in [0, 1), weight decay and max gradient norm >= 0"
                    .into(),
            );
        }
        Ok(())
    }
}

/// The rows `idx` of `(ids, token types)` padded to the longest with `pad`, with the padding
/// mask.
pub fn token_batch(
    inputs: &[(Vec<u32>, Vec<u32>)],
    idx: &[usize],
    pad: u32,
) -> albert_core::TokenBatch {
    let n = idx.iter().map(|&i| inputs[i].0.len()).max().unwrap_or(0);
    let row = |v: &[u32], fill: u32| -> Vec<i64> {
        let mut r: Vec<i64> = v.iter().map(|&x| i64::from(x)).collect();
        r.resize(n, i64::from(fill));
        r
    };
    albert_core::TokenBatch {
        input_ids: idx.iter().map(|&i| row(&inputs[i].0, pad)).collect(),
        token_type_ids: Some(idx.iter().map(|&i| row(&inputs[i].1, 0)).collect()),
        attention_mask: Some(
            idx.iter()
                .map(|&i| {
                    let mut m = vec![1i64; inputs[i].0.len()];
                    m.resize(n, 0);
                    m
                })
                .collect(),
        ),
    }
}

/// Appends one JSON object per line to `path`.
pub(crate) fn append_jsonl(path: &Path, value: &serde_json::Value) -> Result<()> {
    let err = |e: std::io::Error| HeadsError::data(path, None, e.to_string());
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    writeln!(f, "{value}").map_err(err)
}

/// Writes `value` as pretty JSON, atomically.
pub fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| HeadsError::Head(e.to_string()))?;
    albert_core::io::write_atomic(path, text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_a_table_row() {
        for p in PRESETS {
            let c = table14(p).unwrap_or_else(|| panic!("{p}"));
            c.validate().unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        assert_eq!(table14("stsb"), table14("sts-b"));
        assert_eq!(table14("rte").map(|c| c.learning_rate), Some(3e-5));
        assert!(table14("imdb").is_none());
    }
}
