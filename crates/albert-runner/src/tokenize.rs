//! `albert tokenizer encode|train`.
//!
//! `encode` reads JSON lines `{"text": "...", "text_pair": "..." | null}` and writes one line
//! `{"input_ids", "token_type_ids", "tokens", "offsets"}` (byte offsets) per input line, in
//! order, encoding in parallel.

use std::io::Write;
use std::path::{Path, PathBuf};

use albert_tokenizer::lines::for_each_line;
use albert_tokenizer::{
    AlbertTokenizer, EncodeOptions, Encoding, TrainerConfig, TruncationStrategy, train,
};
use clap::{Args, Subcommand};
use rayon::prelude::*;
use serde::Deserialize;

use crate::error::{Result, RunnerError};

/// `albert tokenizer`: encode text with, or train, an ALBERT SentencePiece vocabulary.
#[derive(Debug, Clone, Subcommand)]
pub enum TokenizerCommand {
    /// Encode JSON lines `{"text": ..., "text_pair": ...|null}` into JSON lines
    /// `{"input_ids", "token_type_ids", "tokens", "offsets"}` (byte offsets), in order.
    Encode(EncodeArgs),
    /// Train a unigram vocabulary with ALBERT's recipe; writes spiece.model and tokenizer.json.
    Train(TrainArgs),
}

impl TokenizerCommand {
    /// Runs the subcommand.
    pub fn run(&self) -> Result<()> {
        match self {
            TokenizerCommand::Encode(args) => args.run(),
            TokenizerCommand::Train(args) => args.run(),
        }
    }
}

/// `albert tokenizer encode`.
#[derive(Debug, Clone, Args)]
pub struct EncodeArgs {
    /// A spiece.model (native, HF-slow behaviour), a tokenizer.json (HF-fast behaviour), or a
    /// directory holding one (spiece.model preferred).
    #[arg(long)]
    pub tokenizer: PathBuf,
    /// Input JSON lines.
    #[arg(long)]
    pub input: PathBuf,
    /// Output JSON lines.
    #[arg(long)]
    pub out: PathBuf,
    /// Truncate to this many tokens, specials included (`--max-length` is an old spelling).
    #[arg(long = "max-seq-length", alias = "max-length")]
    pub max_length: Option<usize>,
    /// longest-first, only-first or only-second.
    #[arg(long, default_value = "longest-first",
          value_parser = ["longest-first", "only-first", "only-second"])]
    pub truncation: String,
    /// Pad every encoding to this many tokens.
    #[arg(long)]
    pub pad_to: Option<usize>,
}

impl EncodeArgs {
    /// Runs `albert tokenizer encode`.
    pub fn run(&self) -> Result<()> {
        let strategy = truncation_strategy(&self.truncation)?;
        let options = EncodeOptions {
            truncation: self.max_length.map(|n| (n, strategy)),
            padding: self.pad_to.map(albert_tokenizer::Padding::Fixed),
        };
        let n = encode(&self.tokenizer, &self.input, &self.out, &options)?;
        eprintln!("encoded {n} lines into {}", self.out.display());
        Ok(())
    }
}

/// `albert tokenizer train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Corpus files (plain text or .gz, one sentence or paragraph per line).
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Vocabulary size, special and user-defined symbols included.
    #[arg(long, default_value_t = 30000)]
    pub vocab_size: usize,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Share of character occurrences the alphabet covers.
    #[arg(long, default_value_t = 0.99995)]
    pub character_coverage: f64,
    /// Use at most this many lines (sampled with --seed).
    #[arg(long, default_value_t = 10_000_000)]
    pub max_sentences: usize,
    /// Seed of the line sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
}

impl TrainArgs {
    /// Runs `albert tokenizer train`.
    pub fn run(&self) -> Result<()> {
        let config = TrainerConfig {
            vocab_size: self.vocab_size,
            character_coverage: self.character_coverage,
            max_sentences: self.max_sentences,
            seed: self.seed,
            show_progress: !self.quiet,
            ..TrainerConfig::default()
        };
        train_vocabulary(&self.input, &config, &self.out)
    }
}

#[derive(Debug, Deserialize)]
struct InputLine {
    text: String,
    #[serde(default)]
    text_pair: Option<String>,
}

/// Parses `--truncation`.
pub fn truncation_strategy(name: &str) -> Result<TruncationStrategy> {
    match name {
        "longest-first" => Ok(TruncationStrategy::LongestFirst),
        "only-first" => Ok(TruncationStrategy::OnlyFirst),
        "only-second" => Ok(TruncationStrategy::OnlySecond),
        other => Err(RunnerError::Usage(format!(
            "unknown --truncation {other:?} (longest-first, only-first, only-second)"
        ))),
    }
}

/// The JSON lines of `path` (plain or `.gz`), every line an object with `text`.
fn read_inputs(path: &Path) -> Result<Vec<InputLine>> {
    let mut out = Vec::new();
    for_each_line(path, |line, text| {
        let bad = |message: String| RunnerError::BadFile {
            path: path.to_path_buf(),
            message: format!("line {line}: {message}"),
        };
        if text.trim().is_empty() {
            return Err(bad(
                "empty line (every line must be a JSON object with \"text\")".into(),
            ));
        }
        out.push(serde_json::from_str(text).map_err(|e| bad(e.to_string()))?);
        Ok(())
    })?;
    Ok(out)
}

fn output_line(e: &Encoding) -> serde_json::Value {
    serde_json::json!({
        "input_ids": e.ids,
        "token_type_ids": e.type_ids,
        "tokens": e.tokens,
        "offsets": e.offsets.iter().map(|&(s, t)| [s, t]).collect::<Vec<_>>(),
    })
}

/// `albert tokenizer encode`. Returns the number of lines written.
pub fn encode(
    tokenizer: &Path,
    input: &Path,
    out: &Path,
    options: &EncodeOptions,
) -> Result<usize> {
    let tok = AlbertTokenizer::from_path(tokenizer)?;
    let lines = read_inputs(input)?;
    let encoded = lines
        .par_iter()
        .enumerate()
        .map(|(i, l)| {
            tok.encode(&l.text, l.text_pair.as_deref(), options)
                .map(|e| output_line(&e).to_string())
                .map_err(|e| RunnerError::BadFile {
                    path: input.to_path_buf(),
                    message: format!("line {}: {e}", i + 1),
                })
        })
        .collect::<Result<Vec<String>>>()?;
    let tmp = albert_core::io::temporary_sibling(out);
    let write = || -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        for line in &encoded {
            w.write_all(line.as_bytes())?;
            w.write_all(b"\n")?;
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, out)
    };
    write().map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        RunnerError::Io {
            path: out.to_path_buf(),
            source,
        }
    })?;
    Ok(encoded.len())
}

/// `albert tokenizer train`.
pub fn train_vocabulary(inputs: &[PathBuf], config: &TrainerConfig, out: &Path) -> Result<()> {
    let vocab = train(inputs, config)?;
    vocab.save(out)?;
    eprintln!(
        "trained {} pieces on {} lines; wrote {} and {}",
        vocab.pieces.len(),
        vocab.sentences,
        out.join("spiece.model").display(),
        out.join("tokenizer.json").display()
    );
    Ok(())
}
