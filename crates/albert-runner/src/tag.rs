//! `albert tag`: a tag per word with a token-classification model (`albert finetune --task
//! tagging`), as transformers' token-classification pipeline gives them per word.

use std::path::PathBuf;

use clap::Args;

use crate::error::Result;
use crate::infer::{stream_lines, text_line, write_lines};
use crate::pipeline::{Pipeline, PipelineOptions, Task};

/// `albert tag`: one text per input line (plain, or `{"text": …}`), words split at whitespace;
/// one JSON line out per text: a list of `{entity, score, index, word, start, end}`, one per
/// word (character offsets), streamed per batch.
#[derive(Debug, Clone, Args)]
pub struct TagArgs {
    /// Model directory written by `albert finetune --task tagging` (or an HF
    /// `AlbertForTokenClassification`).
    #[arg(long)]
    pub model: PathBuf,
    /// Input file (default: stdin).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Texts per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Tokens per window: a longer text is tagged in windows, every word once, with up to half
    /// a window of the words before it as context (as `finetune --task tagging` splits).
    #[arg(long, default_value_t = 128)]
    pub max_seq_length: usize,
    /// Where and in which precision the model runs.
    #[command(flatten)]
    pub on: crate::device::DeviceArgs,
}

impl TagArgs {
    /// Runs `albert tag`.
    pub fn run(&self) -> Result<()> {
        let pipeline = Pipeline::load(
            &self.model,
            &PipelineOptions {
                task: Some(Task::Tag),
                device: self.on.device.clone(),
                precision: self.on.precision,
                batch_size: self.batch_size,
                max_seq_length: self.max_seq_length,
                ..PipelineOptions::default()
            },
        )?;
        let n = stream_lines(self.input.as_deref(), self.batch_size, text_line, |texts| {
            let tags = pipeline.tag(texts)?;
            write_lines(tags.into_iter().map(|t| serde_json::json!(t)))
        })?;
        eprintln!("tagged {n} texts");
        Ok(())
    }
}
