//! `albert pretrain`: runs `albert_pretrain::train::pretrain` on the device(s) named in the config
//! (or `--device`; a comma-separated list trains data-parallel), with progress on stderr.

use std::path::Path;

use albert_pretrain::train::{PretrainConfig, TrainOptions, pretrain};

use crate::device::devices;
use crate::error::Result;

/// Runs or resumes a pretraining run.
pub fn run(
    config_path: &Path,
    out: &Path,
    resume: bool,
    steps: Option<u64>,
    device_name: Option<&str>,
) -> Result<()> {
    let mut config = PretrainConfig::from_file(config_path)?;
    if let Some(s) = steps {
        config.run.steps = s;
    }
    if let Some(d) = device_name {
        config.run.device = d.to_string();
    }
    let devs = devices(&config.run.device)?;
    let summary = pretrain(
        &config,
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
