//! The inference-only entry points: fused operations without a backward (they refuse autodiff
//! devices), and the kept conversions of weights they read.

use albert_core::precision::Precision;
use burn::backend::Dispatch;
use burn::tensor::Tensor;

use super::{AlbertKernels, flex, gemm_bf16, gemm_int8, layer_norm};

/// A model's weight rounded to `precision` for inference: [`round`](crate::round), done once
/// for as long as the weight's storage lives (kept by the kernels; later calls return the same
/// rounded tensor), where a forward pass under bf16 or fp16 would otherwise round every weight again.
/// Only for tensors on a flex device without autodiff (training rounds per forward pass,
/// with the rounding's pass-through gradient).
///
/// # Panics
/// On an autodiff device.
pub fn round_weight(w: Tensor<2>, precision: Precision) -> Tensor<2> {
    assert!(
        !w.device().is_autodiff(),
        "round_weight is for inference: it has no backward"
    );
    Tensor::from_dispatch(<Dispatch as AlbertKernels>::round_weight(
        w.into_dispatch(),
        precision,
    ))
}

/// Drops every weight the kernels converted and keep for reuse — rounded to bf16 or fp16 for
/// inference ([`round_weight`]), quantised to int8 (`--precision int8`), packed for a bf16
/// product path — and their hold on the weights they came from. The kernels keep a conversion
/// for as long as its weight is held elsewhere and notice a dropped weight at their next
/// conversion; call this after dropping a model when no other model will run in bf16, fp16
/// or int8 soon, to free its memory at once. Later products convert again as needed.
pub fn release_converted_weights() {
    flex::release_rounded_weights();
    gemm_int8::release_quantised_weights();
    gemm_bf16::release_packed_weights();
}

/// Three linear layers of one input `x` `[rows, in]` — weights `[in, out]` and biases `[out]`
/// of the same width — for inference: [`linear`](crate::linear) three times, in one parallel
/// pass over the rows (one quantisation of `x` under int8 instead of three, one wake-up of the
/// threads).
/// Only for tensors on a flex device without autodiff.
///
/// # Panics
/// On an autodiff device, or when the shapes disagree.
pub fn linear3(
    x: Tensor<2>,
    w: [Tensor<2>; 3],
    b: [Tensor<1>; 3],
    operands: Precision,
    output: Precision,
) -> [Tensor<2>; 3] {
    assert!(
        !x.device().is_autodiff(),
        "linear3 is for inference: it has no backward"
    );
    let [rows, d_in] = x.dims();
    let out = b[0].dims()[0];
    assert!(
        w.iter().all(|w| w.dims() == [d_in, out]) && b.iter().all(|b| b.dims() == [out]),
        "linear3: weights [{d_in}, {out}] and biases [{out}] expected"
    );
    let [w0, w1, w2] = w;
    let [b0, b1, b2] = b;
    let all: Tensor<3> = Tensor::from_dispatch(<Dispatch as AlbertKernels>::fused_linear3(
        x.into_dispatch(),
        w0.into_dispatch(),
        w1.into_dispatch(),
        w2.into_dispatch(),
        b0.into_dispatch(),
        b1.into_dispatch(),
        b2.into_dispatch(),
        operands,
        output,
    ));
    // Three views of the one buffer: no copy.
    std::array::from_fn(|j| all.clone().narrow(0, j, 1).reshape([rows, out]))
}

/// `LayerNorm(x)` for inference, and the same values rounded to `output` (the operand of the
/// products that read the LayerNorm's output, while the float32 values go on to the residual):
/// one pass writes both, where the LayerNorm and a rounding pass would read and write the rows
/// twice. `x` is `[rows, features]`. Only for tensors on a flex device without autodiff (the
/// rounded values would need the rounding's pass-through gradient: training takes
/// [`layer_norm`] and [`round`](crate::round)).
///
/// # Panics
/// On an autodiff device, or when `γ` or `β` is not `features` long.
pub fn layer_norm_operand(
    x: Tensor<2>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    output: Precision,
) -> (Tensor<2>, Tensor<2>) {
    assert!(
        !x.device().is_autodiff(),
        "layer_norm_operand is inference only: it has no backward"
    );
    let [rows, h] = x.dims();
    assert!(
        gamma.dims() == [h] && beta.dims() == [h],
        "layer_norm_operand: γ {:?} and β {:?} for {h} features",
        gamma.dims(),
        beta.dims()
    );
    if !output.rounds() {
        // Nothing to round: the output is its own operand.
        let y = layer_norm(x, gamma, beta, epsilon);
        return (y.clone(), y);
    }
    let both: Tensor<3> = Tensor::from_dispatch(<Dispatch as AlbertKernels>::layer_norm_operand(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
        output,
    ));
    // Two views of the one buffer: no copy.
    let values = both.clone().narrow(0, 0, 1).reshape([rows, h]);
    let rounded = both.narrow(0, 1, 1).reshape([rows, h]);
    (values, rounded)
}

/// Multi-head attention for inference, `softmax(q·kᵀ/√d + mask)·v` per head with
/// `d = H / heads`: `q`, `k`, `v` are `[B, n, H]` (the projections' outputs, heads side by
/// side), `mask` the additive key mask `[B, 1, 1, n]`; returns the context `[B, n, H]`,
/// rounded to `output` (the output projection's operand under bf16 or fp16). Only for tensors
/// on a flex device without autodiff (training takes [`masked_softmax`](crate::masked_softmax),
/// which has a backward).
///
/// # Panics
/// On an autodiff device, or when the shapes disagree.
pub fn attention_rows(
    q: Tensor<3>,
    k: Tensor<3>,
    v: Tensor<3>,
    mask: Tensor<4>,
    heads: usize,
    output: Precision,
) -> Tensor<3> {
    assert!(
        !q.device().is_autodiff(),
        "attention_rows is inference only: it has no backward"
    );
    let [b, n, h] = q.dims();
    assert!(
        k.dims() == [b, n, h] && v.dims() == [b, n, h] && heads > 0 && h % heads == 0,
        "attention_rows: q {:?}, k {:?}, v {:?} with {heads} heads",
        q.dims(),
        k.dims(),
        v.dims()
    );
    assert_eq!(
        mask.dims(),
        [b, 1, 1, n],
        "attention_rows: the mask must be [B, 1, 1, n]"
    );
    Tensor::from_dispatch(<Dispatch as AlbertKernels>::attention_rows(
        q.into_dispatch(),
        k.into_dispatch(),
        v.into_dispatch(),
        mask.into_dispatch(),
        heads,
        output,
    ))
}
