//! The model's hot operations — linear layers on rows, LayerNorm, the activation, multi-head
//! attention — and the one place that chooses how each runs: through the fused [`Kernels`]
//! installed for the tensor's device, or through burn's composed ops.
//!
//! Model code calls these functions and never names a backend. Fused kernels for a backend live
//! in their own crate (`albert-kernels`: multi-threaded CPU kernels for burn's `flex` backend)
//! and are installed once per process by the binary ([`install_kernels`]); every device they do
//! not support, and every device when none are installed, takes burn's composed ops, which run
//! on any backend (wgpu, CUDA, remote).
//!
//! Every matrix product here takes its operands in this thread's [`crate::precision`]: under
//! `autocast(Precision::Bf16)` (or `Fp16`) each operand is first rounded to bfloat16 (half)
//! ([`operand`]). Off the installed kernels (wgpu, CUDA), a product in a half precision runs in
//! that dtype on the device ([`matmul_operands`]).

use burn::module::ParamId;
use burn::nn::{Dropout, LayerNorm, Linear};
use burn::tensor::activation::{gelu, relu, sigmoid, softmax};
use burn::tensor::module::attention as fused_attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, FloatDType, Tensor};

use crate::config::HiddenAct;
use crate::precision::{self, Precision};

mod kernels;

use kernels::kernels_for;
pub use kernels::{Kernels, install_kernels, installed_kernels};

/// `[B, n, in]` → `[B·n, in]`.
pub fn flatten(x: Tensor<3>) -> Tensor<2> {
    let [b, n, d] = x.dims();
    x.reshape([b * n, d])
}

/// `[…, d]` → `[rows, d]` and the dims to restore.
fn as_rows<const D: usize>(x: Tensor<D>) -> (Tensor<2>, [usize; D]) {
    let dims = x.dims();
    let d = dims[D - 1];
    let rows = dims[..D - 1].iter().product();
    (x.reshape([rows, d]), dims)
}

/// A matrix product's operand in this thread's precision: `t` itself in float32; under bf16
/// (fp16), every element rounded to the nearest bfloat16 (half) value (kept as f32, so the
/// product accumulates in f32), by the installed kernels where they run, else by burn's cast to
/// the half dtype and back. The gradient passes through the rounding unchanged.
pub fn operand<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    in_precision(t, precision::current())
}

/// `t` rounded to `precision` as [`operand`] does.
fn in_precision<const D: usize>(t: Tensor<D>, precision: Precision) -> Tensor<D> {
    let Some(dtype) = half_dtype(precision) else {
        return t;
    };
    match kernels_for(&t.device()) {
        Some(k) => {
            let (rows, dims) = as_rows(t);
            k.round(rows, precision).reshape(dims)
        }
        None => t.cast(dtype).cast(FloatDType::F32),
    }
}

/// The burn dtype of a half precision (`None` for float32).
fn half_dtype(precision: Precision) -> Option<FloatDType> {
    match precision {
        Precision::Fp32 | Precision::Int8 => None,
        Precision::Bf16 => Some(FloatDType::BF16),
        Precision::Fp16 => Some(FloatDType::F16),
    }
}

/// `a·b` for operands already in this thread's precision, off the installed kernels: in float32
/// the f32 product; under bf16 or fp16 on a device that computes in that dtype (wgpu with
/// `shader-f16`, CUDA), the product in the dtype — the operands convert exactly, burn's GPU
/// matmul accumulates in f32 (in the half dtype on macOS, as cubecl chooses there) and writes
/// the half result, as PyTorch's autocast hands it on — then back to f32 for the ops that
/// follow. Except fp16 with autodiff: there the f32 product of the rounded values, because the
/// backward of a product in f16 would round the gradients to f16, whose range (down to 6e-8)
/// loses small gradients without loss scaling; in f32 the gradients keep f32's range, as on the
/// CPU kernels. (bf16 has f32's range: its backward may run in bf16.)
pub fn matmul_operands<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    let device = a.device();
    let precision = precision::current();
    match half_dtype(precision) {
        Some(dtype)
            if kernels_for(&device).is_none()
                && device.supports_dtype(dtype)
                && (precision == Precision::Bf16 || !device.is_autodiff()) =>
        {
            a.cast(dtype).matmul(b.cast(dtype)).cast(FloatDType::F32)
        }
        _ => a.matmul(b),
    }
}

