//! Multiple choice (RACE-style): every choice scored from its pooled `[CLS]` vector, softmax over
//! the choices (HF `AlbertForMultipleChoice`).

use albert_core::init::ParamInit;
use albert_core::loss::{IGNORE_INDEX, cross_entropy};
use albert_core::{AlbertConfig, AlbertInput, AlbertModel, EncoderOutputs};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Bool, Device, Int, Tensor};

/// `[B, C, n]` token ids (one row per choice), with optional types and padding mask.
#[derive(Debug, Clone)]
pub struct MultipleChoiceInput {
    /// `[B, C, n]`.
    pub input_ids: Tensor<3, Int>,
    /// `[B, C, n]`.
    pub token_type_ids: Option<Tensor<3, Int>>,
    /// `[B, C, n]`, `true` = padding.
    pub mask_pad: Option<Tensor<3, Bool>>,
}

/// `classifier(dropout(pooled))` → one score per choice.
#[derive(Module, Debug)]
pub struct AlbertForMultipleChoice {
    /// The body, with pooler.
    pub albert: AlbertModel,
    /// `classifier_dropout_prob`.
    pub dropout: Dropout,
    /// `H → 1`.
    pub classifier: Linear,
}

impl AlbertForMultipleChoice {
    /// A fresh model.
    pub fn new(config: &AlbertConfig, init: &mut ParamInit, device: &Device) -> Self {
        Self {
            albert: AlbertModel::new(config, true, init, device),
            dropout: DropoutConfig::new(config.classifier_dropout_prob).init(),
            classifier: init.linear(config.hidden_size, 1, device),
        }
    }

    /// Flattens the choices into the batch, scores each, and views the scores as `[B, C]`.
    ///
    /// # Shapes
    /// - output: `[B, C]`
    pub fn forward(&self, input: MultipleChoiceInput) -> Tensor<2> {
        let [b, c, n] = input.input_ids.dims();
        let mut flat = AlbertInput::new(input.input_ids.reshape([b * c, n]));
        if let Some(t) = input.token_type_ids {
            flat = flat.with_token_type_ids(t.reshape([b * c, n]));
        }
        if let Some(m) = input.mask_pad {
            flat = flat.with_mask_pad(m.reshape([b * c, n]));
        }
        let body = self.albert.forward(flat, EncoderOutputs::default());
        let pooled = body
            .pooler_output
            .expect("multiple-choice bodies are built with a pooler");
        albert_core::ops::linear(&self.classifier, self.dropout.forward(pooled)).reshape([b, c])
    }

    /// Cross-entropy over the choices.
    ///
    /// # Shapes
    /// - `logits`: `[B, C]`, `labels`: `[B]`
    pub fn loss(&self, logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
        cross_entropy(logits, labels, IGNORE_INDEX)
    }
}
