//! `albert embed`: sentence vectors from a model's body, as sentence-transformers' ALBERT models
//! compute them (mean of the last hidden states over the real tokens, or the `[CLS]` state).

use std::path::{Path, PathBuf};

use albert_core::checkpoint::MissingPolicy;
use albert_core::{AlbertForPreTraining, EncoderOutputs};
use albert_heads::finetune::token_batch;
use clap::{Args, ValueEnum};

use crate::error::Result;
use crate::finetune::{first_device, load_model, model_dir};
use crate::infer::{stream_inputs, truncating, write_lines};

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
    // Only the body is used: heads (and the pooler) may be absent.
    let m = load_model(
        &dir,
        &device,
        AlbertForPreTraining::new,
        MissingPolicy::Unused(&["sop_classifier.", "albert.pooler.", "predictions."]),
    )?;
    let options = truncating(max_seq_length, config);
    let pad = dir.tokenizer.special_ids().pad;
    stream_inputs(input, batch_size, |rows| {
        let inputs: Vec<(Vec<u32>, Vec<u32>)> = dir
            .tokenizer
            .encode_batch(rows, &options)?
            .into_iter()
            .map(|e| (e.ids, e.type_ids))
            .collect();
        let all: Vec<usize> = (0..inputs.len()).collect();
        let batch = token_batch(&inputs, &all, pad); // right-padded, with the attention mask
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
                    // The real tokens are the first ones (right padding).
                    let real = inputs[row].0.len();
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
            serde_json::json!(v)
        });
        write_lines(vectors)
    })
}
