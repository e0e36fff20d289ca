//! `albert embed`: sentence vectors from a model's body, as sentence-transformers' ALBERT models
//! compute them (mean of the last hidden states over the real tokens, or the `[CLS]` state).

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::Result;
use crate::infer::{stream_inputs, write_lines};
pub use crate::pipeline::Pooling;
use crate::pipeline::{Pipeline, PipelineOptions, Task};

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
    /// Where and in which precision the model runs.
    #[command(flatten)]
    pub on: crate::device::DeviceArgs,
}

impl EmbedArgs {
    /// Runs `albert embed`.
    pub fn run(&self) -> Result<()> {
        let _precision = albert_core::precision::autocast(self.on.precision);
        let n = embed(
            &self.model,
            self.input.as_deref(),
            self.pooling,
            self.normalize,
            self.batch_size,
            self.max_seq_length,
            &self.on.device,
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
    let pipeline = Pipeline::load(
        model,
        &PipelineOptions {
            task: Some(Task::Embed),
            device: device_name.to_string(),
            precision: albert_core::precision::current(),
            batch_size,
            max_seq_length,
            ..PipelineOptions::default()
        },
    )?;
    stream_inputs(input, batch_size, |rows| {
        let vectors = pipeline.embed(rows, pooling, normalize)?;
        write_lines(vectors.into_iter().map(|v| serde_json::json!(v)))
    })
}
