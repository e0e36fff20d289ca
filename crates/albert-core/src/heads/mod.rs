//! The pretraining heads (paper §3, §4.1): masked-LM over the tied vocabulary and
//! sentence-order prediction, and [`AlbertForPreTraining`] which puts both on the body.

mod mlm;
mod pretraining;
mod sop;

pub use mlm::AlbertMlmHead;
pub use pretraining::{AlbertForPreTraining, AlbertPreTrainingOutput};
pub use sop::AlbertSopHead;
