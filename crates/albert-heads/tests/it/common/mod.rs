//! Shared setup of the fine-tuning tests: a tiny model config and a quick training run.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use albert_core::{AlbertConfig, HfConfig};
use albert_heads::finetune::{FinetuneConfig, FinetuneSummary, FinetuneTask, RunFiles, finetune};
use burn::tensor::Device;

/// E = H/2, 2 layers, 2 heads, FFN 2H, 64 positions, no classifier dropout.
pub fn tiny_albert(vocab_size: usize, hidden: usize) -> AlbertConfig {
    AlbertConfig::new()
        .with_vocab_size(vocab_size)
        .with_embedding_size(hidden / 2)
        .with_hidden_size(hidden)
        .with_num_hidden_layers(2)
        .with_num_attention_heads(2)
        .with_intermediate_size(2 * hidden)
        .with_max_position_embeddings(64)
        .with_classifier_dropout_prob(0.0)
}

/// Batch 16, peak 3e-3, 10% warmup, no classifier dropout.
pub fn quick(max_seq_length: usize, epochs: usize) -> FinetuneConfig {
    FinetuneConfig {
        max_seq_length,
        batch_size: 16,
        epochs,
        learning_rate: 3e-3,
        warmup_ratio: 0.1,
        classifier_dropout: 0.0,
        ..FinetuneConfig::default()
    }
}

/// Fine-tunes on the CPU into `out`, keeping the best epoch by `accuracy`.
pub fn train<T: FinetuneTask>(
    model: T::Model,
    albert: &AlbertConfig,
    train: &T::Data,
    dev: &T::Data,
    config: &FinetuneConfig,
    spm: &PathBuf,
    out: &Path,
) -> FinetuneSummary {
    let files = RunFiles {
        out,
        tokenizer_files: std::slice::from_ref(spm),
        progress: false,
        resume: false,
    };
    finetune::<T>(
        model,
        &HfConfig::new(albert.clone()),
        train,
        dev,
        0,
        config,
        "accuracy",
        &files,
        &cpu(),
    )
    .expect("finetune")
}

/// burn's flex CPU device with albert-kernels' fused kernels installed (as the `albert` binary
/// runs it).
pub fn cpu() -> Device {
    albert_kernels::install();
    Device::flex()
}
