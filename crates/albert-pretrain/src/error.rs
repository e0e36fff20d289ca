//! The one error type of `albert-pretrain`.

use std::path::PathBuf;

/// Errors of the pretraining pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PretrainError {
    /// From the model core.
    #[error(transparent)]
    Core(#[from] albert_core::AlbertError),
    /// From the tokenizer.
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
    /// A corpus line is not UTF-8.
    #[error("{path}:{line}: invalid UTF-8")]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// The corpus cannot feed training (empty, no document with two segments, ...).
    #[error("corpus: {0}")]
    Corpus(String),
    /// A setting is out of range or inconsistent.
    #[error("invalid setting: {0}")]
    Config(String),
}

/// `Result` with [`PretrainError`].
pub type Result<T, E = PretrainError> = std::result::Result<T, E>;
