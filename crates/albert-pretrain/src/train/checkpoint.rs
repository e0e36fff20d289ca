//! A pretraining run's checkpoints: [`CheckpointDir`] (albert-core's, shared with fine-tuning)
//! holding `model.bpk`, `optim.bpk` and a `state.json` with the [`TrainState`] and the SHA-256
//! of every file, so that a corrupt checkpoint is never resumed from.

pub use albert_core::checkpoint::CheckpointDir;
use serde::{Deserialize, Serialize};

/// Where the run stands: everything besides the model and optimiser needed to continue exactly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimisation steps done.
    pub step: u64,
    /// Data epoch in progress.
    pub epoch: u64,
    /// Instances of that epoch already used.
    pub offset: usize,
    /// Best held-out masked-LM accuracy so far, and its step.
    pub best: Option<(f64, u64)>,
}
