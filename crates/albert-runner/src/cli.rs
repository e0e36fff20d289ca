//! The `albert` command line: one subcommand per task, each an argument struct
//! (`#[derive(Args)]`) defined beside the code that runs it.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::device_server::DeviceServerArgs;
use crate::embed::EmbedArgs;
use crate::error::Result;
use crate::finetune::{EvaluateArgs, FinetuneArgs};
use crate::forward::ForwardArgs;
use crate::infer::{AnswerArgs, ClassifyArgs, FillMaskArgs};
use crate::info::InfoArgs;
use crate::models::ExportArgs;
use crate::pretrain::PretrainArgs;
use crate::serve::ServeArgs;
use crate::tag::TagArgs;
use crate::tokenize::TokenizerCommand;

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
    Forward(ForwardArgs),
    /// Write an HF-layout directory (config.json + model.safetensors) that `transformers`
    /// loads.
    Export(ExportArgs),
    /// Fine-tune a model directory on a task; writes the best model (HF layout), metrics.jsonl,
    /// dev_predictions.jsonl and eval.json under --out.
    Finetune(FinetuneArgs),
    /// Evaluate a fine-tuned model directory on a labelled file; prints the metrics and writes
    /// them as one flat JSON object to --out.
    Evaluate(EvaluateArgs),
    /// Classify (or score) text with a fine-tuned sequence model: one input per line (`text`,
    /// `text<TAB>pair` or `{"text", "text_pair"}`) from --input or stdin, one JSON line out per
    /// input (`{"label", "score"}`), streamed per batch.
    Classify(ClassifyArgs),
    /// Sentence vectors (mean-pooled or [CLS]) from any ALBERT model: one input per line, one
    /// JSON array out per input, streamed per batch.
    Embed(EmbedArgs),
    /// Predict the tokens at each [MASK] of a text with a pretraining or masked-LM model, as
    /// transformers' fill-mask pipeline prints them (JSON on stdout).
    FillMask(FillMaskArgs),
    /// Answer a question from a context with a SQuAD-fine-tuned model (JSON on stdout).
    Answer(AnswerArgs),
    /// Tag every word with a token-classification model: one text per line, one JSON list of
    /// `{entity, score, index, word, start, end}` out per text, streamed per batch.
    Tag(TagArgs),
    /// Pretrain ALBERT (MLM + SOP, LAMB) from a TOML config; everything is written under --out.
    Pretrain(PretrainArgs),
    /// Serve a model over HTTP/JSON (classify, fill-mask, answer, tag, embed; health and
    /// Prometheus metrics), batching concurrent requests. Runs until Ctrl+C or SIGTERM.
    Serve(ServeArgs),
    /// Host this machine's devices for other machines' `--device remote:ws://HOST:PORT`
    /// (burn's remote backend over WebSocket; needs the `remote` feature). Runs until Ctrl+C.
    DeviceServer(DeviceServerArgs),
    /// Encode text with, or train, an ALBERT SentencePiece vocabulary.
    Tokenizer {
        #[command(subcommand)]
        command: TokenizerCommand,
    },
    /// Architecture summary and parameter counts.
    Info(InfoArgs),
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

fn run_command(command: Command) -> Result<()> {
    match command {
        Command::Forward(args) => args.run(),
        Command::Export(args) => args.run(),
        Command::Finetune(args) => args.run(),
        Command::Evaluate(args) => args.run().map(|_| ()),
        Command::Classify(args) => args.run(),
        Command::Embed(args) => args.run(),
        Command::FillMask(args) => args.run(),
        Command::Answer(args) => args.run(),
        Command::Tag(args) => args.run(),
        Command::Pretrain(args) => args.run(),
        Command::Serve(args) => args.run(),
        Command::DeviceServer(args) => args.run(),
        Command::Tokenizer { command } => command.run(),
        Command::Info(args) => args.run(),
    }
}
