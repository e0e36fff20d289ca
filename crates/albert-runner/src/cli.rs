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
    /// Fine-tune a model directory on a task; writes the best model (HF layout), metrics.jsonl,
    /// dev_predictions.jsonl and eval.json under --out.
    Finetune {
        /// classification, regression, tagging, multiple-choice, squad1 or squad2.
        #[arg(long, value_enum)]
        task: crate::finetune::Task,
        /// Model directory: config.json, model.safetensors, spiece.model / tokenizer.json.
        #[arg(long)]
        model: PathBuf,
        /// Training file (GLUE-style TSV; CoNLL for tagging; RACE-style JSON for multiple-choice;
        /// SQuAD JSON for squad1/squad2).
        #[arg(long)]
        train: PathBuf,
        /// Dev file, evaluated after every epoch.
        #[arg(long)]
        dev: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Defaults from the paper's Table 14 row: cola, sst-2, mrpc, sts-b, qqp, mnli, qnli, rte, wnli.
        #[arg(long)]
        preset: Option<String>,
        /// Epochs (default 3).
        #[arg(long)]
        epochs: Option<usize>,
        /// Sequences per step.
        #[arg(long)]
        batch_size: Option<usize>,
        /// Peak learning rate.
        #[arg(long)]
        learning_rate: Option<f64>,
        /// Tokens per sequence (default 128; presets use the paper's 512).
        #[arg(long)]
        max_seq_length: Option<usize>,
        /// pretrained (the directory's weights) or random (same shapes, fresh weights).
        #[arg(long, value_enum, default_value = "pretrained")]
        init: crate::finetune::Init,
        /// Seed of the data order and fresh parameters.
        #[arg(long)]
        seed: Option<u64>,
        /// cpu (flex), wgpu or cuda.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Evaluate a fine-tuned model directory on a labelled file; prints the metrics and writes
    /// them as one flat JSON object to --out.
    Evaluate {
        /// classification, regression, tagging, multiple-choice, squad1 or squad2.
        #[arg(long, value_enum)]
        task: crate::finetune::Task,
        /// Model directory.
        #[arg(long)]
        model: PathBuf,
        /// Labelled data (GLUE-style TSV; CoNLL for tagging; RACE-style JSON for multiple-choice;
        /// SQuAD JSON for squad1/squad2).
        #[arg(long)]
        data: PathBuf,
        /// Metrics JSON to write.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Sequences per batch.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Tokens per sequence.
        #[arg(long, default_value_t = 128)]
        max_seq_length: usize,
        /// cpu (flex), wgpu or cuda.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Classify (or score) text with a fine-tuned sequence model: one input per line (`text` or
    /// `text<TAB>pair`) from --input or stdin, one JSON line out per input.
    Classify {
        /// Model directory written by `albert finetune` (or an HF classifier).
        #[arg(long)]
        model: PathBuf,
        /// Input file (default: stdin).
        #[arg(long)]
        input: Option<PathBuf>,
        /// Sequences per batch.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Tokens per sequence.
        #[arg(long, default_value_t = 128)]
        max_seq_length: usize,
        /// cpu (flex), wgpu or cuda.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Predict the tokens at each [MASK] of a text with a pretraining model (JSON on stdout).
    FillMask {
        /// Model directory with an `AlbertForPreTraining` checkpoint (a pretraining run's `model/`).
        #[arg(long)]
        model: PathBuf,
        /// Text with one or more `[MASK]`.
        #[arg(long)]
        text: String,
        /// Candidates per mask.
        #[arg(long, default_value_t = 5)]
        top_k: usize,
        /// cpu (flex), wgpu or cuda.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Answer a question from a context with a SQuAD-fine-tuned model (JSON on stdout).
    Answer {
        /// Model directory written by `albert finetune --task squad1|squad2`.
        #[arg(long)]
        model: PathBuf,
        /// The question.
        #[arg(long)]
        question: String,
        /// The context passage.
        #[arg(long)]
        context: String,
        /// Tokens per window.
        #[arg(long, default_value_t = 384)]
        max_seq_length: usize,
        /// cpu (flex), wgpu or cuda.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Pretrain ALBERT (MLM + SOP, LAMB) from a TOML config; everything is written under --out.
    Pretrain {
        /// The run's TOML config (model, data, instances, optimizer, schedule, run).
        #[arg(long)]
        config: PathBuf,
        /// Output directory: checkpoints, metrics.jsonl, curves.svg, model/ (HF layout).
        #[arg(long)]
        out: PathBuf,
        /// Continue from the latest checkpoint in --out.
        #[arg(long)]
        resume: bool,
        /// Override [run] steps.
        #[arg(long)]
        steps: Option<u64>,
        /// Override [run] device: cpu, wgpu, cuda, remote:ws://HOST:PORT, or a comma-separated
        /// list of them (data-parallel replicas).
        #[arg(long)]
        device: Option<String>,
    },
    /// Host this machine's devices for other machines' `--device remote:ws://HOST:PORT`
    /// (burn's remote backend over WebSocket; needs the `remote` feature). Runs until Ctrl+C.
    Serve {
        /// TCP port to listen on.
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Address to listen on (0.0.0.0: every IPv4 interface; 127.0.0.1: this machine only).
        #[arg(long, default_value = "0.0.0.0")]
        bind: String,
        /// The devices to host, comma-separated (clients pick one with `#N`): cpu, wgpu:N, cuda:N.
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Accept only clients presenting this token (clients set ALBERT_REMOTE_TOKEN). The
        /// WebSocket transport is unencrypted: use it on a trusted network.
        #[arg(long, env = "ALBERT_REMOTE_TOKEN")]
        token: Option<String>,
    },
    /// Encode text with, or train, an ALBERT SentencePiece vocabulary.
    Tokenizer {
        #[command(subcommand)]
        command: TokenizerCommand,
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

#[derive(Debug, Subcommand)]
enum TokenizerCommand {
    /// Encode JSON lines `{"text": ..., "text_pair": ...|null}` into JSON lines
    /// `{"input_ids", "token_type_ids", "tokens", "offsets"}` (byte offsets), in order.
    Encode {
        /// A spiece.model (native, HF-slow behaviour), a tokenizer.json (HF-fast behaviour), or a
        /// directory holding one (spiece.model preferred).
        #[arg(long)]
        tokenizer: PathBuf,
        /// Input JSON lines.
        #[arg(long)]
        input: PathBuf,
        /// Output JSON lines.
        #[arg(long)]
        out: PathBuf,
        /// Truncate to this many tokens, specials included.
        #[arg(long)]
        max_length: Option<usize>,
        /// longest-first, only-first or only-second.
        #[arg(long, default_value = "longest-first")]
        truncation: String,
        /// Pad every encoding to this many tokens.
        #[arg(long)]
        pad_to: Option<usize>,
    },
    /// Train a unigram vocabulary with ALBERT's recipe; writes spiece.model and tokenizer.json.
    Train {
        /// Corpus files (plain text or .gz, one sentence or paragraph per line).
        #[arg(long, required = true, num_args = 1..)]
        input: Vec<PathBuf>,
        /// Vocabulary size, special and user-defined symbols included.
        #[arg(long, default_value_t = 30000)]
        vocab_size: usize,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Share of character occurrences the alphabet covers.
        #[arg(long, default_value_t = 0.99995)]
        character_coverage: f64,
        /// Use at most this many lines (sampled with --seed).
        #[arg(long, default_value_t = 10_000_000)]
        max_sentences: usize,
        /// Seed of the line sampling.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// No progress output.
        #[arg(long)]
        quiet: bool,
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
        Command::Finetune {
            task,
            model,
            train,
            dev,
            out,
            preset,
            epochs,
            batch_size,
            learning_rate,
            max_seq_length,
            init,
            seed,
            device,
        } => crate::finetune::finetune(&crate::finetune::FinetuneArgs {
            task,
            model,
            train,
            dev,
            out,
            preset,
            epochs,
            batch_size,
            learning_rate,
            max_seq_length,
            init,
            device,
            seed,
        }),
        Command::Evaluate {
            task,
            model,
            data,
            out,
            batch_size,
            max_seq_length,
            device,
        } => crate::finetune::evaluate(
            task,
            &model,
            &data,
            out.as_deref(),
            batch_size,
            max_seq_length,
            &device,
        )
        .map(|_| ()),
        Command::Classify {
            model,
            input,
            batch_size,
            max_seq_length,
            device,
        } => {
            let n = crate::infer::classify(
                &model,
                input.as_deref(),
                batch_size,
                max_seq_length,
                &device,
            )?;
            eprintln!("classified {n} inputs");
            Ok(())
        }
        Command::FillMask {
            model,
            text,
            top_k,
            device,
        } => {
            println!(
                "{}",
                crate::infer::fill_mask(&model, &text, top_k, &device)?
            );
            Ok(())
        }
        Command::Answer {
            model,
            question,
            context,
            max_seq_length,
            device,
        } => {
            let a = crate::infer::answer(&model, &question, &context, max_seq_length, &device)?;
            println!("{a}");
            Ok(())
        }
        Command::Pretrain {
            config,
            out,
            resume,
            steps,
            device: device_name,
        } => crate::pretrain::run(&config, &out, resume, steps, device_name.as_deref()),
        Command::Serve {
            port,
            bind,
            device,
            token,
        } => crate::serve::run(&bind, port, &device, token.as_deref()),
        Command::Tokenizer { command } => match command {
            TokenizerCommand::Encode {
                tokenizer,
                input,
                out,
                max_length,
                truncation,
                pad_to,
            } => {
                let strategy = crate::tokenize::truncation_strategy(&truncation)?;
                let options = albert_tokenizer::EncodeOptions {
                    truncation: max_length.map(|n| (n, strategy)),
                    padding: pad_to.map(albert_tokenizer::Padding::Fixed),
                };
                let n = crate::tokenize::encode(&tokenizer, &input, &out, &options)?;
                eprintln!("encoded {n} lines into {}", out.display());
                Ok(())
            }
            TokenizerCommand::Train {
                input,
                vocab_size,
                out,
                character_coverage,
                max_sentences,
                seed,
                quiet,
            } => {
                let config = albert_tokenizer::TrainerConfig {
                    vocab_size,
                    character_coverage,
                    max_sentences,
                    seed,
                    show_progress: !quiet,
                    ..albert_tokenizer::TrainerConfig::default()
                };
                crate::tokenize::train_vocabulary(&input, &config, &out)
            }
        },
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
