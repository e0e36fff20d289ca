//! # albert-kernels
//!
//! Fused, multi-threaded CPU kernels for burn's `flex` backend, plugged into the ALBERT model
//! through [`albert_core::ops::Kernels`]: call [`install`] once at the start of a program and
//! every linear layer, LayerNorm, GELU and attention of an ALBERT model on a flex device (with
//! or without autodiff) runs here; other devices keep burn's composed ops. The `albert` binary
//! and `albert-bench` install them when they pick the CPU device.
//!
//! ```no_run
//! albert_kernels::memory::tune_allocator(); // first thing in `main`, before threads start
//! albert_kernels::install();
//! let device = burn::tensor::Device::flex();
//! // build, load and run an `albert_core` model on `device` as usual
//! ```
//!
//! The kernels are registered with burn's backend-extension mechanism
//! (`#[backend_extension(Flex, Autodiff)]`): a flex implementation (rayon chunks, a branch-free
//! `exp` the compiler vectorises, reductions through 16 independent lanes so they vectorise too)
//! and an autodiff implementation with its own backward. One pass forward and one pass backward
//! where burn composes several element-wise ops (flex's unary ops call libm's scalar `expf` on
//! one thread):
//!
//! - [`gelu_tanh`]: HF's `gelu_new`, forward `x·σ(u)` with `u = 2√(2/π)·x·(1 + 0.044715x²)`,
//!   backward `g·(σ(u) + x·σ(u)(1 − σ(u))·u')`.
//! - [`layer_norm`]: forward is flex's own fused LayerNorm; burn's autodiff would instead record
//!   the decomposed ops (mean, subtract, square, mean, add, sqrt, divide, scale, shift) and run
//!   each one's backward. Here the backward is three fused passes: with `x̂ = (x − μ)·r`,
//!   `r = 1/√(σ² + ε)` recomputed per row, `dx = r·(g·γ − mean(g·γ) − x̂·mean(g·γ·x̂))`,
//!   `dγ = Σ_rows g·x̂`, `dβ = Σ_rows g`, the sums in a fixed chunk order (deterministic for any
//!   thread count).
//! - [`linear`], [`linear_residual`]: one `gemm` whose output starts as the (residual and) bias
//!   rows, or takes the bias as one more inner dimension when the output is wide; the backward
//!   is two strided `gemm`s and a column sum.
//! - [`masked_softmax`]: attention probabilities `softmax(scores + mask)` over the last axis, the
//!   additive key mask broadcast over heads and queries, in place on the scores buffer when it
//!   is not shared; backward `dS = y·(g − Σ g·y)` in one pass (in place on the incoming
//!   gradient).
//! - [`log_softmax`]: the cross-entropy losses' `x − log Σ e^x` over rows (the MLM head's
//!   vocabulary above all) in one pass per row block with a vectorised `exp`; backward
//!   `g − e^y·Σ g` in one pass (in place on the incoming gradient).
//! - [`attention_scores`], [`attention_context`]: per-(item, head) products straight from and
//!   into the `[B, n, H]` projections (no head transposes), with their backward.
//! - [`attention_rows`] (inference): `softmax(q·kᵀ/√d + mask)·v` for every (item, head) in
//!   parallel, one `n × n` scratch per thread, the two products through `gemm` (the crate flex
//!   uses) and the softmax as above.
//!
//! Under bf16 (`albert_core::precision`) the linear layers can run their products on the CPU's
//! bf16 units (`gemm_bf16`: AMX tiles, AVX512-BF16 `vdpbf16ps` or its AVX-512F emulation,
//! each shared weight packed once per forward pass), when [`BF16_GEMM_ENV`] or
//! [`with_bf16_path`] picks a [`Bf16Path`]; by default bf16 products are the f32 `gemm` on
//! rounded operands.
//!
//! [`on_flex`] says when a tensor can take these kernels; [`DISABLE_ENV`] turns them off at run
//! time. [`memory`] tunes glibc's allocator for tensor workloads.

