//! The one error type of `albert-heads`.

/// Errors of the downstream heads.
#[derive(Debug, thiserror::Error)]
pub enum HeadsError {
    /// From the model core (config, checkpoint, input validation).
    #[error(transparent)]
    Core(#[from] albert_core::AlbertError),
    /// A head cannot be built as asked.
    #[error("{0}")]
    Head(String),
}

/// `Result` with [`HeadsError`].
pub type Result<T, E = HeadsError> = std::result::Result<T, E>;
