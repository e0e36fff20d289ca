//! The interface through which a backend's fused kernels plug into the model's operations
//! ([`Kernels`]), and the one installation per process ([`install_kernels`]).

use std::sync::OnceLock;

use burn::tensor::{Device, Tensor};

use crate::precision::Precision;

/// Fused implementations of the hot operations for some devices. The shapes are the ones the
/// functions of [`crate::ops`] pass: rows (`[rows, features]`) for the element-wise and linear
/// ops, `[B, n, H]` projections (heads side by side) and an additive key mask `[B, 1, 1, n]`
/// for attention. Each method must compute what its composed counterpart in [`crate::ops`]
/// computes, with gradients on autodiff devices unless it says otherwise.
pub trait Kernels: Send + Sync + std::fmt::Debug {
    /// Whether these kernels run tensors on `device`.
    fn supports(&self, device: &Device) -> bool;
    /// `x·w + b` for `x` `[rows, in]`, `w` `[in, out]` (possibly a transposed view), `b` `[out]`,
    /// handed on in `output` precision: under bf16 or fp16 rounded as it is written (it is the
    /// operand of the next product; [`operand`](super::operand)'s rounding, with its pass-through gradient).
    /// The operands are in `operands` precision (rounded already: the kernels may run a bf16
    /// product on bf16 units).
    fn linear(
        &self,
        x: Tensor<2>,
        w: Tensor<2>,
        b: Tensor<1>,
        operands: Precision,
        output: Precision,
    ) -> Tensor<2>;
    /// [`Kernels::linear`] of three layers of one width on the same input `x` (the query, key
    /// and value projections), for inference: only called on devices without autodiff.
    fn linear3(
        &self,
        x: Tensor<2>,
        w: [Tensor<2>; 3],
        b: [Tensor<1>; 3],
        operands: Precision,
        output: Precision,
    ) -> [Tensor<2>; 3];
    /// `residual + x·w + b`, `residual` `[rows, out]`, the operands in `operands` precision.
    fn linear_residual(
        &self,
        x: Tensor<2>,
        w: Tensor<2>,
        b: Tensor<1>,
        residual: Tensor<2>,
        operands: Precision,
    ) -> Tensor<2>;
    /// `(x − μ)/√(σ² + ε)·γ + β` over the last axis of `x` `[rows, features]`.
    fn layer_norm(
        &self,
        x: Tensor<2>,
        gamma: Tensor<1>,
        beta: Tensor<1>,
        epsilon: f64,
    ) -> Tensor<2>;
    /// [`Kernels::layer_norm`] and the same values in `output` precision (the operand of the
    /// products that read them; the float32 values go on to the residual), for inference:
    /// only called on devices without autodiff, so it needs no backward.
    fn layer_norm_operand(
        &self,
        x: Tensor<2>,
        gamma: Tensor<1>,
        beta: Tensor<1>,
        epsilon: f64,
        output: Precision,
    ) -> (Tensor<2>, Tensor<2>);
    /// `x − log Σ e^x` over each row of `x` (`[rows, classes]`): burn's `log_softmax(x, 1)`,
    /// the log-probabilities a cross-entropy loss reads ([`crate::loss::cross_entropy`]).
    fn log_softmax(&self, x: Tensor<2>) -> Tensor<2>;
    /// HF's `gelu_new` element-wise, handed on in `output` precision (as [`Kernels::linear`]).
    fn gelu_tanh(&self, x: Tensor<2>, output: Precision) -> Tensor<2>;
    /// Every element rounded to `precision`'s nearest value, ties to even, kept as f32
    /// ([`Precision::round`]); the gradient passes through unchanged.
    fn round(&self, x: Tensor<2>, precision: Precision) -> Tensor<2>;
    /// A model's weight `w` in `precision` (rounded as [`Kernels::round`] rounds), converted
    /// once for as long as the weight lives, for inference: only called on devices without
    /// autodiff.
    fn weight_operand(&self, w: Tensor<2>, precision: Precision) -> Tensor<2>;
    /// `softmax(q_h·k_hᵀ/√d + mask)` for every head (`d = H / heads`), `[B, heads, n, n]`.
    fn attention_probs(
        &self,
        q: Tensor<3>,
        k: Tensor<3>,
        mask: Tensor<4>,
        heads: usize,
    ) -> Tensor<4>;
    /// Every head's context `p_h·v_h`, side by side as `[B, n, H]`, the probabilities taken and
    /// the context handed on in `precision` ([`operand`](super::operand)'s rounding, done by the kernel as it
    /// reads and writes them, with the same pass-through gradient); `v` is already an operand.
    fn attention_context(
        &self,
        probs: Tensor<4>,
        v: Tensor<3>,
        heads: usize,
        precision: Precision,
    ) -> Tensor<3>;
    /// `softmax(q_h·k_hᵀ/√d + mask)·v_h` for every head as `[B, n, H]`, handed on in `output`
    /// precision, for inference: only called on devices without autodiff, so it needs no
    /// backward.
    fn attention_inference(
        &self,
        q: Tensor<3>,
        k: Tensor<3>,
        v: Tensor<3>,
        mask: Tensor<4>,
        heads: usize,
        output: Precision,
    ) -> Tensor<3>;
}

static INSTALLED: OnceLock<&'static dyn Kernels> = OnceLock::new();

/// Installs `kernels` for this process: from now on every operation of this module on a device
/// they support runs through them. The first installation stays; returns whether this one was
/// it.
pub fn install_kernels(kernels: &'static dyn Kernels) -> bool {
    INSTALLED.set(kernels).is_ok()
}

/// The installed kernels, if any ([`install_kernels`]).
pub fn installed_kernels() -> Option<&'static dyn Kernels> {
    INSTALLED.get().copied()
}

/// The installed kernels if they support `device`.
pub(super) fn kernels_for(device: &Device) -> Option<&'static dyn Kernels> {
    installed_kernels().filter(|k| k.supports(device))
}
