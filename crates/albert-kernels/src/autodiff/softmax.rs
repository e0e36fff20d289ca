//! The softmax family under autodiff: the attention's masked softmax and the losses'
//! log-softmax, each keeping its output for a one-pass backward.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::{Autodiff, Backend, tensor::FloatTensor};

use crate::AlbertKernels;

/// [`AlbertKernels::masked_softmax`] on autodiff: the backward is the inner backend's
/// `softmax_backward` of the kept output.
pub(super) fn masked_softmax<B: Backend + AlbertKernels, C: CheckpointStrategy>(
    scores: FloatTensor<Autodiff<B, C>>,
    mask: FloatTensor<Autodiff<B, C>>,
) -> FloatTensor<Autodiff<B, C>> {
    #[derive(Debug)]
    struct MaskedSoftmax;

    impl<B: Backend + AlbertKernels> Backward<B, 1> for MaskedSoftmax {
        /// The output (the backward needs only it).
        type State = FloatTensor<B>;

        fn backward(
            self,
            ops: Ops<Self::State, 1>,
            grads: &mut Gradients,
            _checkpointer: &mut Checkpointer,
        ) {
            let output = ops.state;
            unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                B::softmax_backward(output, grad)
            });
        }
    }

    let mask = mask.into_primitive();
    match MaskedSoftmax
        .prepare::<C>([scores.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let out = B::masked_softmax(scores.into_primitive(), mask);
            prep.finish(out.clone(), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(B::masked_softmax(scores.into_primitive(), mask)),
    }
}

/// [`AlbertKernels::fused_log_softmax`] on autodiff: the backward is the inner backend's
/// `log_softmax_backward` of the kept output.
pub(super) fn log_softmax<B: Backend + AlbertKernels, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
) -> FloatTensor<Autodiff<B, C>> {
    #[derive(Debug)]
    struct LogSoftmax;

    impl<B: Backend + AlbertKernels> Backward<B, 1> for LogSoftmax {
        /// The output (the backward needs only it).
        type State = FloatTensor<B>;

        fn backward(
            self,
            ops: Ops<Self::State, 1>,
            grads: &mut Gradients,
            _checkpointer: &mut Checkpointer,
        ) {
            let output = ops.state;
            unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                B::log_softmax_backward(output, grad)
            });
        }
    }

    match LogSoftmax
        .prepare::<C>([x.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let out = B::fused_log_softmax(x.into_primitive());
            prep.finish(out.clone(), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(B::fused_log_softmax(x.into_primitive())),
    }
}
