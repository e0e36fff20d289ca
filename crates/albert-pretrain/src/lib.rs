//! # albert-pretrain
//!
//! ALBERT pretraining (paper §3, §4.1; the original `create_pretraining_data.py`,
//! `run_pretraining.py`, `lamb_optimizer.py`):
//! - [`data`]: corpus reading, sentence splitting, segment pairs for sentence-order prediction
//!   (or NSP for the ablation), whole-word n-gram masking (`n ≤ 3`, `p(n) ∝ 1/n`, 80/10/10),
//!   dynamic or static masking — seeded end to end, parallel, and independent of thread count.
//! - The model with both heads is `albert-core`'s [`AlbertForPreTraining`]; its masked-position
//!   MLM logits are [`AlbertForPreTraining::mlm_logits_at`].
//!
//! - [`pretrain_forward`]: MLM loss at the masked positions only, SOP loss, their sum, and the
//!   metrics; [`collate`] pads instances into a [`PretrainBatch`].
//!
//! - [`lamb`]: LAMB as ALBERT's `lamb_optimizer.py`; [`Schedule`]: warmup + polynomial decay;
//!   [`clip_global_norm`]: global-norm clipping.
//!
//! - [`train::pretrain`]: the loop, driven by a [`train::PretrainConfig`] TOML file: progress,
//!   JSONL metrics, held-out evaluation, atomic checkpoints with exact resume, a chart, and the
//!   final model exported in HF layout.

mod batch;
pub mod data;
mod error;
mod lamb;
mod objectives;
pub mod train;

pub use albert_core::Schedule;
pub use albert_core::clip::{clip_global_norm, global_norm};
pub use albert_core::{AlbertForPreTraining, AlbertPreTrainingOutput};
pub use batch::{PretrainBatch, collate};
pub use error::{PretrainError, Result};
pub use lamb::{LAMB_EXCLUDE, Lamb, LambConfig, LambState, lamb};
pub use objectives::{PretrainMetrics, PretrainOutput, pretrain_forward};

// The README's examples compile (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
