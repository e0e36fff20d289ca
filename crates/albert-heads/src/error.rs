//! The one error type of `albert-heads`.

/// Errors of the downstream heads.
#[derive(Debug, thiserror::Error)]
pub enum HeadsError {
    /// From the model core (config, checkpoint, input validation).
    #[error(transparent)]
    Core(#[from] albert_core::AlbertError),
    /// From the tokenizer.
    #[error(transparent)]
    Tokenizer(#[from] albert_tokenizer::TokenizerError),
    /// A head cannot be built as asked.
    #[error("{0}")]
    Head(String),
    /// A task data file is unreadable or malformed.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Data {
        /// The file.
        path: std::path::PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

impl HeadsError {
    /// A [`HeadsError::Data`].
    pub fn data(path: &std::path::Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Self::Data {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

/// `Result` with [`HeadsError`].
pub type Result<T, E = HeadsError> = std::result::Result<T, E>;
