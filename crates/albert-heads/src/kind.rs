//! [`HeadKind`]: which model sits on the body, with its HF class name.

use crate::error::{HeadsError, Result};

/// The model kinds with HF checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadKind {
    /// `AlbertForPreTraining` (MLM + SOP).
    Pretraining,
    /// `AlbertForSequenceClassification`.
    SequenceClassification,
    /// `AlbertForTokenClassification`.
    TokenClassification,
    /// `AlbertForQuestionAnswering`.
    QuestionAnswering,
    /// `AlbertForMultipleChoice`.
    MultipleChoice,
}

impl HeadKind {
    /// Every kind.
    pub const ALL: [HeadKind; 5] = [
        HeadKind::Pretraining,
        HeadKind::SequenceClassification,
        HeadKind::TokenClassification,
        HeadKind::QuestionAnswering,
        HeadKind::MultipleChoice,
    ];

    /// The command-line name (`pretraining`, `seqcls`, `tokcls`, `qa`, `mc`).
    pub fn cli_name(self) -> &'static str {
        match self {
            HeadKind::Pretraining => "pretraining",
            HeadKind::SequenceClassification => "seqcls",
            HeadKind::TokenClassification => "tokcls",
            HeadKind::QuestionAnswering => "qa",
            HeadKind::MultipleChoice => "mc",
        }
    }

    /// The HF class name written to `config.json` → `architectures`.
    pub fn hf_architecture(self) -> &'static str {
        match self {
            HeadKind::Pretraining => "AlbertForPreTraining",
            HeadKind::SequenceClassification => "AlbertForSequenceClassification",
            HeadKind::TokenClassification => "AlbertForTokenClassification",
            HeadKind::QuestionAnswering => "AlbertForQuestionAnswering",
            HeadKind::MultipleChoice => "AlbertForMultipleChoice",
        }
    }

    /// Parses [`HeadKind::cli_name`].
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.cli_name() == name)
            .ok_or_else(|| {
                HeadsError::Head(format!(
                    "unknown head {name:?} (expected pretraining, seqcls, tokcls, qa or mc)"
                ))
            })
    }

    /// The kind named by an HF `architectures` entry, if it is one of ours.
    pub fn from_architecture(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.hf_architecture() == name)
    }

    /// Whether the HF model of this kind has a pooler (`add_pooling_layer`).
    pub fn has_pooler(self) -> bool {
        !matches!(
            self,
            HeadKind::TokenClassification | HeadKind::QuestionAnswering
        )
    }
}
