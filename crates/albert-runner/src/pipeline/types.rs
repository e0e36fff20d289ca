//! What the pipelines take and give: the task, the pooling, the loading options, and the typed
//! outputs that serialise to transformers' pipeline JSON (with the ranking helpers behind them).

use albert_core::precision::Precision;
use albert_heads::HeadKind;
use clap::ValueEnum;
use serde::Serialize;

/// What a loaded model answers; embeddings ([`Pipeline::embed`]) work with every task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// Text (pair) classification or regression: a sequence-classification model.
    #[value(alias = "classification", alias = "text-classification")]
    Classify,
    /// The tokens at `[MASK]`: a pretraining or masked-LM model.
    FillMask,
    /// Extractive question answering: a SQuAD-fine-tuned model.
    #[value(alias = "question-answering")]
    Answer,
    /// A tag per word: a token-classification model (`albert finetune --task tagging`).
    #[value(alias = "tagging", alias = "token-classification")]
    Tag,
    /// Sentence vectors only (the body of any checkpoint).
    #[value(alias = "feature-extraction")]
    Embed,
}

impl Task {
    /// The task an HF config's `architectures` names: sequence classification → classify,
    /// pretraining / masked LM → fill-mask, question answering → answer, token classification →
    /// tag, anything else → embed.
    pub fn of_architectures(architectures: &[String]) -> Task {
        for a in architectures {
            if a == "AlbertForMaskedLM" {
                return Task::FillMask;
            }
            match HeadKind::from_architecture(a) {
                Some(HeadKind::SequenceClassification) => return Task::Classify,
                Some(HeadKind::Pretraining) => return Task::FillMask,
                Some(HeadKind::QuestionAnswering) => return Task::Answer,
                Some(HeadKind::TokenClassification) => return Task::Tag,
                _ => {}
            }
        }
        Task::Embed
    }

    /// The name used on the command line and in the server's routes.
    pub fn name(self) -> &'static str {
        match self {
            Task::Classify => "classify",
            Task::FillMask => "fill-mask",
            Task::Answer => "answer",
            Task::Tag => "tag",
            Task::Embed => "embed",
        }
    }
}

/// How token states become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The mean over the real tokens (special tokens included, padding not): sentence-transformers'
    /// default for ALBERT models.
    Mean,
    /// The `[CLS]` position's last hidden state (not the pooler's tanh layer).
    Cls,
}

/// How [`Pipeline::load`] loads and runs a model.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// Which head to load; `None`: the one the config's `architectures` names ([`Task::of_architectures`]).
    pub task: Option<Task>,
    /// `cpu` (flex), `wgpu` or `cuda` (first device of a list).
    pub device: String,
    /// Precision of the matrix products ([`albert_core::precision`]).
    pub precision: Precision,
    /// Sequences per forward pass.
    pub batch_size: usize,
    /// Tokens per sequence: longer classify/embed inputs are truncated (pairs longest first),
    /// longer answer contexts and tag texts split into windows; capped at the model's
    /// positions.
    pub max_seq_length: usize,
    /// [`Pipeline::answer`](super::Pipeline::answer): answer "" (start and end 0, the score
    /// the probability of `[CLS]` as both ends) when the model's no-answer score beats its best
    /// span, as transformers' `handle_impossible_answer=True` does for SQuAD v2.0 models;
    /// `false` (transformers' default) always returns the best span.
    pub handle_impossible_answer: bool,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            task: None,
            device: "cpu".into(),
            precision: Precision::Fp32,
            batch_size: 32,
            max_seq_length: 128,
            handle_impossible_answer: false,
        }
    }
}

/// One label and its probability (transformers' text-classification output); a regression
/// model's value has no label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    /// The label's name from the config's `id2label`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Its probability (softmax), or the regression value.
    pub score: f32,
}

/// One candidate for a `[MASK]` (transformers' fill-mask output).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaskCandidate {
    /// Its probability.
    pub score: f32,
    /// Its token id.
    pub token: u32,
    /// Its text.
    pub token_str: String,
    /// The input with this mask filled (special tokens skipped when the text has one mask).
    pub sequence: String,
}

