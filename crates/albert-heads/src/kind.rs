//! [`HeadKind`]: which model sits on the body, with its HF class name.

use crate::error::{HeadsError, Result};

/// The model kinds with HF checkpoints.
///
/// ```
/// use albert_heads::HeadKind;
///
/// let kind = HeadKind::parse("token-classification").expect("a head");
/// assert_eq!(kind.hf_architecture(), "AlbertForTokenClassification");
/// assert_eq!(HeadKind::parse("tokcls").ok(), Some(kind)); // the old short name
/// assert_eq!(HeadKind::from_architecture("AlbertForMultipleChoice"), Some(HeadKind::MultipleChoice));
/// ```
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

    /// The command-line names, in the order of [`HeadKind::ALL`]: transformers' task names
    /// (`sequence-classification`, …), which `--task` of `albert finetune` shares where they meet
    /// (`multiple-choice`).
    pub const NAMES: [&'static str; 5] = [
        "pretraining",
        "sequence-classification",
        "token-classification",
        "question-answering",
        "multiple-choice",
    ];

    /// The short names earlier versions used, still accepted by [`HeadKind::parse`].
    pub const SHORT_NAMES: [&'static str; 5] = ["pretraining", "seqcls", "tokcls", "qa", "mc"];

    /// The command-line name ([`HeadKind::NAMES`]).
    pub fn cli_name(self) -> &'static str {
        Self::NAMES[self as usize]
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

    /// Parses a [`HeadKind::cli_name`] (or one of the [`HeadKind::SHORT_NAMES`]).
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.cli_name() == name || Self::SHORT_NAMES[*k as usize] == name)
            .ok_or_else(|| {
                HeadsError::Head(format!(
                    "unknown head {name:?} (expected one of: {})",
                    Self::NAMES.join(", ")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_short_names_parse() {
        for (k, (name, short)) in HeadKind::ALL
            .into_iter()
            .zip(HeadKind::NAMES.into_iter().zip(HeadKind::SHORT_NAMES))
        {
            assert_eq!(k.cli_name(), name);
            assert_eq!(HeadKind::parse(name).ok(), Some(k));
            assert_eq!(HeadKind::parse(short).ok(), Some(k));
        }
        let e = HeadKind::parse("seq").unwrap_err().to_string();
        assert!(e.contains("sequence-classification"), "{e}");
    }
}
