//! One type per task under transformers' pipeline names, each a [`Pipeline`] loaded for that
//! task: built once from a model directory or hub name (`ORG/NAME[@REVISION]`) and a device,
//! then called on batches, returning typed results.
//!
//! ```no_run
//! use albert_runner::pipeline::{FillMask, TextClassification};
//!
//! let fill = FillMask::new("models/albert-mini-mixed", "cpu")?;
//! let best = &fill.call(&["Paris is the [MASK] of France."], 3)?[0][0];
//! println!("{} ({:.3})", best[0].token_str, best[0].score);
//!
//! let sentiment = TextClassification::new("runs/sst2/model", "cpu")?;
//! for result in sentiment.call(&[("a gripping film", None)], 1)? {
//!     println!("{:?} {:.3}", result[0].label, result[0].score);
//! }
//! # Ok::<(), albert_runner::RunnerError>(())
//! ```

use std::path::Path;

use super::{Answer, LabelScore, MaskCandidate, Pipeline, PipelineOptions, Pooling, Task, WordTag};
use crate::error::Result;

fn load(model: &Path, task: Task, options: &PipelineOptions) -> Result<Pipeline> {
    Pipeline::load(
        model,
        &PipelineOptions {
            task: Some(task),
            ..options.clone()
        },
    )
}

fn owned(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_string()).collect()
}

fn pairs(inputs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    inputs
        .iter()
        .map(|(a, b)| ((*a).to_string(), b.map(str::to_string)))
        .collect()
}

macro_rules! pipeline_type {
    ($(#[$doc:meta])* $name:ident, $task:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(Pipeline);

        impl $name {
            /// Loads `model` (a directory or a hub name) on `device` (`cpu`, `wgpu`, `cuda`)
            /// with the default options (batch 32, 128 tokens, fp32).
            pub fn new(model: impl AsRef<Path>, device: &str) -> Result<Self> {
                Self::with_options(
                    model,
                    &PipelineOptions {
                        device: device.to_string(),
                        ..PipelineOptions::default()
                    },
                )
            }

            /// Loads `model` with `options` (their `task` is replaced by this type's).
            pub fn with_options(model: impl AsRef<Path>, options: &PipelineOptions) -> Result<Self> {
                load(model.as_ref(), $task, options).map(Self)
            }

            /// The pipeline underneath (its options, labels, sentence vectors).
            pub fn pipeline(&self) -> &Pipeline {
                &self.0
            }
        }
    };
}

pipeline_type!(
    /// transformers' `fill-mask`: candidates for each `[MASK]` of a pretraining or masked-LM
    /// model.
    FillMask,
    Task::FillMask
);
pipeline_type!(
    /// transformers' `text-classification`: labels (or a regression value) of a
    /// sequence-classification model.
    TextClassification,
    Task::Classify
);
pipeline_type!(
    /// transformers' `token-classification`, per word: a tag for each word of a
    /// token-classification model.
    TokenClassification,
    Task::Tag
);
pipeline_type!(
    /// transformers' `question-answering`: a span of the context for each question.
    QuestionAnswering,
    Task::Answer
);
pipeline_type!(
    /// transformers' `feature-extraction`, pooled: a sentence vector per input from the body of
    /// any ALBERT checkpoint.
    FeatureExtraction,
    Task::Embed
);

impl FillMask {
    /// The `top_k` candidates at every `[MASK]`: per text, one list per mask.
    pub fn call(&self, texts: &[&str], top_k: usize) -> Result<Vec<Vec<Vec<MaskCandidate>>>> {
        self.0.fill_mask(&owned(texts), top_k)
    }
}

impl TextClassification {
    /// The `top_k` best labels of each `(text, pair)`, best first.
    pub fn call(
        &self,
        inputs: &[(&str, Option<&str>)],
        top_k: usize,
    ) -> Result<Vec<Vec<LabelScore>>> {
        self.0.classify(&pairs(inputs), top_k)
    }
}

impl TokenClassification {
    /// A tag per word of each text.
    pub fn call(&self, texts: &[&str]) -> Result<Vec<Vec<WordTag>>> {
        self.0.tag(&owned(texts))
    }
}

impl QuestionAnswering {
    /// The answer to each `(question, context)`.
    pub fn call(&self, items: &[(&str, &str)]) -> Result<Vec<Answer>> {
        let items: Vec<(String, String)> = items
            .iter()
            .map(|(q, c)| ((*q).to_string(), (*c).to_string()))
            .collect();
        self.0.answer(&items)
    }
}

impl FeatureExtraction {
    /// One vector per `(text, pair)`, pooled as `pooling` says, unit length with `normalize`.
    pub fn call(
        &self,
        inputs: &[(&str, Option<&str>)],
        pooling: Pooling,
        normalize: bool,
    ) -> Result<Vec<Vec<f32>>> {
        self.0.embed(&pairs(inputs), pooling, normalize)
    }
}