use albert_core::precision::Precision;
use burn::backend::{Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::tensor::{Device, Tensor};

mod autodiff;
mod flex;
mod gemm_bf16;
mod gemm_int8;
mod inference;
mod install;
mod math;
mod matmul;
pub mod memory;
mod storage;
mod weight_cache;

#[cfg(target_arch = "x86_64")]
pub use gemm_bf16::amx_peak_loop;
pub use gemm_bf16::{BF16_GEMM_ENV, Bf16Path, amx_bf16_usable, bf16_path, with_bf16_path};
pub use gemm_int8::{INT8_GEMM_ENV, Int8Path, int8_path, with_int8_path};
pub use inference::{
    attention_rows, layer_norm_operand, linear3, release_converted_weights, round_weight,
};
pub use install::{FlexKernels, install};
pub use math::exp_approx;

/// Runs `f` with `value` in the thread-local `cell`, restoring the previous value afterwards
/// (also when `f` panics): the scoped per-thread overrides of the product paths
/// ([`with_bf16_path`], [`with_int8_path`]).
fn with_thread_value<V: Copy + 'static, T>(
    cell: &'static std::thread::LocalKey<std::cell::Cell<V>>,
    value: V,
    f: impl FnOnce() -> T,
) -> T {
    struct Restore<V: Copy + 'static>(&'static std::thread::LocalKey<std::cell::Cell<V>>, V);
    impl<V: Copy + 'static> Drop for Restore<V> {
        fn drop(&mut self) {
            self.0.with(|c| c.set(self.1));
        }
    }
    let _restore = Restore(cell, cell.with(|c| c.replace(value)));
    f()
}

/// `2·√(2/π)`.
const TWO_K: f32 = 1.595_769_2;
/// The cubic coefficient of `gelu_new`.
const CUBIC: f32 = 0.044_715;
/// Elements per parallel task: large enough that a task outweighs its scheduling.
const CHUNK: usize = 1 << 14;

