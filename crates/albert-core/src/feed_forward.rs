//! The feed-forward half of an ALBERT layer (HF `AlbertLayer.ffn/ffn_output/
//! full_layer_layer_norm`, original `attention_ffn_block`'s second half).

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, Linear};
use burn::tensor::{Device, Tensor};

use crate::config::{AlbertConfig, HiddenAct};
use crate::init::{ParamInit, layer_norm};
use crate::ops;

/// `LayerNorm(a + ffn_output(act(ffn(a))))`.
#[derive(Module, Debug)]
pub struct AlbertFeedForward {
    /// `H → I`.
    pub ffn: Linear,
    /// `I → H`.
    pub ffn_output: Linear,
    /// The layer's output LayerNorm.
    pub full_layer_layer_norm: LayerNorm,
    /// Its epsilon.
    #[module(skip)]
    pub layer_norm_eps: f64,
    /// Dropout on the FFN output before the residual. The original TF code applies it; HF
    /// defines it but never calls it (no difference at dropout 0, i.e. for every v2 model).
    pub dropout: Dropout,
    /// The activation between the two projections.
    #[module(skip)]
    pub act: HiddenAct,
}

impl AlbertFeedForward {
    /// A fresh feed-forward block for `config`.
    pub fn new(config: &AlbertConfig, init: &mut ParamInit, device: &Device) -> Self {
        let (h, i) = (config.hidden_size, config.intermediate_size);
        Self {
            ffn: init.linear(h, i, device),
            ffn_output: init.linear(i, h, device),
            full_layer_layer_norm: layer_norm(h, config.layer_norm_eps, device),
            layer_norm_eps: config.layer_norm_eps,
            dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
            act: config.hidden_act,
        }
    }

    /// # Shapes
    /// - `a` (the attention block's output): `[B, n, H]`
    /// - output: `[B, n, H]`
    pub fn forward(&self, a: Tensor<3>) -> Tensor<3> {
        let rows = ops::Operand::rows(a.clone());
        let summed = self.sublayer(a, rows);
        ops::layer_norm(&self.full_layer_layer_norm, self.layer_norm_eps, summed)
    }

    /// [`AlbertFeedForward::forward`] of `a` whose `[B·n, H]` rows are already the first
    /// product's operand (as the attention block hands them on), also handing on its output's
    /// rows as the next layer's operand ([`ops::layer_norm_operand`]).
    pub fn forward_operand(&self, a: Tensor<3>, rows: ops::Operand) -> (Tensor<3>, ops::Operand) {
        let summed = self.sublayer(a, rows);
        ops::layer_norm_operand(&self.full_layer_layer_norm, self.layer_norm_eps, summed)
    }

    /// [`AlbertFeedForward::forward`] of the last layer, whose `a` rows are already an operand.
    pub fn forward_of(&self, a: Tensor<3>, rows: ops::Operand) -> Tensor<3> {
        let summed = self.sublayer(a, rows);
        ops::layer_norm(&self.full_layer_layer_norm, self.layer_norm_eps, summed)
    }

    /// `a + ffn_output(act(ffn(a)))` before the LayerNorm.
    fn sublayer(&self, a: Tensor<3>, rows: ops::Operand) -> Tensor<3> {
        let [b, n, _] = a.dims();
        // The activations are the output projection's operand (rounded as written under bf16).
        let inner = ops::activation_operand(self.act, ops::linear_rows_of(&self.ffn, rows, b, n));
        ops::linear_rows_residual(&self.ffn_output, &self.dropout, inner, a)
    }
}
