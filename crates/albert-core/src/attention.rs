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
use crate::rows::{flatten, linear, linear_rows_residual};

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
        let (q, k, v) = (
            linear(&self.query, rows.clone()),
            linear(&self.key, rows.clone()),
            linear(&self.value, rows),
        );
        if !return_probs && fused_attention(&x) {
            // Inference on flex: one fused kernel per (item, head) on the rows themselves.
            let context = head_products::inference_context([b, n, h], q, k, v, mask_add, heads);
            return (self.output(x, context), None);
        }
        if flex_kernels(&x) {
            // Training (or probabilities) on flex: per-(item, head) products straight from
            // and into `[B, n, H]` rows, with the fused mask + softmax between them (see
            // `kernels::{attention_scores, masked_softmax, attention_context}`).
            let rows3 = |t: Tensor<2>| t.reshape([b, n, h]);
            let probs = head_products::softmax_of_scores(rows3(q), rows3(k), mask_add, heads);
            let dropped = self.attention_dropout.forward(probs.clone());
            let context = head_products::context(dropped, rows3(v), heads);
            return (self.output(x, context), return_probs.then_some(probs));
        }
        let split = |t: Tensor<2>| t.reshape([b, n, heads, d]).swap_dims(1, 2);
        // Scaling q (n·d values) instead of the scores (n·n) is the same product, and exact
        // when √d is a power of two (d = 16, 64, 256).
        let q = split(q) / (d as f64).sqrt();
        let (k, v) = (split(k), split(v));

        let (context, probs) = if !return_probs && !x.device().is_autodiff() {
            // Inference on other backends: the backend's fused attention. The additive mask
            // is passed as a bias broadcast over heads.
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
        (self.output(x, context), probs)
    }

    /// `LayerNorm(x + dense(context))`.
    fn output(&self, x: Tensor<3>, context: Tensor<3>) -> Tensor<3> {
        let summed = linear_rows_residual(&self.dense, &self.output_dropout, context, x);
        crate::norm::layer_norm(&self.layer_norm, self.layer_norm_eps, summed)
    }
}

/// Whether the fused attention kernels apply: flex devices (with or without autodiff), feature
/// `flex-kernels`.
fn flex_kernels(x: &Tensor<3>) -> bool {
    #[cfg(feature = "flex-kernels")]
    return crate::kernels::on_flex(&x.device());
    #[cfg(not(feature = "flex-kernels"))]
    {
        let _ = x;
        false
    }
}

/// Whether the fused inference attention kernel applies: flex devices without autodiff,
/// feature `flex-kernels`.
fn fused_attention(x: &Tensor<3>) -> bool {
    flex_kernels(x) && !x.device().is_autodiff()
}

/// The fused per-head products (only reached when [`flex_kernels`]).
mod head_products {
    use burn::tensor::Tensor;

    /// Inference (only reached when [`super::fused_attention`]): the context `[B, n, H]` of
    /// the `[B·n, H]` projections in one kernel per (item, head).
    pub(super) fn inference_context(
        [b, n, h]: [usize; 3],
        q: Tensor<2>,
        k: Tensor<2>,
        v: Tensor<2>,
        mask_add: Tensor<4>,
        heads: usize,
    ) -> Tensor<3> {
        let shape = |t: Tensor<2>| t.reshape([b, n, h]);
        #[cfg(feature = "flex-kernels")]
        return crate::kernels::attention_rows(shape(q), shape(k), shape(v), mask_add, heads);
        #[cfg(not(feature = "flex-kernels"))]
        {
            let _ = (q, k, v, mask_add, heads, shape);
            unreachable!("fused_attention is false without the flex-kernels feature")
        }
    }

    /// `softmax(q_h·k_hᵀ/√d + mask)` for every head, `[B, heads, n, n]`.
    pub(super) fn softmax_of_scores(
        q: Tensor<3>,
        k: Tensor<3>,
        mask_add: Tensor<4>,
        heads: usize,
    ) -> Tensor<4> {
        #[cfg(feature = "flex-kernels")]
        {
            let d = q.dims()[2] / heads;
            let scores = crate::kernels::attention_scores(q, k, heads, 1.0 / (d as f64).sqrt());
            crate::kernels::masked_softmax(scores, mask_add)
        }
        #[cfg(not(feature = "flex-kernels"))]
        {
            let _ = (q, k, mask_add, heads);
            unreachable!("flex_kernels is false without the flex-kernels feature")
        }
    }

    /// `p_h·v_h` for every head, side by side as `[B, n, H]`.
    pub(super) fn context(probs: Tensor<4>, v: Tensor<3>, heads: usize) -> Tensor<3> {
        #[cfg(feature = "flex-kernels")]
        return crate::kernels::attention_context(probs, v, heads);
        #[cfg(not(feature = "flex-kernels"))]
        {
            let _ = (probs, v, heads);
            unreachable!("flex_kernels is false without the flex-kernels feature")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    /// The fused inference path (taken when no probabilities are asked for) and the explicit
    /// one agree, padded keys included.
    /// Every path (the flex kernel, burn's fused attention op, the composed ops; with and
    /// without probabilities) against the formula written out with burn ops.
    #[test]
    fn attention_matches_the_formula() {
        let config = AlbertConfig::new()
            .with_hidden_size(32)
            .with_num_attention_heads(4)
            .with_intermediate_size(64);
        for device in [Device::flex(), Device::flex().autodiff()] {
            let att = AlbertAttention::new(&config, &mut ParamInit::new(3, 0.2), &device);
            let x = Tensor::<3>::random([2, 5, 32], Distribution::Normal(0.0, 1.0), &device);
            // Second sequence: last two keys are padding.
            let mask = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, f32::MIN, f32::MIN];
            let mask_add =
                Tensor::<4>::from_data(TensorData::new(mask.to_vec(), [2, 1, 1, 5]), &device);

            let heads = |t: Tensor<3>| t.reshape([2, 5, 4, 8]).swap_dims(1, 2);
            let q = heads(att.query.forward(x.clone()));
            let k = heads(att.key.forward(x.clone()));
            let v = heads(att.value.forward(x.clone()));
            let probs = softmax(
                q.matmul(k.swap_dims(2, 3)) / 8f64.sqrt() + mask_add.clone(),
                3,
            );
            let context = probs.clone().matmul(v).swap_dims(1, 2).reshape([2, 5, 32]);
            let want = att
                .layer_norm
                .forward(x.clone() + att.dense.forward(context));
            let values = |t: Tensor<3>| t.into_data().try_to_vec::<f32>().expect("f32");
            let want = values(want);
            let want_probs = probs.into_data().try_to_vec::<f32>().expect("f32");

            for return_probs in [false, true] {
                let (out, p) = att.forward(x.clone(), mask_add.clone(), return_probs);
                assert_eq!(p.is_some(), return_probs);
                let max = values(out)
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(
                    max < 1e-5,
                    "{device:?} probs {return_probs}: max difference {max}"
                );
                if let Some(p) = p {
                    let p = p.into_data().try_to_vec::<f32>().expect("f32");
                    for (a, b) in p.iter().zip(&want_probs) {
                        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
                    }
                }
            }
        }
    }
}
