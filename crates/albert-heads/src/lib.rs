//! # albert-heads
//!
//! Downstream heads on the ALBERT body, each the counterpart of a Hugging Face class and
//! loadable from its checkpoints (names `albert.*`, `classifier.*`, `qa_outputs.*`):
//!
//! | head | HF class | output |
//! |---|---|---|
//! | [`AlbertForSequenceClassification`] | `AlbertForSequenceClassification` | `[B, C]` from the pooled `[CLS]` |
//! | [`AlbertForTokenClassification`] | `AlbertForTokenClassification` | `[B, n, C]` |
//! | [`AlbertForQuestionAnswering`] | `AlbertForQuestionAnswering` | start/end `[B, n]` |
//! | [`AlbertForMultipleChoice`] | `AlbertForMultipleChoice` | `[B, C]` from `[B, C, n]` inputs |
//!
//! [`metrics`] holds the task metrics computed as the official scripts do, [`tasks`] the
//! readers of task data (GLUE TSV, SQuAD JSON, RACE JSON, CoNLL). Fine-tuning and inference
//! build on these.

mod error;
pub mod features;
pub mod finetune;
mod kind;
pub mod metrics;
mod multiple_choice;
pub use albert_core::progress;
mod question_answering;
mod sequence_classification;
pub mod tasks;
mod token_classification;

pub use error::{HeadsError, Result};
pub use kind::HeadKind;
pub use multiple_choice::{AlbertForMultipleChoice, MultipleChoiceInput};
pub use question_answering::{AlbertForQuestionAnswering, QaOutput, qa_loss};
pub use sequence_classification::{AlbertForSequenceClassification, ProblemType};
pub use token_classification::AlbertForTokenClassification;

// The README's examples compile (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
