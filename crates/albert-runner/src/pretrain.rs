//! `albert pretrain`: runs `albert_pretrain::train::pretrain` on the device(s) named in the config
//! (or `--device`; a comma-separated list trains data-parallel), with progress on stderr.

use std::path::{Path, PathBuf};

use albert_pretrain::train::{PretrainConfig, TrainOptions, pretrain};
use clap::Args;

use crate::device::devices;
use crate::error::Result;

/// `albert pretrain`: pretrain ALBERT (MLM + SOP, LAMB) from a TOML config; everything is
/// written under --out.
#[derive(Debug, Clone, Args)]
pub struct PretrainArgs {
    /// The run's TOML config (model, data, instances, optimizer, schedule, run).
    #[arg(long)]
    pub config: PathBuf,
    /// Output directory: checkpoints, metrics.jsonl, curves.svg, model/ (HF layout).
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from the latest checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
    /// Override [run] steps.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Override [run] device: cpu, wgpu, cuda, remote:ws://HOST:PORT, or a comma-separated
    /// list of them (data-parallel replicas).
    #[arg(long)]
    pub device: Option<String>,
    /// Override [run] precision: fp32, bf16 or fp16 (bf16/half operands of the products, f32
    /// accumulation; weights, gradients, optimiser state and checkpoints stay f32).
    #[arg(long, value_parser = crate::device::precision_parser())]
    pub precision: Option<albert_core::precision::Precision>,
}

impl PretrainArgs {
    /// Runs or resumes the pretraining run.
    pub fn run(&self) -> Result<()> {
        let mut config = PretrainConfig::from_file(&self.config)?;
        if let Some(s) = self.steps {
            config.run.steps = s;
        }
        if let Some(d) = &self.device {
            config.run.device = d.clone();
        }
        if let Some(p) = self.precision {
            config.run.precision = p;
        }
        run(&config, &self.out, self.resume)
    }
}

/// Runs or resumes the pretraining run `config` into `out`, with progress and a summary on
/// stderr.
fn run(config: &PretrainConfig, out: &Path, resume: bool) -> Result<()> {
    let devs = devices(&config.run.device)?;
    for (d, name) in devs.iter().zip(config.run.device.split(',')) {
        crate::device::check_precision(d, name.trim(), config.run.precision)?;
    }
    let summary = pretrain(
        config,
        out,
        &devs,
        &TrainOptions {
            resume,
            progress: true,
            stop_after: None,
        },
    )?;
    if summary.sequences_per_second > 0.0 {
        eprintln!(
            "done: {} steps; data pipeline {:.0} instances/s, training {:.1} sequences/s",
            summary.steps, summary.instances_per_second, summary.sequences_per_second
        );
    } else {
        eprintln!("done: {} steps (nothing left to train)", summary.steps);
    }
    eprintln!("metrics: {}", summary.metrics_path.display());
    if let Some(c) = &summary.chart_path {
        eprintln!("chart:   {}", c.display());
    }
    if let Some(cp) = &summary.checkpoint {
        eprintln!("checkpoint: {}", cp.display());
    }
    if let Some(m) = &summary.model_dir {
        eprintln!("model (HF layout): {}", m.display());
    }
    Ok(())
}
