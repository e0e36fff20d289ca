//! LAMB exactly as ALBERT's `lamb_optimizer.py` (You et al., 2019, as the ALBERT authors
//! implemented it):
//!
//! ```text
//! m ← β1·m + (1−β1)·g          v ← β2·v + (1−β2)·g²          (no bias correction)
//! u ← m / (√v + ε)  [+ λ·w, unless the parameter is a LayerNorm or a bias]
//! r ← ‖w‖/‖u‖ if both norms > 0 else 1  [1 for LayerNorm and bias parameters]
//! w ← w − lr · r · u
//! ```
//!
//! burn's own `Lamb` differs (bias-corrected moments, decay on every parameter of its group), so
//! this is a separate [`Optimizer`]. [`lamb`] builds the module optimizer with ALBERT's exclusion
//! list (`LayerNorm`, `layer_norm`, `bias` → our `gamma`, `beta`, `bias`).

use burn::module::ParamGroup;
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// LAMB hyper-parameters (ALBERT's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LambConfig {
    /// β1.
    pub beta_1: f32,
    /// β2.
    pub beta_2: f32,
    /// ε.
    pub epsilon: f32,
    /// Decoupled weight decay λ (not applied to LayerNorm parameters and biases).
    pub weight_decay: f32,
}

impl Default for LambConfig {
    fn default() -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-6,
            weight_decay: 0.01,
        }
    }
}

/// One LAMB rule: with or without decay and layer adaptation.
#[derive(Debug, Clone, Copy)]
pub struct Lamb {
    config: LambConfig,
    decay_and_adapt: bool,
}

/// Per-parameter LAMB state.
#[derive(Clone, Debug)]
pub struct LambState<const D: usize> {
    /// First moment.
    pub m: Tensor<D>,
    /// Second moment.
    pub v: Tensor<D>,
}

impl<const D: usize> RecordState for LambState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "m", self.m.to_data());
        out.push_tensor(prefix, "v", self.v.to_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let m = src.take_tensor(prefix, "m")?;
        let v = src.take_tensor(prefix, "v")?;
        if m.shape().len() != D || v.shape().len() != D {
            return None;
        }
        Some(Self {
            m: Tensor::from_data(m, device),
            v: Tensor::from_data(v, device),
        })
    }
}

impl Optimizer for Lamb {
    type State<const D: usize> = LambState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let c = self.config;
        let (m, v) = match state {
            Some(s) => (
                s.m.mul_scalar(c.beta_1) + grad.clone().mul_scalar(1.0 - c.beta_1),
                s.v.mul_scalar(c.beta_2) + grad.square().mul_scalar(1.0 - c.beta_2),
            ),
            None => (
                grad.clone().mul_scalar(1.0 - c.beta_1),
                grad.square().mul_scalar(1.0 - c.beta_2),
            ),
        };
        let mut update = m.clone() / (v.clone().sqrt().add_scalar(c.epsilon));
        let mut step = update.clone().mul_scalar(lr);
        if self.decay_and_adapt {
            if c.weight_decay != 0.0 {
                update = update + tensor.clone().mul_scalar(c.weight_decay);
            }
            let w_norm = tensor.clone().square().sum().sqrt();
            let u_norm = update.clone().square().sum().sqrt();
            let both = w_norm
                .clone()
                .greater_elem(0.0)
                .bool_and(u_norm.clone().greater_elem(0.0));
            let ratio = (w_norm / u_norm.clone().clamp_min(f32::MIN_POSITIVE))
                .mask_where(both.bool_not(), u_norm.ones_like());
            let shape = [1usize; D];
            step = update * ratio.reshape(shape).mul_scalar(lr);
        }
        (tensor - step, Some(LambState { m, v }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        LambState {
            m: state.m.to_device(device),
            v: state.v.to_device(device),
        }
    }
}

/// Parameter-name fragments excluded from weight decay and layer adaptation.
pub const LAMB_EXCLUDE: [&str; 3] = albert_core::optim::NO_DECAY;

/// LAMB for a whole module: decay and trust ratio everywhere except LayerNorm parameters and
/// biases.
pub fn lamb(config: LambConfig) -> ModuleOptimizer {
    ModuleOptimizer::from(Lamb {
        config,
        decay_and_adapt: true,
    })
    .with_group(
        ParamGroup::from_any_predicates(LAMB_EXCLUDE.to_vec()),
        Lamb {
            config,
            decay_and_adapt: false,
        },
        None,
    )
}
