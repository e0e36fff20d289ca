//! The feed-forward activations of [`HiddenAct`].

use burn::tensor::Tensor;
use burn::tensor::activation::{gelu, relu, sigmoid};

use crate::config::HiddenAct;

/// `√(2/π)`.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

/// Applies `act` element-wise.
pub fn apply<const D: usize>(act: HiddenAct, x: Tensor<D>) -> Tensor<D> {
    match act {
        HiddenAct::GeluTanh => gelu_tanh(x),
        HiddenAct::GeluErf => gelu(x),
        HiddenAct::Relu => relu(x),
    }
}

/// HF's `gelu_new`, `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, computed as the identical
/// `x · sigmoid(2·√(2/π)·x·(1 + 0.044715·x²))` (since `(1 + tanh z)/2 = sigmoid(2z)`): six
/// element-wise passes with one `exp` instead of burn's `gelu_approximate`, whose `powf` and
/// `tanh` cost more than the feed-forward matmuls on the CPU backend.
pub fn gelu_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let u = (x.clone() * x.clone() * (2.0 * SQRT_2_OVER_PI * 0.044_715) + 2.0 * SQRT_2_OVER_PI)
        * x.clone();
    x * sigmoid(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// Against the tanh form evaluated in f64 at points from the far negative tail to the
    /// far positive one.
    #[test]
    fn gelu_tanh_matches_the_tanh_formula() {
        let xs: Vec<f32> = (-80..=80).map(|i| i as f32 * 0.125).collect();
        let device = Device::flex();
        let y = gelu_tanh(Tensor::<1>::from_data(xs.as_slice(), &device))
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32");
        for (x, got) in xs.iter().zip(y) {
            let x = f64::from(*x);
            let want = 0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)).tanh());
            assert!(
                (f64::from(got) - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "gelu({x}) = {got}, want {want}"
            );
        }
    }
}