/// `x·w + b` for `x` `[rows, in]`, `w` `[in, out]`, `b` `[out]`.
pub fn affine(x: Tensor<2>, w: Tensor<2>, b: Tensor<1>) -> Tensor<2> {
    product(Operand::new(x), operand(w), b, Precision::Fp32)
}

/// [`affine`] whose `w` is a model weight (or a view of one, as the tied MLM decoder's
/// transposed embedding table): in inference it is converted to the product precision once
/// for as long as it lives, as a linear layer's weight is.
pub fn affine_weight(x: Tensor<2>, w: Tensor<2>, b: Tensor<1>) -> Tensor<2> {
    product(Operand::new(x), weight_operand(w, None), b, Precision::Fp32)
}

/// A product's input as an operand of this thread's precision: rounded once however many
/// products read it (the query, key and value projections of one input), or rounded by the
/// operation that produced it ([`linear_rows_operand`], [`activation_operand`], [`attention`])
/// so that no separate pass is needed. In float32 it is the tensor itself.
#[derive(Debug, Clone)]
pub struct Operand<const D: usize = 2>(Tensor<D>);

impl<const D: usize> Operand<D> {
    /// `x` rounded to this thread's precision ([`operand`]).
    pub fn new(x: Tensor<D>) -> Self {
        Self(operand(x))
    }

    /// The rounded values.
    pub fn into_tensor(self) -> Tensor<D> {
        self.0
    }

    /// The shape.
    pub fn dims(&self) -> [usize; D] {
        self.0.dims()
    }
}

impl Operand<2> {
    /// `[B, n, in]` rows, flattened.
    pub fn rows(x: Tensor<3>) -> Self {
        Self::new(flatten(x))
    }
}

impl Operand<3> {
    /// `[B, n, in]` → `[B·n, in]` rows (a reshape keeps the rounding).
    pub fn flatten(self) -> Operand<2> {
        Operand(flatten(self.0))
    }
}

/// `x·w + b` on operands already in this thread's precision, the output handed on in
/// `output` precision (rounded when the next product reads it under bf16 or fp16).
fn product(x: Operand, w: Tensor<2>, b: Tensor<1>, output: Precision) -> Tensor<2> {
    let x = x.0;
    match kernels_for(&x.device()) {
        Some(k) => k.linear(x, w, b, precision::current(), output),
        None => in_precision(matmul_operands(x, w) + b.unsqueeze::<2>(), output),
    }
}

