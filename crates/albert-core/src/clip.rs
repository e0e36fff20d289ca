//! Global-norm gradient clipping (`tf.clip_by_global_norm(grads, 1.0)` in ALBERT's
//! `optimization.py`; PyTorch's `clip_grad_norm_`): all gradients are scaled by
//! `min(1, max_norm / ‖g‖)` where `‖g‖` is the L2 norm over every parameter. burn's own
//! clipping works per parameter tensor.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.total = Some(match self.total.take() {
                Some(t) => t + s,
                None => s,
            });
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: Tensor<1>,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            let factor = self
                .factor
                .clone()
                .to_device(&g.device())
                .reshape([1usize; D]);
            self.grads.register::<D>(param.id, g * factor);
        }
    }
}

/// The global L2 norm of `grads` over `module`'s parameters.
pub fn global_norm<M: Module>(module: &M, grads: &GradientsParams) -> Option<Tensor<1>> {
    let mut v = SquaredNorm { grads, total: None };
    module.visit(&mut v);
    v.total.map(Tensor::sqrt)
}

/// Scales `grads` so their global norm is at most `max_norm`; returns the norm before
/// clipping (a `[1]` tensor, not read back).
pub fn clip_global_norm<M: Module>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> Option<Tensor<1>> {
    let norm = global_norm(module, grads)?;
    let factor = (norm.clone().clamp_min(max_norm).recip() * max_norm).clamp_max(1.0);
    module.visit(&mut Scale { grads, factor });
    Some(norm)
}