/// An answer span (transformers' question-answering output).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// Its probability (start × end softmax over the window's context tokens).
    pub score: f64,
    /// First character (not byte) of the answer in the context.
    pub start: usize,
    /// One past its last character.
    pub end: usize,
    /// The answer text, widened to whole words.
    pub answer: String,
}

/// One word's tag (transformers' token-classification output, per word: the tag is the model's
/// label at the word's first piece, as `albert finetune --task tagging` trains and scores it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WordTag {
    /// The tag's name from the config's `id2label`.
    pub entity: String,
    /// Its probability.
    pub score: f32,
    /// The word's position among the text's words (0-based).
    pub index: usize,
    /// The word.
    pub word: String,
    /// Its first character (not byte) in the text.
    pub start: usize,
    /// One past its last character.
    pub end: usize,
}

/// The `k` largest entries' indices of `row`, largest first (ties: lower index first).
pub(super) fn top_indices(row: &[f32], k: usize) -> Vec<usize> {
    let by_score = |a: &usize, b: &usize| row[*b].total_cmp(&row[*a]).then(a.cmp(b));
    let mut order: Vec<usize> = (0..row.len()).collect();
    // Select the k best in linear time, then sort only them (a vocabulary is 30k wide).
    if k < order.len() {
        order.select_nth_unstable_by(k, by_score);
        order.truncate(k);
    }
    order.sort_by(by_score);
    order
}

/// The `top_k` best labels for class probabilities `p`; for a regression output (fewer than
/// two labels) its one value, unlabelled.
pub(super) fn rank_labels(p: &[f32], labels: &[String], top_k: usize) -> Vec<LabelScore> {
    if labels.len() < 2 {
        return vec![LabelScore {
            label: None,
            score: p.first().copied().unwrap_or(f32::NAN),
        }];
    }
    top_indices(&p[..p.len().min(labels.len())], top_k.max(1))
        .into_iter()
        .map(|i| LabelScore {
            label: Some(labels[i].clone()),
            score: p[i],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_ranked_best_first() {
        let labels = vec!["neg".to_string(), "neu".into(), "pos".into()];
        let ranked = rank_labels(&[0.2, 0.1, 0.7], &labels, 2);
        assert_eq!(
            serde_json::to_value(&ranked).expect("json"),
            serde_json::json!([{"label": "pos", "score": 0.7f32}, {"label": "neg", "score": 0.2f32}])
        );
        assert_eq!(
            serde_json::to_value(rank_labels(&[3.5], &[], 2)).expect("json"),
            serde_json::json!([{"score": 3.5f32}])
        );
        assert_eq!(top_indices(&[1.0, 3.0, 3.0, 2.0], 3), vec![1, 2, 3]);
    }

    #[test]
    fn the_task_follows_the_architectures() {
        let of = |a: &str| Task::of_architectures(&[a.to_string()]);
        assert_eq!(of("AlbertForSequenceClassification"), Task::Classify);
        assert_eq!(of("AlbertForMaskedLM"), Task::FillMask);
        assert_eq!(of("AlbertForPreTraining"), Task::FillMask);
        assert_eq!(of("AlbertForQuestionAnswering"), Task::Answer);
        assert_eq!(of("AlbertForTokenClassification"), Task::Tag);
        assert_eq!(of("AlbertForMultipleChoice"), Task::Embed);
        assert_eq!(Task::of_architectures(&[]), Task::Embed);
        // transformers' and `albert finetune`'s names are accepted too.
        for (alias, task) in [
            ("classification", Task::Classify),
            ("text-classification", Task::Classify),
            ("token-classification", Task::Tag),
            ("tagging", Task::Tag),
            ("question-answering", Task::Answer),
            ("feature-extraction", Task::Embed),
            ("fill-mask", Task::FillMask),
        ] {
            assert_eq!(
                <Task as ValueEnum>::from_str(alias, false),
                Ok(task),
                "{alias}"
            );
        }
    }
}
