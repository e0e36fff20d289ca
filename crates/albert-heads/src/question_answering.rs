//! Span extraction: start and end logits at every position (HF `AlbertForQuestionAnswering`).

use albert_core::init::ParamInit;
use albert_core::loss::cross_entropy;
use albert_core::{AlbertConfig, AlbertInput, AlbertModel, AlbertOutput, EncoderOutputs};
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Int, Tensor};

/// `qa_outputs(h)` split into start and end logits. The body has no pooler, as in HF.
#[derive(Module, Debug)]
pub struct AlbertForQuestionAnswering {
    /// The body, without pooler.
    pub albert: AlbertModel,
    /// `H → 2` (start, end).
    pub qa_outputs: Linear,
}

/// Start and end logits.
#[derive(Debug, Clone)]
pub struct QaOutput {
    /// The body's outputs.
    pub body: AlbertOutput,
    /// `[B, n]`.
    pub start_logits: Tensor<2>,
    /// `[B, n]`.
    pub end_logits: Tensor<2>,
}

impl AlbertForQuestionAnswering {
    /// A fresh model.
    pub fn new(config: &AlbertConfig, init: &mut ParamInit, device: &Device) -> Self {
        Self {
            albert: AlbertModel::new(config, false, init, device),
            qa_outputs: init.linear(config.hidden_size, 2, device),
        }
    }

    /// # Shapes
    /// - `start_logits`, `end_logits`: `[B, n]`
    pub fn forward(&self, input: AlbertInput, record: EncoderOutputs) -> QaOutput {
        let body = self.albert.forward(input, record);
        let [b, n, _] = body.last_hidden_state.dims();
        let logits =
            albert_core::ops::linear_rows(&self.qa_outputs, body.last_hidden_state.clone()); // [B, n, 2]
        let start_logits = logits.clone().narrow(2, 0, 1).reshape([b, n]);
        let end_logits = logits.narrow(2, 1, 1).reshape([b, n]);
        QaOutput {
            body,
            start_logits,
            end_logits,
        }
    }
}

/// HF's span loss: positions are clamped to `[0, n]`, position `n` (out of the sequence) is
/// ignored, and the start and end cross-entropies are averaged.
///
/// # Shapes
/// - `start_logits`, `end_logits`: `[B, n]`; `start_positions`, `end_positions`: `[B]`
pub fn qa_loss(
    start_logits: Tensor<2>,
    end_logits: Tensor<2>,
    start_positions: Tensor<1, Int>,
    end_positions: Tensor<1, Int>,
) -> Tensor<1> {
    let n = start_logits.dims()[1] as i64;
    let start = cross_entropy(start_logits, start_positions.clamp(0, n), n);
    let end = cross_entropy(end_logits, end_positions.clamp(0, n), n);
    (start + end) / 2.0
}
