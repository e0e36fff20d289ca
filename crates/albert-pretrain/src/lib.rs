//! # albert-pretrain
//!
//! ALBERT's pretraining objectives (paper §3 and §4.1): masked LM with n-gram masking and
//! sentence-order prediction, LAMB, and the training loop. This crate is being filled by the
//! pretraining issue; the model with both heads, [`AlbertForPreTraining`], is in `albert-core`
//! (its masked-position MLM logits: [`AlbertForPreTraining::mlm_logits_at`]).

pub use albert_core::{AlbertForPreTraining, AlbertPreTrainingOutput};
