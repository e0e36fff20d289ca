//! `albert embed`: sentence vectors from a model's body, as sentence-transformers' ALBERT models
//! compute them (mean of the last hidden states over the real tokens, or the `[CLS]` state).

use std::path::{Path, PathBuf};

use albert_core::checkpoint::{MissingPolicy, load_hf};
use albert_core::init::ParamInit;
use albert_core::{AlbertForPreTraining, EncoderOutputs, TokenBatch};
use clap::{Args, ValueEnum};

use crate::error::Result;
use crate::finetune::{first_device, model_dir};
use crate::infer::{stream_inputs, write_lines};

/// How token states become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pooling {
    /// The mean over the real tokens (special tokens included, padding not): sentence-transformers'
    /// default for ALBERT models.
    Mean,
    /// The `[CLS]` position's last hidden state (not the pooler's tanh layer).
    Cls,
}

/// `albert embed`: one sentence vector per input line (`text`, `text<TAB>pair` or
/// `{"text", "text_pair"}`), printed as a JSON array per line, streamed per batch.
#[derive(Debug, Clone, Args)]
pub struct EmbedArgs {
    /// Model directory (any ALBERT checkpoint: only the body is used).
    #[arg(long)]
    pub model: PathBuf,
    /// Input file (default: stdin).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// How token states become one vector.
    #[arg(long, value_enum, default_value = "mean")]
    pub pooling: Pooling,
    /// Scale every vector to unit length (for cosine similarity as a dot product).
    #[arg(long)]
    pub normalize: bool,
    /// Sequences per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Tokens per sequence (longer inputs are truncated).
    #[arg(long, default_value_t = 128)]
    pub max_seq_length: usize,
    /// cpu (flex), wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Precision of the matrix products: fp32, or bf16 (bf16 operands, f32 accumulation;
    /// LayerNorm, softmax, GELU and the weights stay f32).
    #[arg(long, default_value = "fp32", value_parser = crate::device::precision_parser())]
    pub precision: albert_core::precision::Precision,
}

impl EmbedArgs {
    /// Runs `albert embed`.
    pub fn run(&self) -> Result<()> {
        let _precision = albert_core::precision::autocast(self.precision);
        let n = embed(
            &self.model,
            self.input.as_deref(),
            self.pooling,
            self.normalize,
            self.batch_size,
            self.max_seq_length,
            &self.device,
        )?;
        eprintln!("embedded {n} inputs");
        Ok(())
    }
}

/// Sentence vectors of the inputs in `input` (stdin when `None`), one JSON array per line on
/// stdout; returns how many.
pub fn embed(
    model: &Path,
    input: Option<&Path>,
    pooling: Pooling,
    normalize: bool,
    batch_size: usize,
    max_seq_length: usize,
    device_name: &str,
) -> Result<usize> {
    let dir = model_dir(model)?;
    let device = first_device(device_name)?;
    let config = &dir.hf.config;
    let fresh = AlbertForPreTraining::new(
        config,
        &mut ParamInit::new(0, config.initializer_range),
        &device,
    );
    // Only the body is used: heads (and the pooler) may be absent.
    let (m, _) = load_hf(
        fresh,
        std::slice::from_ref(&dir.weights),
        MissingPolicy::Unused(&["sop_classifier.", "albert.pooler.", "predictions."]),
    )?;
    let max_len = max_seq_length.min(config.max_position_embeddings);
    let options = albert_tokenizer::EncodeOptions {
        truncation: Some((max_len, albert_tokenizer::TruncationStrategy::LongestFirst)),
        padding: None,
    };
    let pad = i64::from(dir.tokenizer.special_ids().pad);
    stream_inputs(input, batch_size, |rows| {
        let encodings = dir.tokenizer.encode_batch(rows, &options)?;
        let longest = encodings.iter().map(|e| e.ids.len()).max().unwrap_or(0);
        let padded = |v: &[u32], fill: i64| -> Vec<i64> {
            let mut r: Vec<i64> = v.iter().map(|&x| i64::from(x)).collect();
            r.resize(longest, fill);
            r
        };
        let mask: Vec<Vec<i64>> = encodings
            .iter()
            .map(|e| padded(&vec![1; e.ids.len()], 0))
            .collect();
        let batch = TokenBatch {
            input_ids: encodings.iter().map(|e| padded(&e.ids, pad)).collect(),
            token_type_ids: Some(encodings.iter().map(|e| padded(&e.type_ids, 0)).collect()),
            attention_mask: Some(mask.clone()),
        };
        let states = m
            .albert
            .forward(batch.to_input(config, &device)?, EncoderOutputs::default())
            .last_hidden_state;
        let [b, n, h] = states.dims();
        let values: Vec<f32> = states.into_data().iter::<f32>().collect();
        let vectors = (0..b).map(|row| {
            let at = |t: usize| &values[(row * n + t) * h..(row * n + t + 1) * h];
            let mut v = match pooling {
                Pooling::Cls => at(0).to_vec(),
                Pooling::Mean => {
                    let real: Vec<usize> = (0..n).filter(|&t| mask[row][t] == 1).collect();
                    let mut sum = vec![0.0f32; h];
                    for &t in &real {
                        for (s, x) in sum.iter_mut().zip(at(t)) {
                            *s += x;
                        }
                    }
                    sum.iter().map(|s| s / real.len().max(1) as f32).collect()
                }
            };
            if normalize {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                v.iter_mut().for_each(|x| *x /= norm);
            }
            serde_json::json!(v)
        });
        write_lines(vectors)
    })
}
