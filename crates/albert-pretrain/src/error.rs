//! The one error type of `albert-pretrain`.

use std::path::PathBuf;

/// Errors of the pretraining pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PretrainError {
    /// From the model core.
    #[error(transparent)]
    Core(#[from] albert_core::AlbertError),
    /// From the tokenizer, and reading corpus files (unreadable, or a line that is not UTF-8).
    #[error(transparent)]
    Tokenizer(#[from] albert_tokenizer::TokenizerError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The corpus cannot feed training (empty, no document with two segments, ...).
    #[error("corpus: {0}")]
    Corpus(String),
    /// A checkpoint is unreadable or inconsistent (a pointer to nowhere, a malformed
    /// `state.json`).
    #[error("{}: checkpoint: {message}", path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The optimiser state cannot be read or written.
    #[error("{}: optimiser state: {message}", path.display())]
    OptimizerState {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A line of the metrics log is malformed.
    #[error("{}:{line}: metrics log: {message}", path.display())]
    Metrics {
        /// The log.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A setting is out of range or inconsistent.
    #[error("invalid setting: {0}")]
    Config(String),
}

/// `Result` with [`PretrainError`].
pub type Result<T, E = PretrainError> = std::result::Result<T, E>;
