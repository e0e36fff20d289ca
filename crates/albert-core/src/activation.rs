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
///
/// On flex devices with the `flex-kernels` feature, one fused pass forward and backward
/// ([`crate::kernels`]).
pub fn gelu_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "flex-kernels")]
    if crate::kernels::on_flex(&x.device()) {
        return crate::kernels::gelu_tanh(x);
    }
    gelu_tanh_composed(x)
}

/// [`gelu_tanh`] from burn's element-wise ops, on any backend.
pub fn gelu_tanh_composed<const D: usize>(x: Tensor<D>) -> Tensor<D> {
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

    /// The fused flex kernel against burn's composed ops: values and input gradients, on an
    /// autodiff flex device, over a non-contiguous (transposed) input.
    #[cfg(feature = "flex-kernels")]
    #[test]
    fn fused_gelu_matches_composed_forward_and_backward() {
        use burn::tensor::Distribution;
        let device = Device::flex().autodiff();
        assert!(crate::kernels::on_flex(&device));
        let base = Tensor::<2>::random([48, 700], Distribution::Normal(0.0, 3.0), &device);
        let weights = Tensor::<2>::random([700, 48], Distribution::Uniform(-1.0, 1.0), &device);
        let run = |fused: bool| {
            let x = base.clone().detach().require_grad();
            let xt = x.clone().transpose();
            let y = if fused {
                gelu_tanh(xt)
            } else {
                gelu_tanh_composed(xt)
            };
            let loss = (y.clone() * weights.clone()).sum();
            let grads = loss.backward();
            let g = x.grad(&grads).expect("grad");
            (
                y.into_data().try_to_vec::<f32>().expect("f32"),
                g.into_data().try_to_vec::<f32>().expect("f32"),
            )
        };
        let (y_fused, g_fused) = run(true);
        let (y_ref, g_ref) = run(false);
        for (a, b) in y_fused.iter().zip(&y_ref).chain(g_fused.iter().zip(&g_ref)) {
            assert!(
                (a - b).abs() <= 2e-6 * (1.0 + b.abs()),
                "fused {a} vs composed {b}"
            );
        }
        assert_eq!(y_fused.len(), 48 * 700);
    }
}
