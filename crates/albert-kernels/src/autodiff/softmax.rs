//! The softmax family under autodiff: the attention's masked softmax and the losses'
//! log-softmax, each keeping its output for a one-pass backward.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::{Autodiff, Backend, tensor::FloatTensor};

use crate::AlbertKernels;

/// [`AlbertKernels::masked_softmax`] on autodiff: the backward is the inner backend's
/// `softmax_backward` of the kept output (no gradient flows to the mask).
pub(super) fn masked_softmax<B: Backend + AlbertKernels, C: CheckpointStrategy>(
    scores: FloatTensor<Autodiff<B, C>>,
    mask: FloatTensor<Autodiff<B, C>>,
) -> FloatTensor<Autodiff<B, C>> {
    let mask = mask.into_primitive();
    output_kept::<B, C>(scores, |s| B::masked_softmax(s, mask), B::softmax_backward)
}

/// [`AlbertKernels::fused_log_softmax`] on autodiff: the backward is the inner backend's
/// `log_softmax_backward` of the kept output.
pub(super) fn log_softmax<B: Backend + AlbertKernels, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
) -> FloatTensor<Autodiff<B, C>> {
    output_kept::<B, C>(x, B::fused_log_softmax, B::log_softmax_backward)
}

/// The input gradient of an op from its output and the output's gradient.
type FromOutput<B> = fn(FloatTensor<B>, FloatTensor<B>) -> FloatTensor<B>;

/// A one-input op whose backward needs only its output.
struct OutputKept<B: Backend> {
    backward: FromOutput<B>,
}

impl<B: Backend> std::fmt::Debug for OutputKept<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutputKept")
    }
}

impl<B: Backend> Backward<B, 1> for OutputKept<B> {
    /// The output.
    type State = FloatTensor<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (output, backward) = (ops.state, self.backward);
        unary::<B, _>(ops.parents, ops.node, grads, |grad| backward(output, grad));
    }
}

/// `forward(x)` on the inner backend, registered (when `x` is tracked) with the output kept
/// for `backward(output, grad)`.
fn output_kept<B: Backend, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    forward: impl FnOnce(FloatTensor<B>) -> FloatTensor<B>,
    backward: FromOutput<B>,
) -> FloatTensor<Autodiff<B, C>> {
    let op = OutputKept { backward };
    match op.prepare::<C>([x.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let out = forward(x.into_primitive());
            prep.finish(out.clone(), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(x.into_primitive())),
    }
}
