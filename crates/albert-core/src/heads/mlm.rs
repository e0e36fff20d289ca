//! The masked-LM head: `LayerNorm_E(act(dense(h)))` projected on the tied word embeddings plus
//! a bias of its own (HF `AlbertMLMHead`, original `get_masked_lm_output`).

use burn::module::{Module, Param};
use burn::nn::{Embedding, LayerNorm, Linear};
use burn::tensor::{Device, Tensor};

use crate::config::{AlbertConfig, HiddenAct};
use crate::init::{ParamInit, layer_norm, zeros};
use crate::ops;

/// The MLM head. Its decoder weight is the word-embedding table, passed to `forward`: it is
/// owned once, by [`crate::AlbertEmbeddings`], and receives gradient from both uses.
#[derive(Module, Debug)]
pub struct AlbertMlmHead {
    /// `H → E`.
    pub dense: Linear,
    /// LayerNorm over `E`.
    pub layer_norm: LayerNorm,
    /// Its epsilon.
    #[module(skip)]
    pub layer_norm_eps: f64,
    /// Decoder bias `[V]` (HF `predictions.bias` = `predictions.decoder.bias`).
    pub bias: Param<Tensor<1>>,
    /// The transform's activation (the model's `hidden_act`).
    #[module(skip)]
    pub act: HiddenAct,
}

impl AlbertMlmHead {
    /// A fresh head for `config`.
    pub fn new(config: &AlbertConfig, init: &mut ParamInit, device: &Device) -> Self {
        Self {
            dense: init.linear(config.hidden_size, config.embedding_size, device),
            layer_norm: layer_norm(config.embedding_size, config.layer_norm_eps, device),
            layer_norm_eps: config.layer_norm_eps,
            bias: zeros([config.vocab_size], device),
            act: config.hidden_act,
        }
    }

    /// Logits for a set of hidden vectors (e.g. only the masked positions).
    ///
    /// # Shapes
    /// - `hidden`: `[K, H]`
    /// - output: `[K, V]`
    pub fn forward_rows(&self, hidden: Tensor<2>, word_embeddings: &Embedding) -> Tensor<2> {
        let t = ops::layer_norm(
            &self.layer_norm,
            self.layer_norm_eps,
            ops::activation(self.act, ops::linear(&self.dense, hidden)),
        );
        let decoder = word_embeddings.weight.val().transpose(); // [E, V]
        ops::affine_weight(t, decoder, self.bias.val())
    }

    /// Logits at every position, as HF computes them.
    ///
    /// # Shapes
    /// - `hidden`: `[B, n, H]`
    /// - output: `[B, n, V]`
    pub fn forward(&self, hidden: Tensor<3>, word_embeddings: &Embedding) -> Tensor<3> {
        let [b, n, h] = hidden.dims();
        let logits = self.forward_rows(hidden.reshape([b * n, h]), word_embeddings);
        let v = logits.dims()[1];
        logits.reshape([b, n, v])
    }
}
