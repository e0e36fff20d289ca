//! Multi-head self-attention with ALBERT's post-LayerNorm residual (HF `AlbertAttention`,
//! original `attention_ffn_block`'s first half).

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, Linear};
use burn::tensor::{Device, Tensor};

use crate::config::AlbertConfig;
use crate::init::{ParamInit, layer_norm};
use crate::ops;

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
        let rows = ops::Operand::rows(x.clone()); // rounded once for the three projections
        let summed = self.sublayer(x, rows, mask_add, return_probs);
        (
            ops::layer_norm(&self.layer_norm, self.layer_norm_eps, summed.0),
            summed.1,
        )
    }

    /// [`AlbertAttention::forward`] of `x` whose `[B·n, H]` rows are already the projections'
    /// operand (the previous layer's output, rounded as its LayerNorm wrote it), also handing
    /// on its output's rows as the next products' operand ([`ops::layer_norm_operand`]).
    pub fn forward_operand(
        &self,
        x: Tensor<3>,
        rows: ops::Operand,
        mask_add: Tensor<4>,
        return_probs: bool,
    ) -> (Tensor<3>, ops::Operand, Option<Tensor<4>>) {
        let (summed, probs) = self.sublayer(x, rows, mask_add, return_probs);
        let (out, out_rows) =
            ops::layer_norm_operand(&self.layer_norm, self.layer_norm_eps, summed);
        (out, out_rows, probs)
    }

    /// `x + dense(attention)` before the LayerNorm, and the probabilities when asked for.
    fn sublayer(
        &self,
        x: Tensor<3>,
        rows: ops::Operand,
        mask_add: Tensor<4>,
        return_probs: bool,
    ) -> (Tensor<3>, Option<Tensor<4>>) {
        let [b, n, _] = x.dims();
        // The projections' outputs are the attention products' operands (rounded as they are
        // written under bf16), the context the output projection's.
        let [q, k, v] =
            ops::linear3_rows_operand([&self.query, &self.key, &self.value], rows, b, n);
        let (context, probs) = ops::attention(
            q,
            k,
            v,
            mask_add,
            self.num_heads,
            &self.attention_dropout,
            return_probs,
        );
        let summed = ops::linear_rows_residual(&self.dense, &self.output_dropout, context, x);
        (summed, probs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::activation::softmax;
    use burn::tensor::{Distribution, TensorData};

    /// Both composed paths (burn's fused attention op for inference, the explicit ops with
    /// probabilities or autodiff) against the formula written out with burn ops, padded keys
    /// included. (albert-kernels tests its fused kernels through [`ops::attention`] too.)
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
