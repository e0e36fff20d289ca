//! The one error type of the runner.

use std::path::PathBuf;

/// Errors of the `albert` tool.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// From the model core.
    #[error(transparent)]
    Core(#[from] albert_core::AlbertError),
    /// From the pretraining crate.
    #[error(transparent)]
    Pretrain(#[from] albert_pretrain::PretrainError),
    /// From the heads crate.
    #[error(transparent)]
    Heads(#[from] albert_heads::HeadsError),
    /// From the tokenizer: an unreadable vocabulary or corpus, a failed training.
    #[error(transparent)]
    Tokenizer(#[from] albert_tokenizer::TokenizerError),
    /// A malformed input file.
    #[error("{path}: {message}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A device that cannot run the model: no adapter or driver, a failed self-test, a tensor
    /// that cannot be read back.
    #[error("{0}")]
    Device(String),
    /// A bad combination of options, or a backend this binary was not built with.
    #[error("{0}")]
    Usage(String),
}

/// `Result` with [`RunnerError`].
pub type Result<T, E = RunnerError> = std::result::Result<T, E>;