thread_local! {
    /// The weights rounded in this thread's [`SharedWeights`] scope, by parameter.
    static ROUNDED: std::cell::RefCell<Option<std::collections::HashMap<ParamId, Tensor<2>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Within this scope (until the guard is dropped) a linear layer's weight is rounded to the
/// product precision once and reused by every later product with it: ALBERT's shared layers
/// apply one set of weights `num_hidden_layers` times per forward pass, so under bf16 each is
/// converted once per pass (per optimiser step in training; the gradient of every use flows
/// back to the one parameter), not once per layer application. Open it around one forward
/// pass, while the weights cannot change; nested scopes share the outer one's weights. A
/// no-op in float32.
#[must_use = "the rounded weights are dropped with the guard"]
pub fn shared_weights() -> SharedWeights {
    let outer = ROUNDED.with(|r| {
        let mut r = r.borrow_mut();
        let outer = r.is_some();
        if !outer {
            *r = Some(Default::default());
        }
        outer
    });
    SharedWeights { outer }
}

/// Ends a [`shared_weights`] scope when dropped.
#[derive(Debug)]
pub struct SharedWeights {
    outer: bool,
}

impl Drop for SharedWeights {
    fn drop(&mut self) {
        if !self.outer {
            ROUNDED.with(|r| *r.borrow_mut() = None);
        }
    }
}

/// `linear`'s weight as a product operand ([`weight_operand`]).
fn weight(linear: &Linear) -> Tensor<2> {
    weight_operand(linear.weight.val(), Some(linear.weight.id))
}

/// A model weight as a product operand: itself in float32 (and int8, which the kernels
/// quantise); under bf16 or fp16 rounded — in inference on installed kernels once for as long
/// as the weight lives ([`Kernels::weight_operand`]: a model served for many requests rounds
/// its weights once), else once per [`shared_weights`] scope when the weight is a parameter
/// (`id`).
fn weight_operand(w: Tensor<2>, id: Option<ParamId>) -> Tensor<2> {
    let precision = precision::current();
    if !precision.rounds() {
        return w;
    }
    let device = w.device();
    if !device.is_autodiff()
        && let Some(k) = kernels_for(&device)
    {
        return k.weight_operand(w, precision);
    }
    let Some(id) = id else {
        return operand(w);
    };
    ROUNDED.with(|r| match r.borrow_mut().as_mut() {
        Some(cache) => cache.entry(id).or_insert_with(|| operand(w)).clone(),
        None => operand(w),
    })
}

/// `linear(x)` on `[rows, in]` rows.
pub fn linear(linear: &Linear, x: Tensor<2>) -> Tensor<2> {
    linear_of(linear, Operand::new(x))
}

/// `linear(x)` on rows already made an [`Operand`].
pub fn linear_of(linear: &Linear, x: Operand) -> Tensor<2> {
    linear_in(linear, x, Precision::Fp32)
}

/// `linear(x)` handed on in `output` precision.
fn linear_in(linear: &Linear, x: Operand, output: Precision) -> Tensor<2> {
    match &linear.bias {
        Some(b) => product(x, weight(linear), b.val(), output),
        None => in_precision(matmul_operands(x.0, weight(linear)), output),
    }
}

/// `linear` applied at every position as one `[B·n, in]` product: `[B, n, in]` → `[B, n, out]`.
/// (burn's `Linear` on a 3-D input runs `B` products against a broadcast weight and reduces `B`
/// weight gradients in the backward pass.)
pub fn linear_rows(linear: &Linear, x: Tensor<3>) -> Tensor<3> {
    let [b, n, _] = x.dims();
    linear_rows_of(linear, Operand::rows(x), b, n)
}

/// [`linear_rows`] on `[B·n, in]` rows already made an [`Operand`] (one input, several layers).
pub fn linear_rows_of(linear: &Linear, x: Operand, b: usize, n: usize) -> Tensor<3> {
    let y = linear_of(linear, x);
    let out = y.dims()[1];
    y.reshape([b, n, out])
}

/// [`linear_rows_of`] whose output is the operand of the next product (the query, key and
/// value projections, read only by the attention products): under bf16 or fp16 the kernel
/// rounds it as it writes it, with no separate pass.
pub fn linear_rows_operand(linear: &Linear, x: Operand, b: usize, n: usize) -> Operand<3> {
    let y = linear_in(linear, x, precision::current());
    let out = y.dims()[1];
    Operand(y.reshape([b, n, out]))
}

/// [`linear_rows_operand`] of three layers on the same input rows — the query, key and value
/// projections — handed on as the attention products' operands. In inference on installed
/// kernels the three run in one pass over the rows ([`Kernels::linear3`]: under int8 the input
/// is quantised once, not three times).
pub fn linear3_rows_operand(
    layers: [&Linear; 3],
    x: Operand,
    b: usize,
    n: usize,
) -> [Operand<3>; 3] {
    let device = x.0.device();
    let width = layers[0].weight.dims()[1];
    if !device.is_autodiff()
        && let Some(k) = kernels_for(&device)
        && let [Some(b0), Some(b1), Some(b2)] = layers.map(|l| l.bias.as_ref())
        && layers.iter().all(|l| l.weight.dims()[1] == width)
    {
        let precision = precision::current();
        let w = layers.map(weight);
        let outs = k.linear3(x.0, w, [b0.val(), b1.val(), b2.val()], precision, precision);
        return outs.map(|y| Operand(y.reshape([b, n, width])));
    }
    layers.map(|l| linear_rows_operand(l, x.clone(), b, n))
}

/// `residual + dropout(linear(x))` at every position (a transformer sublayer's output before its
/// LayerNorm): `[B, n, in]` → `[B, n, out]`, `residual` `[B, n, out]`. When the dropout passes
/// its input through (inference, or probability 0 as in ALBERT's pretraining), installed kernels
/// accumulate the product onto the residual in one operation.
pub fn linear_rows_residual(
    linear: &Linear,
    dropout: &Dropout,
    x: Operand<3>,
    residual: Tensor<3>,
) -> Tensor<3> {
    let [b, n, _] = x.dims();
    let device = residual.device();
    if let (Some(k), Some(bias)) = (kernels_for(&device), &linear.bias)
        && dropout_is_identity(dropout, &device)
    {
        let y = k.linear_residual(
            x.flatten().0,
            weight(linear),
            bias.val(),
            flatten(residual),
            precision::current(),
        );
        let out = y.dims()[1];
        return y.reshape([b, n, out]);
    }
    residual + dropout.forward(linear_rows_of(linear, x.flatten(), b, n))
}

/// Whether `dropout.forward` returns its input unchanged on `device`: burn 0.22's
/// `Dropout::forward` condition (not training, no autodiff, or probability 0).
fn dropout_is_identity(dropout: &Dropout, device: &Device) -> bool {
    !dropout.training.is_enabled() || !device.is_autodiff() || dropout.prob == 0.0
}

/// `ln(x)` over the last axis, whose epsilon (burn keeps its own private) is `epsilon`.
pub fn layer_norm<const D: usize>(ln: &LayerNorm, epsilon: f64, x: Tensor<D>) -> Tensor<D> {
    if let (Some(k), Some(beta)) = (kernels_for(&x.device()), &ln.beta) {
        let (rows, dims) = as_rows(x);
        return k
            .layer_norm(rows, ln.gamma.val(), beta.val(), epsilon)
            .reshape(dims);
    }
    ln.forward(x)
}

/// [`layer_norm`] of `x` `[B, n, H]`, and its `[B·n, H]` rows as the operand of the products
/// that read them (the next sublayer's first products; the values themselves go on to its
/// residual). Under bf16 or fp16 in inference the installed kernels write both in one pass; in
/// float32 the operand is the output itself.
pub fn layer_norm_operand(ln: &LayerNorm, epsilon: f64, x: Tensor<3>) -> (Tensor<3>, Operand) {
    let precision = precision::current();
    let device = x.device();
    if precision.rounds()
        && !device.is_autodiff()
        && let (Some(k), Some(beta)) = (kernels_for(&device), &ln.beta)
    {
        let [b, n, h] = x.dims();
        let (y, rows) =
            k.layer_norm_operand(flatten(x), ln.gamma.val(), beta.val(), epsilon, precision);
        return (y.reshape([b, n, h]), Operand(rows));
    }
    let y = layer_norm(ln, epsilon, x);
    let rows = Operand::rows(y.clone());
    (y, rows)
}

/// Applies `act` element-wise.
pub fn activation<const D: usize>(act: HiddenAct, x: Tensor<D>) -> Tensor<D> {
    match act {
        HiddenAct::GeluTanh => gelu_tanh(x),
        HiddenAct::GeluErf => gelu(x),
        HiddenAct::Relu => relu(x),
    }
}

/// [`activation`] whose output is the operand of the next product (the feed-forward's inner
/// activations): under bf16 or fp16 the fused GELU rounds as it writes, with no separate pass.
pub fn activation_operand<const D: usize>(act: HiddenAct, x: Tensor<D>) -> Operand<D> {
    let precision = precision::current();
    if let (HiddenAct::GeluTanh, Some(k)) = (act, kernels_for(&x.device())) {
        let (rows, dims) = as_rows(x);
        return Operand(k.gelu_tanh(rows, precision).reshape(dims));
    }
    Operand(in_precision(activation(act, x), precision))
}

/// `√(2/π)`.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

/// HF's `gelu_new`, `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
pub fn gelu_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    match kernels_for(&x.device()) {
        Some(k) => {
            let (rows, dims) = as_rows(x);
            k.gelu_tanh(rows, Precision::Fp32).reshape(dims)
        }
        None => gelu_tanh_composed(x),
    }
}