/// The fused operations, dispatched to flex (and autodiff over flex) by burn's extension
/// machinery.
#[backend_extension(Flex, Autodiff)]
pub trait AlbertKernels: Backend {
    /// `gelu_new(x)`, rounded to `output` (the operand of a bf16 or fp16 product; the gradient
    /// passes that rounding unchanged).
    fn gelu_tanh(x: FloatTensor<Self>, output: Precision) -> FloatTensor<Self>;
    /// `grad · gelu_new'(x)`.
    fn gelu_tanh_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Every element rounded to `precision`'s nearest value (ties to even), kept as f32: a
    /// bf16 or fp16 product's operand. The gradient passes through unchanged (the gradient of
    /// a cast).
    fn round(x: FloatTensor<Self>, precision: Precision) -> FloatTensor<Self>;
    /// A weight `w` rounded to `precision` ([`AlbertKernels::round`]), once for as long as
    /// `w`'s storage lives (a model's weight, for inference: every later call returns the
    /// same rounded tensor). Not tracked by autodiff (see [`round_weight`]).
    fn round_weight(w: FloatTensor<Self>, precision: Precision) -> FloatTensor<Self>;
    /// `(x − μ)/√(σ² + ε)·γ + β` over the last axis.
    fn fused_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;
    /// The LayerNorm's input gradient for the output gradient `grad`.
    fn layer_norm_backward_input(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;
    /// The LayerNorm's `γ` gradient, `Σ_rows grad·x̂`.
    fn layer_norm_backward_gamma(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;
    /// `Σ_rows grad` over the last axis (the LayerNorm's `β` and a linear layer's bias
    /// gradient).
    fn sum_rows(grad: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `x·w + b` for `x` `[rows, in]`, `w` `[in, out]` (burn's `Linear` weight) and `b` `[out]`;
    /// the operands hold values of `operands` precision (under bf16 the product may run on this
    /// thread's bf16 path: [`gemm_bf16::bf16_path`]); the output rounded to `output` (the
    /// operand of the next product; the gradient passes that rounding unchanged).
    fn fused_linear(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        operands: Precision,
        output: Precision,
    ) -> FloatTensor<Self>;
    /// Three linear layers of the same input and output width, `x·w_j + b_j`, as
    /// `[3, rows, out]` (the query, key and value projections): one pass over the rows for
    /// all three (under int8 one quantisation of `x`). Not tracked by autodiff (see
    /// [`linear3`]).
    #[allow(clippy::too_many_arguments)]
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
    ) -> FloatTensor<Self>;
    /// `residual + x·w + b`: [`AlbertKernels::fused_linear`] whose output starts from the
    /// residual rows (a transformer sublayer's `x + dense(·)` without a separate add).
    fn fused_linear_residual(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        operands: Precision,
    ) -> FloatTensor<Self>;
    /// `grad·wᵀ`: [`AlbertKernels::fused_linear`]'s input gradient.
    fn linear_backward_input(grad: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `xᵀ·grad`: [`AlbertKernels::fused_linear`]'s weight gradient.
    fn linear_backward_weight(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `softmax(scores + mask)` over the last axis, for `scores` of shape `[B, …, K]` and an
    /// additive `mask` of `K` values per batch item (`[B or 1, 1, …, K]`). The mask is a
    /// constant: no gradient flows to it.
    fn masked_softmax(scores: FloatTensor<Self>, mask: FloatTensor<Self>) -> FloatTensor<Self>;
    /// The softmax's input gradient `y·(grad − Σ grad·y)` from its output `y`.
    fn softmax_backward(output: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `x − log Σ e^x` over the last axis (the log-probabilities a cross-entropy loss reads).
    fn fused_log_softmax(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// The log-softmax's input gradient `grad − e^y·Σ grad` from its output `y`.
    fn log_softmax_backward(
        output: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// Every head's scores `scale·q_h·k_hᵀ` as `[B, heads, n, n]`, for `q`, `k` `[B, n, H]`
    /// (heads side by side).
    fn attention_scores(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        heads: usize,
        scale: f64,
    ) -> FloatTensor<Self>;
    /// `scale·dS_h·k_h` as `[B, n, H]`: the scores' gradient with respect to `q`.
    fn attention_scores_backward_q(
        grad: FloatTensor<Self>,
        k: FloatTensor<Self>,
        heads: usize,
        scale: f64,
    ) -> FloatTensor<Self>;
    /// `scale·dS_hᵀ·q_h` as `[B, n, H]`: the scores' gradient with respect to `k`.
    fn attention_scores_backward_k(
        grad: FloatTensor<Self>,
        q: FloatTensor<Self>,
        heads: usize,
        scale: f64,
    ) -> FloatTensor<Self>;
    /// Every head's context `p_h·v_h` as `[B, n, H]`, for probabilities `[B, heads, n, n]` and
    /// `v` `[B, n, H]`. In a half `precision` each `p_h` is first rounded to it, one head's
    /// block at a time (no rounded copy of the whole tensor), and the context is written
    /// rounded (the output projection's operand); the gradients pass both roundings unchanged.
    fn attention_context(
        probs: FloatTensor<Self>,
        v: FloatTensor<Self>,
        heads: usize,
        precision: Precision,
    ) -> FloatTensor<Self>;
    /// `dC_h·v_hᵀ` as `[B, heads, n, n]`: the context's gradient with respect to the
    /// probabilities.
    fn attention_context_backward_probs(
        grad: FloatTensor<Self>,
        v: FloatTensor<Self>,
        heads: usize,
    ) -> FloatTensor<Self>;
    /// `p_hᵀ·dC_h` as `[B, n, H]`: the context's gradient with respect to `v` (`p_h` rounded
    /// to `precision` first, as in the forward product).
    fn attention_context_backward_v(
        grad: FloatTensor<Self>,
        probs: FloatTensor<Self>,
        heads: usize,
        precision: Precision,
    ) -> FloatTensor<Self>;
    /// The LayerNorm of `x` `[rows, features]` ([`AlbertKernels::fused_layer_norm`]) as
    /// `[2, rows, features]`: the float32 values, then the same values rounded to `output`
    /// (the operand of the products that read them), written in one pass. Not tracked by
    /// autodiff (see [`layer_norm_operand`]).
    fn layer_norm_operand(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        output: Precision,
    ) -> FloatTensor<Self>;
    /// Multi-head attention for inference: `q`, `k`, `v` and the output are `[B, n, H]` rows
    /// (heads side by side), `mask` the additive key mask (`n` values per item); the output
    /// rounded to `output`. Not tracked by autodiff (see [`attention_rows`]).
    fn attention_rows(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        heads: usize,
        output: Precision,
    ) -> FloatTensor<Self>;
}

/// The environment variable that turns the kernels off when set to `0` (A/B benchmarks,
/// debugging): every op then takes burn's composed path.
pub const DISABLE_ENV: &str = "ALBERT_FLEX_KERNELS";

/// Whether the kernels apply to `device`: a flex device (with or without autodiff), unless
/// [`DISABLE_ENV`] is `0`.
pub fn on_flex(device: &Device) -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var(DISABLE_ENV).map_or(true, |v| v != "0"))
        && device.clone().inner() == Device::flex()
}

/// `gelu_new(x)` through the fused kernel, every value rounded to `output` in the same pass (a
/// bf16 or fp16 product's operand; the gradient passes that rounding). Only for tensors on a
/// flex device ([`on_flex`]).
pub fn gelu_tanh<const D: usize>(x: Tensor<D>, output: Precision) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as AlbertKernels>::gelu_tanh(
        x.into_dispatch(),
        output,
    ))
}

/// Every element rounded to `precision` and kept as f32, the gradient passed through, through
/// the fused kernel. Only for tensors on a flex device ([`on_flex`]).
pub fn round<const D: usize>(x: Tensor<D>, precision: Precision) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as AlbertKernels>::round(
        x.into_dispatch(),
        precision,
    ))
}

/// [`round`] to bfloat16.
pub fn round_bf16<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    round(x, Precision::Bf16)
}

/// `LayerNorm(x)` with `γ`, `β`, `ε` through the fused kernels. Only for tensors on a flex
/// device ([`on_flex`]).
pub fn layer_norm<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as AlbertKernels>::fused_layer_norm(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    ))
}

