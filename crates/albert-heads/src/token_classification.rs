//! Token classification (tagging) on every position (HF `AlbertForTokenClassification`).

use albert_core::init::ParamInit;
use albert_core::loss::{IGNORE_INDEX, cross_entropy};
use albert_core::{AlbertConfig, AlbertInput, AlbertModel, AlbertOutput, EncoderOutputs};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Int, Tensor};

/// `classifier(dropout(h))` at every position. The body has no pooler, as in HF.
#[derive(Module, Debug)]
pub struct AlbertForTokenClassification {
    /// The body, without pooler.
    pub albert: AlbertModel,
    /// `classifier_dropout_prob`.
    pub dropout: Dropout,
    /// `H → num_labels`.
    pub classifier: Linear,
}

impl AlbertForTokenClassification {
    /// A fresh model with `num_labels` tags.
    pub fn new(
        config: &AlbertConfig,
        num_labels: usize,
        init: &mut ParamInit,
        device: &Device,
    ) -> Self {
        Self {
            albert: AlbertModel::new(config, false, init, device),
            dropout: DropoutConfig::new(config.classifier_dropout_prob).init(),
            classifier: init.linear(config.hidden_size, num_labels, device),
        }
    }

    /// Number of tags.
    pub fn num_labels(&self) -> usize {
        self.classifier.weight.shape().dims::<2>()[1]
    }

    /// # Shapes
    /// - logits: `[B, n, num_labels]`
    pub fn forward(&self, input: AlbertInput, record: EncoderOutputs) -> (AlbertOutput, Tensor<3>) {
        let body = self.albert.forward(input, record);
        let logits = albert_core::ops::linear_rows(
            &self.classifier,
            self.dropout.forward(body.last_hidden_state.clone()),
        );
        (body, logits)
    }

    /// Mean cross-entropy over positions whose label is not `-100`.
    ///
    /// # Shapes
    /// - `logits`: `[B, n, C]`, `labels`: `[B, n]`
    pub fn loss(&self, logits: Tensor<3>, labels: Tensor<2, Int>) -> Tensor<1> {
        let [b, n, c] = logits.dims();
        cross_entropy(
            logits.reshape([b * n, c]),
            labels.reshape([b * n]),
            IGNORE_INDEX,
        )
    }
}
