//! Factorised embeddings (paper §3.1): token, position and token-type tables of width `E`
//! (not `H`), summed and normalised in `E`. The `E → H` projection lives in the encoder
//! ([`crate::AlbertTransformer`]), as in HF and the original code.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, LayerNorm};
use burn::tensor::{Device, Int, Tensor};

use crate::config::AlbertConfig;
use crate::init::{ParamInit, layer_norm};

/// Word, position and token-type embeddings, LayerNorm, dropout.
#[derive(Module, Debug)]
pub struct AlbertEmbeddings {
    /// `[V, E]`; also the tied MLM decoder weight.
    pub word_embeddings: Embedding,
    /// `[P, E]`, indexed `0..n` for every row regardless of padding.
    pub position_embeddings: Embedding,
    /// `[type_vocab_size, E]`.
    pub token_type_embeddings: Embedding,
    /// LayerNorm over `E`.
    pub layer_norm: LayerNorm,
    /// Its epsilon.
    #[module(skip)]
    pub layer_norm_eps: f64,
    /// Dropout `hidden_dropout_prob` (inactive outside training).
    pub dropout: Dropout,
}

impl AlbertEmbeddings {
    /// Fresh embeddings for `config`.
    pub fn new(config: &AlbertConfig, init: &mut ParamInit, device: &Device) -> Self {
        let e = config.embedding_size;
        Self {
            word_embeddings: init.embedding(config.vocab_size, e, device),
            position_embeddings: init.embedding(config.max_position_embeddings, e, device),
            token_type_embeddings: init.embedding(config.type_vocab_size, e, device),
            layer_norm: layer_norm(e, config.layer_norm_eps, device),
            layer_norm_eps: config.layer_norm_eps,
            dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
        }
    }

    /// `LayerNorm(word[ids] + position[0..n] + token_type[types])`.
    ///
    /// # Shapes
    /// - `input_ids`, `token_type_ids`: `[B, n]`, with `n ≤ max_position_embeddings`
    /// - output: `[B, n, E]`
    pub fn forward(&self, input_ids: Tensor<2, Int>, token_type_ids: Tensor<2, Int>) -> Tensor<3> {
        let [_, n] = input_ids.dims();
        let device = input_ids.device();
        let positions = Tensor::<1, Int>::arange(0..n as i64, &device).unsqueeze::<2>();
        let embeddings = self.word_embeddings.forward(input_ids)
            + self.token_type_embeddings.forward(token_type_ids)
            + self.position_embeddings.forward(positions);
        self.dropout.forward(crate::ops::layer_norm(
            &self.layer_norm,
            self.layer_norm_eps,
            embeddings,
        ))
    }
}
