//! The feed-forward activations of [`HiddenAct`].

use burn::tensor::Tensor;
use burn::tensor::activation::{gelu, gelu_approximate, relu};

use crate::config::HiddenAct;

/// Applies `act` element-wise.
pub fn apply<const D: usize>(act: HiddenAct, x: Tensor<D>) -> Tensor<D> {
    match act {
        HiddenAct::GeluTanh => gelu_approximate(x),
        HiddenAct::GeluErf => gelu(x),
        HiddenAct::Relu => relu(x),
    }
}