/// `x·w + b` through the fused kernel (one `gemm` whose output starts as the bias rows, or
/// takes the bias as one more inner dimension when the output is wide; the backward is two
/// `gemm`s reading the operands through their strides and a column sum): `x` `[rows, in]`,
/// `w` `[in, out]` (may be a transposed view, as the tied MLM decoder's), `b` `[out]`. The
/// operands hold values of `operands` precision (round them first); under bf16 the product
/// runs on this thread's bf16 path when one is chosen ([`bf16_path`]), otherwise it is the f32
/// `gemm`. The output is rounded to `output` as it leaves the kernel (the operand of the next
/// product; the gradient passes that rounding). Only for tensors on a flex device
/// ([`on_flex`]).
///
/// # Panics
/// When the shapes disagree.
pub fn linear(
    x: Tensor<2>,
    w: Tensor<2>,
    b: Tensor<1>,
    operands: Precision,
    output: Precision,
) -> Tensor<2> {
    check_linear(&x, &w, &b);
    Tensor::from_dispatch(<Dispatch as AlbertKernels>::fused_linear(
        x.into_dispatch(),
        w.into_dispatch(),
        b.into_dispatch(),
        operands,
        output,
    ))
}

/// `residual + x·w + b` for `residual` `[rows, out]` (as [`linear`], the product accumulated
/// onto the residual and bias rows, on the bf16 path under `operands` bf16). Only for tensors
/// on a flex device ([`on_flex`]).
///
/// # Panics
/// When the shapes disagree.
pub fn linear_residual(
    x: Tensor<2>,
    w: Tensor<2>,
    b: Tensor<1>,
    residual: Tensor<2>,
    operands: Precision,
) -> Tensor<2> {
    check_linear(&x, &w, &b);
    let ([rows, _], [_, d_out]) = (x.dims(), w.dims());
    assert_eq!(
        residual.dims(),
        [rows, d_out],
        "linear_residual: residual {:?} for an output [{rows}, {d_out}]",
        residual.dims()
    );
    Tensor::from_dispatch(<Dispatch as AlbertKernels>::fused_linear_residual(
        x.into_dispatch(),
        w.into_dispatch(),
        b.into_dispatch(),
        residual.into_dispatch(),
        operands,
    ))
}

fn check_linear(x: &Tensor<2>, w: &Tensor<2>, b: &Tensor<1>) {
    let ([_, d_in], [w_in, d_out], [b_out]) = (x.dims(), w.dims(), b.dims());
    assert!(
        d_in == w_in && d_out == b_out,
        "linear: x {:?}, w {:?}, b {:?}",
        x.dims(),
        w.dims(),
        b.dims()
    );
}

