//! The sentence-order-prediction head (paper §3.1 "inter-sentence coherence loss"; HF
//! `AlbertSOPHead`): a linear classifier on the pooled `[CLS]` vector, label 0 = in order,
//! 1 = swapped.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Tensor};

use crate::config::AlbertConfig;
use crate::init::ParamInit;

/// `classifier(dropout(pooled))` → 2 logits.
#[derive(Module, Debug)]
pub struct AlbertSopHead {
    /// `H → 2`.
    pub classifier: Linear,
    /// `classifier_dropout_prob`.
    pub dropout: Dropout,
}

impl AlbertSopHead {
    /// A fresh head for `config`.
    pub fn new(config: &AlbertConfig, init: &mut ParamInit, device: &Device) -> Self {
        Self {
            classifier: init.linear(config.hidden_size, 2, device),
            dropout: DropoutConfig::new(config.classifier_dropout_prob).init(),
        }
    }

    /// # Shapes
    /// - `pooled`: `[B, H]`
    /// - output: `[B, 2]`
    pub fn forward(&self, pooled: Tensor<2>) -> Tensor<2> {
        crate::ops::linear(&self.classifier, self.dropout.forward(pooled))
    }
}
