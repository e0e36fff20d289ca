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
    /// The optimiser state of a fine-tuning checkpoint cannot be read or written.
    #[error("{}: optimiser state: {message}", path.display())]
    OptimizerState {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The output directory does not fit the request: a run already there without `--resume`,
    /// a checkpoint written with other settings.
    #[error("{}: {message}", path.display())]
    Run {
        /// The output directory or checkpoint.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
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