/// `a·b` for row-major `a` `[m, k]` and `b` `[k, n]` as a new row-major `[m, n]` buffer,
/// through the kernels' own `gemm` call (multi-threaded above a size threshold, written once):
/// what `albert-bench matmul` times against `torch.matmul`.
///
/// # Panics
/// When `a` does not hold `m·k` values or `b` `k·n`.
pub fn matmul_rows(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    assert!(
        a.len() == m * k && b.len() == k * n,
        "matmul_rows: {} and {} values for [{m}, {k}]·[{k}, {n}]",
        a.len(),
        b.len()
    );
    let (lhs, rhs) = (
        matmul::Matrix::block(a, 0, m, k, k),
        matmul::Matrix::block(b, 0, k, n, n),
    );
    matmul::gemm_new(&lhs, &rhs, 1.0, true)
}

/// Every head's attention scores `scale·q_h·k_hᵀ`, `[B, heads, n, n]`, computed per (item,
/// head) straight from the `[B, n, H]` projections (no head transposes); the backward writes
/// `dq`, `dk` in the same layout. Only for tensors on a flex device ([`on_flex`]).
///
/// # Panics
/// When `q` and `k` differ in shape or `H` is not a multiple of `heads`.
pub fn attention_scores(q: Tensor<3>, k: Tensor<3>, heads: usize, scale: f64) -> Tensor<4> {
    let [_, _, h] = q.dims();
    assert!(
        q.dims() == k.dims() && heads > 0 && h % heads == 0,
        "attention_scores: q {:?}, k {:?}, {heads} heads",
        q.dims(),
        k.dims()
    );
    Tensor::from_dispatch(<Dispatch as AlbertKernels>::attention_scores(
        q.into_dispatch(),
        k.into_dispatch(),
        heads,
        scale,
    ))
}

/// Every head's context `p_h·v_h` written side by side as `[B, n, H]` (no transposes), for
/// probabilities `[B, heads, n, n]` and `v` `[B, n, H]`. In a half `precision` (bf16, fp16)
/// the kernel rounds each head's `p_h` to it as it reads it, in the forward and the backward,
/// instead of a rounded copy of the whole `[B, heads, n, n]` tensor, and writes the context
/// rounded (the output projection's operand); `v` is taken as given (round it first). Only for
/// tensors on a flex device ([`on_flex`]).
///
/// # Panics
/// When the shapes disagree.
pub fn attention_context(
    probs: Tensor<4>,
    v: Tensor<3>,
    heads: usize,
    precision: Precision,
) -> Tensor<3> {
    let [b, n, h] = v.dims();
    assert!(
        probs.dims() == [b, heads, n, n] && heads > 0 && h % heads == 0,
        "attention_context: probabilities {:?}, v {:?}, {heads} heads",
        probs.dims(),
        v.dims()
    );
    Tensor::from_dispatch(<Dispatch as AlbertKernels>::attention_context(
        probs.into_dispatch(),
        v.into_dispatch(),
        heads,
        precision,
    ))
}

/// `softmax(scores + mask)` over the last axis through the fused kernel: `scores` is
/// `[B, heads, Q, K]`, `mask` the additive key mask `[B, 1, 1, K]` (or `[1, 1, 1, K]`), which
/// gets no gradient. Only for tensors on a flex device ([`on_flex`]).
///
/// # Panics
/// When the mask does not have `K` values per batch item of `scores`.
pub fn masked_softmax(scores: Tensor<4>, mask: Tensor<4>) -> Tensor<4> {
    let [b, _, _, k] = scores.dims();
    let [mb, m1, m2, mk] = mask.dims();
    assert!(
        (mb == b || mb == 1) && m1 == 1 && m2 == 1 && mk == k,
        "masked_softmax: mask {:?} does not broadcast to scores {:?} over heads and queries",
        mask.dims(),
        scores.dims()
    );
    Tensor::from_dispatch(<Dispatch as AlbertKernels>::masked_softmax(
        scores.into_dispatch(),
        mask.into_dispatch(),
    ))
}

/// `x − log Σ e^x` over the rows of `x` (`[N, C]`) through the fused kernel, with its
/// backward: what burn's `log_softmax(x, 1)` computes, in one pass per row block with a
/// vectorised `exp` (the MLM loss's softmax over the vocabulary). Only for tensors on a flex
/// device ([`on_flex`]).
pub fn log_softmax(x: Tensor<2>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as AlbertKernels>::fused_log_softmax(
        x.into_dispatch(),
    ))
}

#[cfg(test)]
mod tests;

// The README's examples compile (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
