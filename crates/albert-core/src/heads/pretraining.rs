//! [`AlbertForPreTraining`]: the body with the MLM and SOP heads (HF `AlbertForPreTraining`).
//! The training objectives built on it (masked-position-only MLM, metrics) live in
//! `albert-pretrain`.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};

use crate::config::AlbertConfig;
use crate::heads::{AlbertMlmHead, AlbertSopHead};
use crate::init::ParamInit;
use crate::model::{AlbertInput, AlbertModel, AlbertOutput};
use crate::transformer::EncoderOutputs;

/// ALBERT with its two pretraining heads. Field names follow HF's checkpoint prefixes
/// (`albert.*`, `predictions.*`, `sop_classifier.*`).
#[derive(Module, Debug)]
pub struct AlbertForPreTraining {
    /// The body, with pooler.
    pub albert: AlbertModel,
    /// Masked-LM head (decoder tied to `albert.embeddings.word_embeddings`).
    pub predictions: AlbertMlmHead,
    /// Sentence-order head.
    pub sop_classifier: AlbertSopHead,
}

/// Outputs of [`AlbertForPreTraining::forward`].
#[derive(Debug, Clone)]
pub struct AlbertPreTrainingOutput {
    /// The body's outputs.
    pub body: AlbertOutput,
    /// `[B, n, V]` MLM logits at every position.
    pub prediction_logits: Tensor<3>,
    /// `[B, 2]` SOP logits.
    pub sop_logits: Tensor<2>,
}

impl AlbertForPreTraining {
    /// A freshly initialised model, seeded with `seed`.
    pub fn init(config: &AlbertConfig, seed: u64, device: &Device) -> Self {
        let mut init = ParamInit::new(seed, config.initializer_range);
        Self::new(config, &mut init, device)
    }

    /// A freshly initialised model drawing from `init`.
    pub fn new(config: &AlbertConfig, init: &mut ParamInit, device: &Device) -> Self {
        Self {
            albert: AlbertModel::new(config, true, init, device),
            predictions: AlbertMlmHead::new(config, init, device),
            sop_classifier: AlbertSopHead::new(config, init, device),
        }
    }

    /// Body, MLM logits at every position and SOP logits.
    pub fn forward(&self, input: AlbertInput, record: EncoderOutputs) -> AlbertPreTrainingOutput {
        let body = self.albert.forward(input, record);
        let prediction_logits = self.predictions.forward(
            body.last_hidden_state.clone(),
            &self.albert.embeddings.word_embeddings,
        );
        let sop_logits = self.sop_classifier.forward(self.pooled(&body));
        AlbertPreTrainingOutput {
            body,
            prediction_logits,
            sop_logits,
        }
    }

    /// MLM logits only at the given flattened positions (`row · n + column`), without
    /// computing the other `B·n − K` rows of the `[·, V]` projection.
    ///
    /// # Shapes
    /// - `last_hidden_state`: `[B, n, H]`
    /// - `positions`: `[K]`
    /// - output: `[K, V]`
    pub fn mlm_logits_at(
        &self,
        last_hidden_state: Tensor<3>,
        positions: Tensor<1, Int>,
    ) -> Tensor<2> {
        let [b, n, h] = last_hidden_state.dims();
        let rows = last_hidden_state.reshape([b * n, h]).select(0, positions);
        self.predictions
            .forward_rows(rows, &self.albert.embeddings.word_embeddings)
    }

    /// SOP logits from a body output.
    pub fn sop_logits(&self, body: &AlbertOutput) -> Tensor<2> {
        self.sop_classifier.forward(self.pooled(body))
    }

    fn pooled(&self, body: &AlbertOutput) -> Tensor<2> {
        body.pooler_output
            .clone()
            .expect("AlbertForPreTraining always builds its body with a pooler")
    }
}
