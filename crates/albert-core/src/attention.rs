//! Multi-head self-attention with ALBERT's post-LayerNorm residual (HF `AlbertAttention`,
//! original `attention_ffn_block`'s first half).

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, Linear};
use burn::tensor::activation::softmax;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Tensor};

use crate::config::AlbertConfig;
use crate::init::{ParamInit, layer_norm};
use crate::rows::{flatten, linear_rows};

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
    /// Its epsilon.
    #[module(skip)]
    pub layer_norm_eps: f64,
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
            layer_norm_eps: config.layer_norm_eps,
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
        // The projections run on `[B·n, H]` rows (see `rows`).
        let rows = flatten(x.clone());
        let split = |t: Tensor<2>| t.reshape([b, n, heads, d]).swap_dims(1, 2);
        // Scaling q (n·d values) instead of the scores (n·n) is the same product, and exact
        // when √d is a power of two (d = 16, 64, 256).
        let q = split(self.query.forward(rows.clone())) / (d as f64).sqrt();
        let k = split(self.key.forward(rows.clone()));
        let v = split(self.value.forward(rows));

        let (context, probs) = if !return_probs && !x.device().is_autodiff() {
            // Inference: the backend's fused attention (flex runs softmax(q·kᵀ + bias)·v per
            // head without materialising the scores of every head at once). The additive
            // mask is passed as a bias broadcast over heads.
            let bias = mask_add.expand([b, 1, n, n]);
            let options = AttentionModuleOptions {
                scale: Some(1.0),
                ..Default::default()
            };
            (attention(q, k, v, None, Some(bias), options), None)
        } else {
            let scores = q.matmul(k.swap_dims(2, 3)) + mask_add;
            let probs = softmax(scores, 3);
            let context = self.attention_dropout.forward(probs.clone()).matmul(v);
            (context, return_probs.then_some(probs))
        };
        let context = context.swap_dims(1, 2).reshape([b, n, h]);
        let projected = self
            .output_dropout
            .forward(linear_rows(&self.dense, context));
        let out = crate::norm::layer_norm(&self.layer_norm, self.layer_norm_eps, x + projected);
        (out, probs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    /// The fused inference path (taken when no probabilities are asked for) and the explicit
    /// one agree, padded keys included.
    #[test]
    fn fused_and_explicit_attention_agree() {
        let device = Device::flex();
        let config = AlbertConfig::new()
            .with_hidden_size(32)
            .with_num_attention_heads(4)
            .with_intermediate_size(64);
        let att = AlbertAttention::new(&config, &mut ParamInit::new(3, 0.2), &device);
        let x = Tensor::<3>::random([2, 5, 32], Distribution::Normal(0.0, 1.0), &device);
        // Second sequence: last two keys are padding.
        let mask = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, f32::MIN, f32::MIN];
        let mask_add =
            Tensor::<4>::from_data(TensorData::new(mask.to_vec(), [2, 1, 1, 5]), &device);
        let (fused, none) = att.forward(x.clone(), mask_add.clone(), false);
        let (explicit, probs) = att.forward(x, mask_add, true);
        assert!(none.is_none() && probs.is_some());
        let a = fused.into_data().try_to_vec::<f32>().expect("f32");
        let b = explicit.into_data().try_to_vec::<f32>().expect("f32");
        let max = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(max < 1e-5, "max difference {max}");
    }
}
