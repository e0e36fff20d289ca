//! The LayerNorm of every block: flex's fused kernels with their fused backward on flex devices
//! ([`crate::kernels`], feature `flex-kernels`), burn's `LayerNorm` module elsewhere.

use burn::nn::LayerNorm;
use burn::tensor::Tensor;

/// `ln(x)`, whose epsilon (burn keeps its own private) is `epsilon`.
pub fn layer_norm<const D: usize>(ln: &LayerNorm, epsilon: f64, x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "flex-kernels")]
    if let Some(beta) = &ln.beta
        && crate::kernels::on_flex(&x.device())
    {
        return crate::kernels::layer_norm(x, ln.gamma.val(), beta.val(), epsilon);
    }
    #[cfg(not(feature = "flex-kernels"))]
    let _ = epsilon;
    ln.forward(x)
}

#[cfg(all(test, feature = "flex-kernels"))]
mod tests {
    use super::*;
    use crate::init::layer_norm as new_layer_norm;
    use burn::tensor::{Device, Distribution};

    /// The fused path against burn's module: output and the gradients of the input, `γ` and
    /// `β`, on an autodiff flex device with a non-contiguous input and non-trivial `γ`, `β`.
    #[test]
    fn fused_layer_norm_matches_burn_forward_and_backward() {
        let device = Device::flex().autodiff();
        assert!(crate::kernels::on_flex(&device));
        let (rows, h, eps) = (300, 96, 1e-12);
        let mut ln = new_layer_norm(h, eps, &device);
        ln.gamma = ln
            .gamma
            .map(|_| Tensor::random([h], Distribution::Uniform(0.5, 1.5), &device).require_grad());
        ln.beta = ln.beta.map(|b| {
            b.map(|_| Tensor::random([h], Distribution::Normal(0.0, 0.3), &device).require_grad())
        });
        let base = Tensor::<2>::random([h, rows], Distribution::Normal(1.0, 2.0), &device);
        let weights = Tensor::<2>::random([rows, h], Distribution::Uniform(-1.0, 1.0), &device);
        let run = |fused: bool| {
            let x = base.clone().detach().require_grad();
            let xt = x.clone().transpose();
            let y = if fused {
                layer_norm(&ln, eps, xt)
            } else {
                ln.forward(xt)
            };
            let grads = (y.clone() * weights.clone()).sum().backward();
            let values = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().expect("f32");
            let values1 = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().expect("f32");
            (
                values(y),
                values(x.grad(&grads).expect("dx")),
                values1(ln.gamma.val().grad(&grads).expect("dgamma")),
                values1(
                    ln.beta
                        .as_ref()
                        .expect("beta")
                        .val()
                        .grad(&grads)
                        .expect("dbeta"),
                ),
            )
        };
        let fused = run(true);
        let reference = run(false);
        let close = |what: &str, a: &[f32], b: &[f32], tol: f32| {
            assert_eq!(a.len(), b.len(), "{what}");
            for (x, y) in a.iter().zip(b) {
                assert!(
                    (x - y).abs() <= tol * (1.0 + y.abs()),
                    "{what}: fused {x} vs burn {y}"
                );
            }
        };
        close("y", &fused.0, &reference.0, 1e-5);
        close("dx", &fused.1, &reference.1, 1e-4);
        close("dgamma", &fused.2, &reference.2, 1e-4);
        close("dbeta", &fused.3, &reference.3, 1e-4);
        assert_eq!(fused.2.len(), h);
    }
}
