//! The one error type of `albert-core`.

use std::path::PathBuf;

/// Everything that can go wrong in `albert-core`: bad configs, bad checkpoints, bad inputs.
///
/// Every variant names the file or the tensor it is about, so a message can be shown to a user
/// as it is.
#[derive(Debug, thiserror::Error)]
pub enum AlbertError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// A configuration file or value is malformed or inconsistent.
    #[error("invalid config{}: {message}", fmt_path(.path))]
    Config {
        /// The config file, when the config came from one.
        path: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },

    /// A checkpoint file is malformed (truncated, bad header, unsupported dtype, ...).
    #[error("{path}: not a valid safetensors checkpoint: {message}")]
    CorruptCheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// A training checkpoint (a `step-N/` directory of a run) is unusable: a pointer to nowhere,
    /// a malformed `state.json`, a file missing or whose digest differs from the recorded one.
    #[error("{}: checkpoint: {message}", path.display())]
    Checkpoint {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// A checkpoint does not fit the model: tensors missing, mis-shaped or unreadable.
    #[error("checkpoint does not fit the model:\n{report}")]
    CheckpointMismatch {
        /// The full load report, rendered (missing, mis-shaped and unused tensors by name and shape).
        report: String,
    },

    /// A checkpoint or model cannot be written in the requested layout.
    #[error("cannot export: {0}")]
    Export(String),

    /// Model inputs with the wrong shape or out-of-range values.
    #[error("invalid input: {0}")]
    Input(String),
}

fn fmt_path(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!(" {}", p.display()),
        None => String::new(),
    }
}

impl AlbertError {
    /// Shorthand for a [`AlbertError::Config`] that is not tied to a file.
    pub fn config(message: impl Into<String>) -> Self {
        Self::Config {
            path: None,
            message: message.into(),
        }
    }

    /// Shorthand for a [`AlbertError::Input`].
    pub fn input(message: impl Into<String>) -> Self {
        Self::Input(message.into())
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// `Result` with [`AlbertError`].
pub type Result<T, E = AlbertError> = std::result::Result<T, E>;
