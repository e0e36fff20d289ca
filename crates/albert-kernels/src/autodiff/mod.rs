//! The kernels under burn's autodiff: each forward registers a `Backward` whose pass calls the
//! inner backend's backward kernels (inputs checkpointed; the softmax keeps its output).

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::{Autodiff, AutodiffBackend, Backend, tensor::FloatTensor};

use albert_core::precision::Precision;

use super::AlbertKernels;

mod softmax;

impl<B: Backend + AlbertKernels, C: CheckpointStrategy> AlbertKernels for Autodiff<B, C> {
    fn gelu_tanh(x: FloatTensor<Self>, output: Precision) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct GeluTanh;

        impl<B: Backend + AlbertKernels> Backward<B, 1> for GeluTanh {
            type State = NodeId;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let input = checkpointer.retrieve_node_output(ops.state);
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::gelu_tanh_backward(input, grad)
                });
            }
        }

        match GeluTanh.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&x);
                prep.finish(state, B::gelu_tanh(x.primitive().clone(), output))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gelu_tanh(x.into_primitive(), output)),
        }
    }

    fn gelu_tanh_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        // Second derivatives are not needed by any ALBERT objective: run it untracked.
        let out = B::gelu_tanh_backward(x.into_primitive(), grad.into_primitive());
        Self::from_inner(out)
    }

    fn round(x: FloatTensor<Self>, precision: Precision) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Round;

        impl<B: Backend + AlbertKernels> Backward<B, 1> for Round {
            type State = ();

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                unary::<B, _>(ops.parents, ops.node, grads, |grad| grad);
            }
        }

        let prep = Round.prepare::<C>([x.node()]).compute_bound();
        prep.stateless(B::round(x.into_primitive(), precision))
    }

    fn fused_linear3(
        x: FloatTensor<Self>,
        w0: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b0: FloatTensor<Self>,
        b1: FloatTensor<Self>,
        b2: FloatTensor<Self>,
        operands: Precision,
        output: Precision,
    ) -> FloatTensor<Self> {
        // Inference only (the public wrapper refuses autodiff devices): untracked.
        Self::from_inner(B::fused_linear3(
            x.into_primitive(),
            w0.into_primitive(),
            w1.into_primitive(),
            w2.into_primitive(),
            b0.into_primitive(),
            b1.into_primitive(),
            b2.into_primitive(),
            operands,
            output,
        ))
    }

    fn round_weight(w: FloatTensor<Self>, precision: Precision) -> FloatTensor<Self> {
        // Inference only (the public wrapper refuses autodiff devices): untracked.
        Self::from_inner(B::round_weight(w.into_primitive(), precision))
    }

    fn fused_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct LayerNormOp;

        impl<B: Backend + AlbertKernels> Backward<B, 3> for LayerNormOp {
            /// The checkpointed input and `γ`, and `ε`.
            type State = (NodeId, NodeId, f64);

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let (x_id, gamma_id, epsilon) = ops.state;
                let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_id);
                let gamma: FloatTensor<B> = checkpointer.retrieve_node_output(gamma_id);
                let grad = grads.consume::<B>(&ops.node);
                let [x_parent, gamma_parent, beta_parent] = ops.parents;
                if let Some(node) = beta_parent {
                    grads.register::<B>(node.id, B::sum_rows(grad.clone()));
                }
                if let Some(node) = gamma_parent {
                    let g = B::layer_norm_backward_gamma(x.clone(), grad.clone(), epsilon);
                    grads.register::<B>(node.id, g);
                }
                if let Some(node) = x_parent {
                    let g = B::layer_norm_backward_input(x, gamma, grad, epsilon);
                    grads.register::<B>(node.id, g);
                }
            }
        }

        match LayerNormOp
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&gamma), epsilon);
                let out = B::fused_layer_norm(
                    x.primitive().clone(),
                    gamma.primitive().clone(),
                    beta.into_primitive(),
                    epsilon,
                );
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_layer_norm(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
                epsilon,
            )),
        }
    }

    fn layer_norm_backward_input(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let out = B::layer_norm_backward_input(
            x.into_primitive(),
            gamma.into_primitive(),
            grad.into_primitive(),
            epsilon,
        );
        Self::from_inner(out)
    }

    fn layer_norm_backward_gamma(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let out = B::layer_norm_backward_gamma(x.into_primitive(), grad.into_primitive(), epsilon);
        Self::from_inner(out)
    }

    fn sum_rows(grad: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::from_inner(B::sum_rows(grad.into_primitive()))
    }

    fn fused_linear(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        operands: Precision,
        output: Precision,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct LinearOp;

        impl<B: Backend + AlbertKernels> Backward<B, 3> for LinearOp {
            /// The checkpointed input and weight.
            type State = (NodeId, NodeId);

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let grad = grads.consume::<B>(&ops.node);
                let parents = ops.parents.map(|p| p.map(|node| node.id));
                linear_grads::<B>(ops.state, parents, grad, grads, checkpointer);
            }
        }

        match LinearOp
            .prepare::<C>([x.node(), w.node(), b.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&w));
                let out = B::fused_linear(
                    x.primitive().clone(),
                    w.primitive().clone(),
                    b.into_primitive(),
                    operands,
                    output,
                );
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_linear(
                x.into_primitive(),
                w.into_primitive(),
                b.into_primitive(),
                operands,
                output,
            )),
        }
    }

    fn fused_linear_residual(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        operands: Precision,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct LinearResidualOp;

        impl<B: Backend + AlbertKernels> Backward<B, 4> for LinearResidualOp {
            /// The checkpointed input and weight.
            type State = (NodeId, NodeId);

            fn backward(
                self,
                ops: Ops<Self::State, 4>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let grad = grads.consume::<B>(&ops.node);
                let [x_parent, w_parent, b_parent, r_parent] = ops.parents;
                if let Some(node) = r_parent {
                    grads.register::<B>(node.id, grad.clone());
                }
                let parents = [x_parent, w_parent, b_parent].map(|p| p.map(|node| node.id));
                linear_grads::<B>(ops.state, parents, grad, grads, checkpointer);
            }
        }

        match LinearResidualOp
            .prepare::<C>([x.node(), w.node(), b.node(), residual.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&w));
                let out = B::fused_linear_residual(
                    x.primitive().clone(),
                    w.primitive().clone(),
                    b.into_primitive(),
                    residual.into_primitive(),
                    operands,
                );
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_linear_residual(
                x.into_primitive(),
                w.into_primitive(),
                b.into_primitive(),
                residual.into_primitive(),
                operands,
            )),
        }
    }

    fn linear_backward_input(grad: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::from_inner(B::linear_backward_input(
            grad.into_primitive(),
            w.into_primitive(),
        ))
    }

    fn linear_backward_weight(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::from_inner(B::linear_backward_weight(
            x.into_primitive(),
            grad.into_primitive(),
        ))
    }

    fn attention_scores(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        heads: usize,
        scale: f64,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Scores;

        impl<B: Backend + AlbertKernels> Backward<B, 2> for Scores {
            /// The checkpointed `q` and `k`, the head count and the scale.
            type State = (NodeId, NodeId, usize, f64);

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let (q_id, k_id, heads, scale) = ops.state;
                let q: FloatTensor<B> = checkpointer.retrieve_node_output(q_id);
                let k: FloatTensor<B> = checkpointer.retrieve_node_output(k_id);
                let grad = grads.consume::<B>(&ops.node);
                let [q_parent, k_parent] = ops.parents;
                if let Some(node) = k_parent {
                    let g = B::attention_scores_backward_k(grad.clone(), q, heads, scale);
                    grads.register::<B>(node.id, g);
                }
                if let Some(node) = q_parent {
                    let g = B::attention_scores_backward_q(grad, k, heads, scale);
                    grads.register::<B>(node.id, g);
                }
            }
        }

        match Scores
            .prepare::<C>([q.node(), k.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&q), prep.checkpoint(&k), heads, scale);
                let out =
                    B::attention_scores(q.primitive().clone(), k.primitive().clone(), heads, scale);
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::attention_scores(
                q.into_primitive(),
                k.into_primitive(),
                heads,
                scale,
            )),
        }
    }

    fn attention_scores_backward_q(
        grad: FloatTensor<Self>,
        k: FloatTensor<Self>,
        heads: usize,
        scale: f64,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::attention_scores_backward_q(
            grad.into_primitive(),
            k.into_primitive(),
            heads,
            scale,
        ))
    }

    fn attention_scores_backward_k(
        grad: FloatTensor<Self>,
        q: FloatTensor<Self>,
        heads: usize,
        scale: f64,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::attention_scores_backward_k(
            grad.into_primitive(),
            q.into_primitive(),
            heads,
            scale,
        ))
    }

    fn attention_context(
        probs: FloatTensor<Self>,
        v: FloatTensor<Self>,
        heads: usize,
        precision: Precision,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Context;

        impl<B: Backend + AlbertKernels> Backward<B, 2> for Context {
            /// The checkpointed probabilities and `v`, the head count, and the precision the
            /// product rounds the probabilities to.
            type State = (NodeId, NodeId, usize, Precision);

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let (p_id, v_id, heads, precision) = ops.state;
                let probs: FloatTensor<B> = checkpointer.retrieve_node_output(p_id);
                let v: FloatTensor<B> = checkpointer.retrieve_node_output(v_id);
                let grad = grads.consume::<B>(&ops.node);
                let [p_parent, v_parent] = ops.parents;
                if let Some(node) = v_parent {
                    let g = B::attention_context_backward_v(grad.clone(), probs, heads, precision);
                    grads.register::<B>(node.id, g);
                }
                if let Some(node) = p_parent {
                    let g = B::attention_context_backward_probs(grad, v, heads);
                    grads.register::<B>(node.id, g);
                }
            }
        }

        match Context
            .prepare::<C>([probs.node(), v.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (
                    prep.checkpoint(&probs),
                    prep.checkpoint(&v),
                    heads,
                    precision,
                );
                let out = B::attention_context(
                    probs.primitive().clone(),
                    v.primitive().clone(),
                    heads,
                    precision,
                );
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::attention_context(
                probs.into_primitive(),
                v.into_primitive(),
                heads,
                precision,
            )),
        }
    }

    fn attention_context_backward_probs(
        grad: FloatTensor<Self>,
        v: FloatTensor<Self>,
        heads: usize,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::attention_context_backward_probs(
            grad.into_primitive(),
            v.into_primitive(),
            heads,
        ))
    }

    fn attention_context_backward_v(
        grad: FloatTensor<Self>,
        probs: FloatTensor<Self>,
        heads: usize,
        precision: Precision,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::attention_context_backward_v(
            grad.into_primitive(),
            probs.into_primitive(),
            heads,
            precision,
        ))
    }

    fn masked_softmax(scores: FloatTensor<Self>, mask: FloatTensor<Self>) -> FloatTensor<Self> {
        softmax::masked_softmax::<B, C>(scores, mask)
    }

    fn fused_log_softmax(x: FloatTensor<Self>) -> FloatTensor<Self> {
        softmax::log_softmax::<B, C>(x)
    }

    fn log_softmax_backward(
        output: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let out = B::log_softmax_backward(output.into_primitive(), grad.into_primitive());
        Self::from_inner(out)
    }

    fn softmax_backward(output: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let out = B::softmax_backward(output.into_primitive(), grad.into_primitive());
        Self::from_inner(out)
    }

    fn layer_norm_operand(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        output: Precision,
    ) -> FloatTensor<Self> {
        // Inference only (the public wrapper refuses autodiff devices): untracked.
        let out = B::layer_norm_operand(
            x.into_primitive(),
            gamma.into_primitive(),
            beta.into_primitive(),
            epsilon,
            output,
        );
        Self::from_inner(out)
    }

    fn attention_rows(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        heads: usize,
        output: Precision,
    ) -> FloatTensor<Self> {
        // Inference only (the public wrapper refuses autodiff devices): untracked.
        let out = B::attention_rows(
            q.into_primitive(),
            k.into_primitive(),
            v.into_primitive(),
            mask.into_primitive(),
            heads,
            output,
        );
        Self::from_inner(out)
    }
}

/// The gradients of `x·w + b` for whichever of `x`, `w`, `b` are tracked: `grad·wᵀ`, `xᵀ·grad`
/// and the column sums of `grad` (`x` and `w` retrieved from their checkpoints).
fn linear_grads<B: Backend + AlbertKernels>(
    (x_id, w_id): (NodeId, NodeId),
    [x_parent, w_parent, b_parent]: [Option<NodeId>; 3],
    grad: FloatTensor<B>,
    grads: &mut Gradients,
    checkpointer: &mut Checkpointer,
) {
    let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_id);
    let w: FloatTensor<B> = checkpointer.retrieve_node_output(w_id);
    if let Some(id) = b_parent {
        grads.register::<B>(id, B::sum_rows(grad.clone()));
    }
    if let Some(id) = w_parent {
        grads.register::<B>(id, B::linear_backward_weight(x, grad.clone()));
    }
    if let Some(id) = x_parent {
        grads.register::<B>(id, B::linear_backward_input(grad, w));
    }
}
