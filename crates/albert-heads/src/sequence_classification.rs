//! Sequence classification and regression on the pooled `[CLS]` vector (HF
//! `AlbertForSequenceClassification`).

use albert_core::init::ParamInit;
use albert_core::loss::{IGNORE_INDEX, cross_entropy, mse};
use albert_core::{AlbertConfig, AlbertInput, AlbertModel, AlbertOutput, EncoderOutputs};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Int, Tensor};

/// How the logits are scored (HF `problem_type`; HF infers regression from one label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    /// Softmax cross-entropy over the labels.
    Classification,
    /// Mean squared error on a single output.
    Regression,
}

/// `classifier(dropout(pooled))`.
#[derive(Module, Debug)]
pub struct AlbertForSequenceClassification {
    /// The body, with pooler.
    pub albert: AlbertModel,
    /// `classifier_dropout_prob`.
    pub dropout: Dropout,
    /// `H → num_labels`.
    pub classifier: Linear,
    /// Classification or regression.
    #[module(skip)]
    pub problem: ProblemType,
}

impl AlbertForSequenceClassification {
    /// A fresh model with `num_labels` outputs (1 = regression).
    pub fn new(
        config: &AlbertConfig,
        num_labels: usize,
        init: &mut ParamInit,
        device: &Device,
    ) -> Self {
        Self {
            albert: AlbertModel::new(config, true, init, device),
            dropout: DropoutConfig::new(config.classifier_dropout_prob).init(),
            classifier: init.linear(config.hidden_size, num_labels, device),
            problem: if num_labels == 1 {
                ProblemType::Regression
            } else {
                ProblemType::Classification
            },
        }
    }

    /// Number of outputs.
    pub fn num_labels(&self) -> usize {
        self.classifier.weight.shape().dims::<2>()[1]
    }

    /// Body outputs and logits.
    ///
    /// # Shapes
    /// - logits: `[B, num_labels]`
    pub fn forward(&self, input: AlbertInput, record: EncoderOutputs) -> (AlbertOutput, Tensor<2>) {
        let body = self.albert.forward(input, record);
        let pooled = body
            .pooler_output
            .clone()
            .expect("sequence classification bodies are built with a pooler");
        let logits = albert_core::ops::linear(&self.classifier, self.dropout.forward(pooled));
        (body, logits)
    }

    /// Cross-entropy (class ids; `-100` ignored) for classification.
    ///
    /// # Shapes
    /// - `logits`: `[B, C]`, `labels`: `[B]`
    pub fn classification_loss(&self, logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
        cross_entropy(logits, labels, IGNORE_INDEX)
    }

    /// Mean squared error for regression (HF squeezes the single logit).
    ///
    /// # Shapes
    /// - `logits`: `[B, 1]`, `targets`: `[B]`
    pub fn regression_loss(&self, logits: Tensor<2>, targets: Tensor<1>) -> Tensor<1> {
        let [b, _] = logits.dims();
        mse(logits.reshape([b]), targets)
    }
}
