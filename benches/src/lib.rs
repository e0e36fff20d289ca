//! Benchmarks: the scenarios (model sizes × batch shapes × inference / training step), their
//! timing and JSON records, the machine's measured FMA peak, and helpers for the criterion
//! benchmarks in `benches/benches/`.
//!
//! - `cargo bench -p albert-benches --bench model` / `--bench tokenizer` / `--bench instances`
//!   (criterion);
//! - the `albert-bench` binary measures one scenario per process for `cargo xtask bench`, which
//!   interleaves it with `benches/pytorch_bench.py` and writes the report;
//! - `albert-bench serve` loads `albert serve` on 127.0.0.1 ([`serve`], `cargo xtask bench --suite serve`).
//!
//! The tokenizer benchmarks read the team's corpora from `../shared/data/pretrain` (or
//! `$ALBERT_SHARED_DIR/data/pretrain`).

use std::path::{Path, PathBuf};

pub use albert_testdata::shared_dir;
use albert_tokenizer::lines::read_lines;

pub mod measure;
pub mod peak;
pub mod scenario;
pub mod serve;

/// The repository root.
pub fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Non-empty lines of the pretraining corpora (every file, sorted by name, `.gz` decompressed),
/// up to `max_bytes` of text in total.
pub fn pretrain_lines(max_bytes: usize) -> Vec<String> {
    let dir = shared_dir().join("data/pretrain");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut lines = Vec::new();
    let mut total = 0;
    for f in files {
        let text = read_lines(&f).unwrap_or_else(|e| panic!("{e}"));
        for line in text {
            if total >= max_bytes {
                return lines;
            }
            total += line.len() + 1;
            lines.push(line);
        }
    }
    lines
}
