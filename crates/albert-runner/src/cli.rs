//! The `albert` command line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use albert_core::HfConfig;
use albert_core::checkpoint::{MissingPolicy, write_safetensors};
use albert_heads::HeadKind;
use clap::{Parser, Subcommand};

use crate::device::{device, probe};
use crate::error::Result;
use crate::forward::{ForwardOptions, run};
use crate::info::info;
use crate::inputs::ReferenceInputs;
use crate::models::AnyModel;

/// ALBERT in Rust on burn: load, run, export and inspect models.
#[derive(Debug, Parser)]
#[command(name = "albert", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a model over an `albert-reference-inputs/1` file and write every output as
    /// float32 safetensors, named as the HF reference fixtures name them.
    Forward {
        /// HF `config.json`.
        #[arg(long)]
        config: PathBuf,
        /// Safetensors weights; repeat to combine (later files add to or replace earlier ones).
        #[arg(long, required = true)]
        weights: Vec<PathBuf>,
        /// Which model: pretraining, seqcls, tokcls, qa or mc.
        #[arg(long)]
        head: String,
        /// The inputs file.
        #[arg(long)]
        inputs: PathBuf,
        /// Where to write the outputs.
        #[arg(long)]
        out: PathBuf,
        /// cpu (flex), wgpu or cuda.
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Batches to run light: no per-layer tensors, no full MLM logits. Repeatable.
        #[arg(long)]
        light: Vec<String>,
    },
    /// Write an HF-layout directory (config.json + model.safetensors) that `transformers`
    /// loads.
    Export {
        /// HF `config.json`.
        #[arg(long)]
        config: PathBuf,
        /// Safetensors weights; repeat to combine.
        #[arg(long, required = true)]
        weights: Vec<PathBuf>,
        /// The output directory.
        #[arg(long)]
        out: PathBuf,
        /// Which model (default: the config's `architectures`, else pretraining).
        #[arg(long)]
        head: Option<String>,
    },
    /// Architecture summary and parameter counts.
    Info {
        /// HF `config.json`, or a preset name (albert-base-v2, albert-xxlarge-v1, ...).
        #[arg(long)]
        config: String,
        /// Weights to check against the config (optional).
        #[arg(long)]
        weights: Vec<PathBuf>,
        /// Which model (default: the config's `architectures`, else pretraining).
        #[arg(long)]
        head: Option<String>,
        /// Cross-layer sharing: all, attention, ffn or none (the paper's Table 4).
        #[arg(long)]
        sharing: Option<String>,
    },
}

/// Parses the command line, runs it, and maps errors to exit code 1 with the message on
/// stderr.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run_command(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The head named by `--head`, else by the config's `architectures`, else pretraining.
pub fn resolve_head(head: Option<&str>, hf: &HfConfig) -> Result<HeadKind> {
    if let Some(h) = head {
        return Ok(HeadKind::parse(h)?);
    }
    Ok(hf
        .architectures
        .iter()
        .find_map(|a| HeadKind::from_architecture(a))
        .unwrap_or(HeadKind::Pretraining))
}

fn read_config(path: &Path) -> Result<HfConfig> {
    Ok(HfConfig::from_file(path)?)
}

fn run_command(command: Command) -> Result<()> {
    match command {
        Command::Forward {
            config,
            weights,
            head,
            inputs,
            out,
            device: device_name,
            light,
        } => {
            let hf = read_config(&config)?;
            let kind = HeadKind::parse(&head)?;
            let device = device(&device_name)?;
            probe(&device, &device_name)?;
            let inputs = ReferenceInputs::from_file(&inputs)?;
            let (model, report) =
                AnyModel::load(kind, &hf, &weights, MissingPolicy::Error, &device)?;
            eprint!("{report}");
            let options = ForwardOptions {
                light: light.into_iter().collect::<BTreeSet<_>>(),
            };
            let tensors = run(&model, &hf.config, &inputs, &options, &device)?;
            write_safetensors(&out, &tensors, None)?;
            eprintln!("wrote {} tensors to {}", tensors.len(), out.display());
            Ok(())
        }
        Command::Export {
            config,
            weights,
            out,
            head,
        } => {
            let hf = read_config(&config)?;
            let kind = resolve_head(head.as_deref(), &hf)?;
            let device = device("cpu")?;
            let (model, report) =
                AnyModel::load(kind, &hf, &weights, MissingPolicy::Error, &device)?;
            eprint!("{report}");
            let n = model.export(&hf, &out)?;
            eprintln!(
                "wrote {} ({n} tensors) and config.json to {}",
                kind.hf_architecture(),
                out.display()
            );
            Ok(())
        }
        Command::Info {
            config,
            weights,
            head,
            sharing,
        } => {
            let text = info(&config, &weights, head.as_deref(), sharing.as_deref())?;
            print!("{text}");
            Ok(())
        }
    }
}
