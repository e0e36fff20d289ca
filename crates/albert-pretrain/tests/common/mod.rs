//! Test support: the team's shared folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use albert_pretrain::train::PretrainConfig;
use albert_pretrain::train::metrics::MetricsRecord;

pub use albert_testdata::shared_path;

/// The shared folder itself, when it holds `data`.
pub fn shared() -> Option<PathBuf> {
    shared_path("data").and_then(|d| d.parent().map(Path::to_path_buf))
}

/// A tiny model on `data/pretrain/sample.txt`: 12 steps of 2 × 4 sequences.
pub fn tiny_config(shared: &Path) -> PretrainConfig {
    let text = format!(
        r#"
[model]
embedding_size = 16
hidden_size = 32
num_hidden_layers = 2
num_attention_heads = 2
intermediate_size = 64
max_position_embeddings = 64

[data]
corpus = ["{corpus}"]
tokenizer = "{tokenizer}"
held_out_every = 5

[instances]
max_seq_length = 32
max_predictions_per_seq = 5

[schedule]
peak = 0.01
warmup_steps = 3
total_steps = 12

[run]
steps = 12
batch_size = 4
gradient_accumulation = 2
log_every = 2
eval_every = 4
eval_batches = 2
checkpoint_every = 4
keep_last = 2
"#,
        corpus = shared.join("data/pretrain/sample.txt").display(),
        tokenizer = shared.join("fixtures/tokenizer/spiece.model").display(),
    );
    PretrainConfig::from_toml(&text, Path::new("inline.toml")).expect("config")
}

/// The records without their wall-clock fields.
pub fn without_timing(records: &[MetricsRecord]) -> Vec<MetricsRecord> {
    records
        .iter()
        .cloned()
        .map(|mut r| {
            r.sequences_per_second = None;
            r.tokens_per_second = None;
            r
        })
        .collect()
}