/// `x − log Σ e^x` over each row of `x` (`[rows, classes]`), as burn's `log_softmax(x, 1)`:
/// the installed kernels' one pass per row block (with its one-pass backward) where they run
/// the device, else burn's composed op.
pub fn log_softmax(x: Tensor<2>) -> Tensor<2> {
    match kernels_for(&x.device()) {
        Some(k) => k.log_softmax(x),
        None => burn::tensor::activation::log_softmax(x, 1),
    }
}

/// [`gelu_tanh`] from burn's element-wise ops, on any backend: the identical
/// `x · sigmoid(2·√(2/π)·x·(1 + 0.044715·x²))` (since `(1 + tanh z)/2 = sigmoid(2z)`), six
/// element-wise passes with one `exp` instead of burn's `gelu_approximate`, whose `powf` and
/// `tanh` cost more than the feed-forward products on the CPU backend.
pub fn gelu_tanh_composed<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let u = (x.clone() * x.clone() * (2.0 * SQRT_2_OVER_PI * 0.044_715) + 2.0 * SQRT_2_OVER_PI)
        * x.clone();
    x * sigmoid(u)
}

/// Multi-head scaled dot-product attention, `softmax(q_h·k_hᵀ/√d + mask)·v_h` for every head
/// `h` (`d = H / heads`), with `dropout` on the probabilities; also returns the probabilities
/// when `return_probs`. The context is returned as the operand of the output projection.
///
/// # Shapes
/// - `q`, `k`, `v`: `[B, n, H]` (the projections, heads side by side, as operands:
///   [`linear_rows_operand`])
/// - `mask_add`: `[B, 1, 1, n]`, `0` for real keys and `f32::MIN` for padded ones (HF's additive
///   mask)
/// - output: the context `[B, n, H]` (heads side by side); probabilities `[B, heads, n, n]`
pub fn attention(
    q: Operand<3>,
    k: Operand<3>,
    v: Operand<3>,
    mask_add: Tensor<4>,
    heads: usize,
    dropout: &Dropout,
    return_probs: bool,
) -> (Operand<3>, Option<Tensor<4>>) {
    let [b, n, h] = q.dims();
    let d = h / heads;
    let (q, k, v) = (q.0, k.0, v.0);
    let device = q.device();
    let precision = precision::current();
    let inference = !return_probs && !device.is_autodiff();
    if let Some(kernels) = kernels_for(&device) {
        if inference {
            let context = kernels.attention_inference(q, k, v, mask_add, heads, precision);
            return (Operand(context), None);
        }
        let probs = kernels.attention_probs(q, k, mask_add, heads);
        // Under bf16 or fp16 the kernel rounds the probabilities head by head as it reads them (no
        // rounded copy of the whole [B, heads, n, n] tensor beside the f32 one the softmax's
        // backward keeps) and the context as it writes it.
        let p = dropout.forward(probs.clone());
        let context = kernels.attention_context(p, v, heads, precision);
        return (Operand(context), return_probs.then_some(probs));
    }

    let split = |t: Tensor<3>| t.reshape([b, n, heads, d]).swap_dims(1, 2);
    // Scaling q (n·d values) instead of the scores (n·n) is the same product, and exact when √d
    // is a power of two (d = 16, 64, 256).
    let (q, k, v) = (split(q) / (d as f64).sqrt(), split(k), split(v));
    let (context, probs) = if inference {
        // The backend's fused attention, the additive mask as a bias broadcast over heads.
        let bias = mask_add.expand([b, 1, n, n]);
        let options = AttentionModuleOptions {
            scale: Some(1.0),
            ..Default::default()
        };
        (fused_attention(q, k, v, None, Some(bias), options), None)
    } else {
        let probs = softmax(matmul_operands(q, k.swap_dims(2, 3)) + mask_add, 3);
        let context = matmul_operands(operand(dropout.forward(probs.clone())), v);
        (context, return_probs.then_some(probs))
    };
    (
        Operand::new(context.swap_dims(1, 2).reshape([b, n, h])),
        probs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the tanh form evaluated in f64 at points from the far negative tail to the far
    /// positive one.
    #[test]
    fn gelu_tanh_matches_the_tanh_formula() {
        let xs: Vec<f32> = (-80..=80).map(|i| i as f32 * 0.125).collect();
        let device = Device::flex();
        let y = gelu_tanh(Tensor::<1>::from_data(xs.as_slice(), &device))
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32");
        for (x, got) in xs.iter().zip(y) {
            let x = f64::from(*x);
            let want = 0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)).tanh());
            assert!(
                (f64::from(got) - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "gelu({x}) = {got}, want {want}"
            );
        }
    }
}
