//! `albert tokenizer encode|train`.
//!
//! `encode` reads JSON lines `{"text": "...", "text_pair": "..." | null}` and writes one line
//! `{"input_ids", "token_type_ids", "tokens", "offsets"}` (byte offsets) per input line, in
//! order, encoding in parallel.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use albert_tokenizer::{
    AlbertTokenizer, EncodeOptions, Encoding, TrainerConfig, TruncationStrategy, train,
};
use rayon::prelude::*;
use serde::Deserialize;

use crate::error::{Result, RunnerError};

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

fn read_inputs(path: &Path) -> Result<Vec<InputLine>> {
    let file = std::fs::File::open(path).map_err(|source| RunnerError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| RunnerError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line += 1;
        let bad = |message: String| RunnerError::BadFile {
            path: path.to_path_buf(),
            message: format!("line {line}: {message}"),
        };
        let text = std::str::from_utf8(&buf).map_err(|_| bad("invalid UTF-8".into()))?;
        if text.trim().is_empty() {
            return Err(bad(
                "empty line (every line must be a JSON object with \"text\")".into(),
            ));
        }
        let parsed: InputLine = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        out.push(parsed);
    }
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
    let tok =
        AlbertTokenizer::from_path(tokenizer).map_err(|e| RunnerError::Usage(e.to_string()))?;
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
    let vocab = train(inputs, config).map_err(|e| RunnerError::Usage(e.to_string()))?;
    vocab
        .save(out)
        .map_err(|e| RunnerError::Usage(e.to_string()))?;
    eprintln!(
        "trained {} pieces on {} lines; wrote {} and {}",
        vocab.pieces.len(),
        vocab.sentences,
        out.join("spiece.model").display(),
        out.join("tokenizer.json").display()
    );
    Ok(())
}
