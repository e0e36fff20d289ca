//! Multi-head self-attention with ALBERT's post-LayerNorm residual (HF `AlbertAttention`,
//! original `attention_ffn_block`'s first half).

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, Linear};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

use crate::config::AlbertConfig;
use crate::init::{ParamInit, layer_norm};

/// Query/key/value projections, output projection (`dense`) and the residual LayerNorm.
#[derive(Module, Debug)]
pub struct AlbertAttention {
    /// `H → H`.
    pub query: Linear,
    /// `H → H`.
    pub key: Linear,
    /// `H → H`.
    pub value: Linear,
    /// Output projection `H → H`.
    pub dense: Linear,
    /// `LayerNorm(x + dense(attention))`.
    pub layer_norm: LayerNorm,
    /// Dropout on the attention probabilities.
    pub attention_dropout: Dropout,
    /// Dropout on the projected output, before the residual.
    pub output_dropout: Dropout,
    /// Number of heads `A`.
    #[module(skip)]
    pub num_heads: usize,
}

impl AlbertAttention {
    /// A fresh attention block for `config`.
    pub fn new(config: &AlbertConfig, init: &mut ParamInit, device: &Device) -> Self {
        let h = config.hidden_size;
        Self {
            query: init.linear(h, h, device),
            key: init.linear(h, h, device),
            value: init.linear(h, h, device),
            dense: init.linear(h, h, device),
            layer_norm: layer_norm(h, config.layer_norm_eps, device),
            attention_dropout: DropoutConfig::new(config.attention_probs_dropout_prob).init(),
            output_dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
            num_heads: config.num_attention_heads,
        }
    }

    /// `LayerNorm(x + dense(softmax(q·kᵀ/√d + mask)·v))`, and the attention probabilities when
    /// asked for.
    ///
    /// # Shapes
    /// - `x`: `[B, n, H]`
    /// - `mask_add`: `[B, 1, 1, n]`, `0` for real keys and `f32::MIN` for padded ones (HF's
    ///   additive mask)
    /// - output: `[B, n, H]`; probabilities `[B, A, n, n]`
    pub fn forward(
        &self,
        x: Tensor<3>,
        mask_add: Tensor<4>,
        return_probs: bool,
    ) -> (Tensor<3>, Option<Tensor<4>>) {
        let [b, n, h] = x.dims();
        let heads = self.num_heads;
        let d = h / heads;
        let split = |t: Tensor<3>| t.reshape([b, n, heads, d]).swap_dims(1, 2);
        let q = split(self.query.forward(x.clone()));
        let k = split(self.key.forward(x.clone()));
        let v = split(self.value.forward(x.clone()));

        let scores = q.matmul(k.swap_dims(2, 3)) / (d as f64).sqrt() + mask_add;
        let probs = softmax(scores, 3);
        let context = self
            .attention_dropout
            .forward(probs.clone())
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([b, n, h]);
        let projected = self.output_dropout.forward(self.dense.forward(context));
        let out = self.layer_norm.forward(x + projected);
        (out, return_probs.then_some(probs))
    }
}
