//! Parameter initialisation as the original `modeling.py` does it: weights from a normal
//! distribution truncated at two standard deviations (`tf.truncated_normal_initializer(0.02)`),
//! biases zero, LayerNorm scale one and shift zero.
//!
//! Parameters are created lazily: each one draws its own seed from [`ParamInit`]'s generator at
//! construction (so the result is a pure function of the seed and the construction order) and
//! only samples its values when first used. A parameter that a checkpoint overwrites is never
//! sampled, and a model can be built just to count its parameters.

use burn::module::{Param, ParamId};
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Device, Shape, Tensor, TensorData};
use rand::Rng;

use crate::rng::{SeededRng, seeded};

/// Source of initial parameter values: a seeded generator and the truncated-normal scale.
#[derive(Debug)]
pub struct ParamInit {
    rng: SeededRng,
    std: f64,
}

impl ParamInit {
    /// A generator seeded with `seed`, drawing weights with standard deviation `std`
    /// (ALBERT: `initializer_range` = 0.02).
    pub fn new(seed: u64, std: f64) -> Self {
        Self {
            rng: seeded(seed),
            std,
        }
    }

    /// A `[shape]` weight from the truncated normal.
    pub fn truncated_normal<const D: usize>(
        &mut self,
        shape: [usize; D],
        device: &Device,
    ) -> Param<Tensor<D>> {
        let seed: u64 = self.rng.random();
        let std = self.std;
        Param::uninitialized(
            ParamId::new(),
            move |device, require_grad| {
                let mut rng = seeded(seed);
                let n = shape.iter().product::<usize>();
                let values: Vec<f32> = (0..n)
                    .map(|_| (truncated_standard_normal(&mut rng) * std) as f32)
                    .collect();
                let t = Tensor::from_data(TensorData::new(values, shape), device);
                if require_grad { t.require_grad() } else { t }
            },
            device.clone(),
            true,
            Shape::from(shape),
        )
    }

    /// A linear layer `d_in → d_out` (burn layout: weight `[d_in, d_out]`), bias zero.
    pub fn linear(&mut self, d_in: usize, d_out: usize, device: &Device) -> Linear {
        Linear {
            weight: self.truncated_normal([d_in, d_out], device),
            bias: Some(zeros([d_out], device)),
        }
    }

    /// An embedding table `[n, d]`.
    pub fn embedding(&mut self, n: usize, d: usize, device: &Device) -> Embedding {
        Embedding {
            weight: self.truncated_normal([n, d], device),
        }
    }
}

/// A LayerNorm over `d` features: scale one, shift zero.
pub fn layer_norm(d: usize, eps: f64, device: &Device) -> LayerNorm {
    LayerNormConfig::new(d).with_epsilon(eps).init(device)
}

/// A zero-filled parameter.
pub fn zeros<const D: usize>(shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::uninitialized(
        ParamId::new(),
        move |device, require_grad| {
            let t = Tensor::zeros(shape, device);
            if require_grad { t.require_grad() } else { t }
        },
        device.clone(),
        true,
        Shape::from(shape),
    )
}

/// A standard normal sample conditioned on `|x| < 2` (rejection on Box-Muller pairs).
fn truncated_standard_normal(rng: &mut SeededRng) -> f64 {
    loop {
        // u1 in (0, 1] so that ln(u1) is finite.
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        for x in [r * theta.cos(), r * theta.sin()] {
            if x.abs() < 2.0 {
                return x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_normal_has_the_right_moments() {
        let device = Device::flex();
        let mut init = ParamInit::new(7, 0.02);
        let w = init.truncated_normal([400, 250], &device).val();
        let v: Vec<f32> = w.into_data().try_into_vec().expect("f32");
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        // A standard normal truncated to (-2, 2) has variance 0.774 (std 0.8796).
        assert!(mean.abs() < 3e-4, "mean {mean}");
        assert!(
            ((var.sqrt() / 0.02) - 0.8796).abs() < 0.01,
            "std {}",
            var.sqrt()
        );
        assert!(v.iter().all(|x| x.abs() < 0.04));
    }

    #[test]
    fn same_seed_same_values_and_lazy_until_used() {
        let device = Device::flex();
        let a = ParamInit::new(3, 0.02).truncated_normal([4, 5], &device);
        assert!(!a.is_initialized());
        let b = ParamInit::new(3, 0.02).truncated_normal([4, 5], &device);
        assert_eq!(a.val().into_data(), b.val().into_data());
        let c = ParamInit::new(4, 0.02).truncated_normal([4, 5], &device);
        assert_ne!(a.val().into_data(), c.val().into_data());
    }
}
