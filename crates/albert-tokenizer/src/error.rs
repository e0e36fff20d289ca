//! The one error type of `albert-tokenizer`.

use std::path::PathBuf;

/// Everything that can go wrong loading, running or training a tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A model file is malformed (bad protobuf, bad charsmap, bad JSON, missing pieces).
    #[error("{path}: not a valid {what}: {message}")]
    Corrupt {
        /// The file (or a description of the source when it did not come from a file).
        path: PathBuf,
        /// What it should have been (`spiece.model`, `tokenizer.json`).
        what: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A text file is not UTF-8.
    #[error("{path}:{line}: invalid UTF-8")]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// A bad argument or combination (no model in a directory, unknown special token, ...).
    #[error("{0}")]
    Invalid(String),
    /// An error from the `tokenizers` library.
    #[error("tokenizers: {0}")]
    Library(String),
}

/// `Result` with [`TokenizerError`].
pub type Result<T, E = TokenizerError> = std::result::Result<T, E>;

impl TokenizerError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
