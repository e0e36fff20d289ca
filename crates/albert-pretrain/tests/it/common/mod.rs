//! Test support: the team's shared folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use albert_pretrain::train::PretrainConfig;
use albert_pretrain::train::metrics::MetricsRecord;

pub use albert_testdata::shared_path;

/// The shared folder itself, when it holds `data`.
pub fn shared() -> Option<PathBuf> {
    albert_testdata::shared()
}

/// A tiny model on `data/pretrain/sample.txt`: 12 steps of 2 × 4 sequences.
pub fn tiny_config(shared: &Path) -> PretrainConfig {
    let run = albert_testdata::TinyRun {
        steps: 12,
        warmup_steps: 3,
        gradient_accumulation: 2,
        log_every: 2,
        eval_every: 4,
        eval_batches: 2,
        checkpoint_every: 4,
    };
    let text = albert_testdata::tiny_pretrain_toml(shared) + &run.toml();
    PretrainConfig::from_toml(&text, Path::new("inline.toml")).expect("config")
}

/// The records without their wall-clock fields.
pub fn without_timing(records: &[MetricsRecord]) -> Vec<MetricsRecord> {
    records.iter().map(MetricsRecord::without_timing).collect()
}

/// burn's flex CPU device with albert-kernels' fused kernels installed (as the `albert` binary
/// runs it).
pub fn cpu() -> Device {
    albert_kernels::install();
    Device::flex()
}
