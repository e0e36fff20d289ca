//! Fused CPU kernels for the `flex` backend (feature `flex-kernels`), as a burn backend
//! extension: one pass forward and one pass backward where burn composes several element-wise
//! ops, each multi-threaded and with a vectorisable `exp` (flex's unary ops call libm's scalar
//! `expf` on one thread).
//!
//! - [`gelu_tanh`]: HF's `gelu_new`, forward `x·σ(u)` with `u = 2√(2/π)·x·(1 + 0.044715x²)`,
//!   backward `g·(σ(u) + x·σ(u)(1 − σ(u))·u')`.
//! - [`layer_norm`]: forward is flex's own fused LayerNorm; burn's autodiff would instead record
//!   the decomposed ops (mean, subtract, square, mean, add, sqrt, divide, scale, shift) and run
//!   each one's backward. Here the backward is three fused passes: with `x̂ = (x − μ)·r`,
//!   `r = 1/√(σ² + ε)` recomputed per row, `dx = r·(g·γ − mean(g·γ) − x̂·mean(g·γ·x̂))`,
//!   `dγ = Σ_rows g·x̂`, `dβ = Σ_rows g`, the sums in a fixed chunk order (deterministic for any
//!   thread count).
//!
//! - [`masked_softmax`]: attention probabilities `softmax(scores + mask)` over the last axis, the
//!   additive key mask broadcast over heads and queries, in place on the scores buffer when it
//!   is not shared; backward `dS = y·(g − Σ g·y)` in one pass (in place on the incoming
//!   gradient). burn's `softmax` is max, subtract, `exp`, sum and divide (plus the mask's add),
//!   each a pass over the `B·heads·n·n` scores with a backward of its own.
//! - [`attention_rows`] (inference): `softmax(q·kᵀ/√d + mask)·v` for every (item, head) in
//!   parallel, reading `q`, `k`, `v` straight from the projections' `[B, n, H]` rows and
//!   writing the context in the same layout (no head transposes), one `n × n` scratch per
//!   thread, the two matmuls through `gemm` (the crate flex uses) and the softmax as above.
//!   flex's own attention op does the same per head but with a scalar softmax and libm `expf`,
//!   after copying the transposed `q`, `k`, `v` and a materialised bias.
//!
//! The kernels run on flex devices and their autodiff; [`on_flex`] says when a tensor can take
//! this path (other backends keep the composed burn ops).

use burn::backend::{Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::tensor::{Device, Tensor};

mod autodiff;
mod flex;
mod math;
mod matmul;
mod storage;

pub use math::exp_approx;

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
    /// `gelu_new(x)`.
    fn gelu_tanh(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `grad · gelu_new'(x)`.
    fn gelu_tanh_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;
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
    /// `x·w + b` for `x` `[rows, in]`, `w` `[in, out]` (burn's `Linear` weight) and `b` `[out]`.
    fn fused_linear(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// `residual + x·w + b`: [`AlbertKernels::fused_linear`] whose output starts from the
    /// residual rows (a transformer sublayer's `x + dense(·)` without a separate add).
    fn fused_linear_residual(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        residual: FloatTensor<Self>,
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
    /// `v` `[B, n, H]`.
    fn attention_context(
        probs: FloatTensor<Self>,
        v: FloatTensor<Self>,
        heads: usize,
    ) -> FloatTensor<Self>;
    /// `dC_h·v_hᵀ` as `[B, heads, n, n]`: the context's gradient with respect to the
    /// probabilities.
    fn attention_context_backward_probs(
        grad: FloatTensor<Self>,
        v: FloatTensor<Self>,
        heads: usize,
    ) -> FloatTensor<Self>;
    /// `p_hᵀ·dC_h` as `[B, n, H]`: the context's gradient with respect to `v`.
    fn attention_context_backward_v(
        grad: FloatTensor<Self>,
        probs: FloatTensor<Self>,
        heads: usize,
    ) -> FloatTensor<Self>;
    /// Multi-head attention for inference: `q`, `k`, `v` and the output are `[B, n, H]` rows
    /// (heads side by side), `mask` the additive key mask (`n` values per item). Not tracked
    /// by autodiff (see [`attention_rows`]).
    fn attention_rows(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        heads: usize,
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

/// `gelu_new(x)` through the fused kernel. Only for tensors on a flex device ([`on_flex`]).
pub fn gelu_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as AlbertKernels>::gelu_tanh(x.into_dispatch()))
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
/// `w` `[in, out]` (may be a transposed view, as the tied MLM decoder's), `b` `[out]`. Only
/// for tensors on a flex device ([`on_flex`]).
///
/// # Panics
/// When the shapes disagree.
pub fn linear(x: Tensor<2>, w: Tensor<2>, b: Tensor<1>) -> Tensor<2> {
    check_linear(&x, &w, &b);
    Tensor::from_dispatch(<Dispatch as AlbertKernels>::fused_linear(
        x.into_dispatch(),
        w.into_dispatch(),
        b.into_dispatch(),
    ))
}

/// `residual + x·w + b` for `residual` `[rows, out]` (as [`linear`], the product accumulated
/// onto the residual and bias rows). Only for tensors on a flex device ([`on_flex`]).
///
/// # Panics
/// When the shapes disagree.
pub fn linear_residual(x: Tensor<2>, w: Tensor<2>, b: Tensor<1>, residual: Tensor<2>) -> Tensor<2> {
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
/// probabilities `[B, heads, n, n]` and `v` `[B, n, H]`. Only for tensors on a flex device
/// ([`on_flex`]).
///
/// # Panics
/// When the shapes disagree.
pub fn attention_context(probs: Tensor<4>, v: Tensor<3>, heads: usize) -> Tensor<3> {
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

/// Multi-head attention for inference, `softmax(q·kᵀ/√d + mask)·v` per head with
/// `d = H / heads`: `q`, `k`, `v` are `[B, n, H]` (the projections' outputs, heads side by
/// side), `mask` the additive key mask `[B, 1, 1, n]`; returns the context `[B, n, H]`. Only for
/// tensors on a flex device without autodiff (training takes [`masked_softmax`], which has a
/// backward).
///
/// # Panics
/// On an autodiff device, or when the shapes disagree.
pub fn attention_rows(
    q: Tensor<3>,
    k: Tensor<3>,
    v: Tensor<3>,
    mask: Tensor<4>,
    heads: usize,
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
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fused masked softmax against burn's `softmax(scores + mask)`: values, and the
    /// gradient of the scores, on an autodiff flex device; scores that are a non-contiguous
    /// view (a transpose) and a shared buffer (so the in-place path must copy); a per-item
    /// mask with padded keys (`f32::MIN`, exactly 0 probability) and a mask shared by every
    /// item; a key count that is not a multiple of the lanes.
    #[test]
    fn fused_masked_softmax_matches_burn_forward_and_backward() {
        use burn::tensor::activation::softmax;
        use burn::tensor::{Distribution, TensorData};

        let device = Device::flex().autodiff();
        let (b, heads, n) = (3, 2, 37);
        let mut mask = vec![0.0f32; b * n];
        for key in 30..n {
            mask[n + key] = f32::MIN; // item 1: the last 7 keys are padding
        }
        mask[2 * n] = f32::MIN; // item 2: the first key
        let per_item = Tensor::<4>::from_data(TensorData::new(mask, [b, 1, 1, n]), &device);
        let shared = Tensor::<4>::from_data(
            TensorData::new((0..n).map(|i| i as f32 * -0.1).collect(), [1, 1, 1, n]),
            &device,
        );
        let base = Tensor::<4>::random([b, heads, n, n], Distribution::Normal(0.0, 3.0), &device);
        let weights =
            Tensor::<4>::random([b, heads, n, n], Distribution::Uniform(-1.0, 1.0), &device);
        for mask in [per_item, shared] {
            let run = |fused: bool| {
                let x = base.clone().detach().require_grad();
                // A transposed view: non-contiguous input.
                let scores = x.clone().swap_dims(2, 3);
                let keep = scores.clone(); // the buffer is shared: no in-place write allowed
                let y = if fused {
                    masked_softmax(scores, mask.clone())
                } else {
                    softmax(scores + mask.clone(), 3)
                };
                let grads = (y.clone() * weights.clone()).sum().backward();
                let values = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().expect("f32");
                (values(y), values(x.grad(&grads).expect("dx")), values(keep))
            };
            let (fused, reference) = (run(true), run(false));
            assert_eq!(fused.2, reference.2, "the input was written to");
            for (what, a, b, tol) in [
                ("y", &fused.0, &reference.0, 1e-6),
                ("dscores", &fused.1, &reference.1, 1e-5),
            ] {
                assert_eq!(a.len(), b.len(), "{what}");
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() <= tol, "{what}: fused {x} vs burn {y}");
                }
            }
            // Padded keys get exactly 0, and each row sums to 1.
            for row in fused.0.chunks(n) {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            }
        }
        // Item 1's padded keys (scores rows are [item, head, query, key]).
        let y = masked_softmax(
            Tensor::<4>::zeros([b, heads, n, n], &device),
            Tensor::<4>::from_data(
                TensorData::new(
                    (0..b * n)
                        .map(|i| {
                            if i / n == 1 && i % n >= 30 {
                                f32::MIN
                            } else {
                                0.0
                            }
                        })
                        .collect(),
                    [b, 1, 1, n],
                ),
                &device,
            ),
        )
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32");
        for (r, row) in y.chunks(n).enumerate() {
            let padded = r / (heads * n) == 1;
            for (key, &p) in row.iter().enumerate() {
                let want = if padded && key >= 30 {
                    0.0
                } else if padded {
                    1.0 / 30.0
                } else {
                    1.0 / n as f32
                };
                assert!((p - want).abs() < 1e-7, "row {r} key {key}: {p}");
            }
        }
    }

    /// The fused linear layer against `x·w + b` with burn's ops: output and the gradients of
    /// A hand-computed product, and a multi-threaded one against burn's matmul.
    #[test]
    fn matmul_rows_multiplies() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [2, 3]
        let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0]; // [3, 2]
        assert_eq!(matmul_rows(&a, &b, 2, 3, 2), vec![58.0, 64.0, 139.0, 154.0]);

        let (m, k, n) = (300, 200, 190);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
        let device = Device::flex();
        let want =
            Tensor::<2>::from_data(burn::tensor::TensorData::new(a.clone(), [m, k]), &device)
                .matmul(Tensor::<2>::from_data(
                    burn::tensor::TensorData::new(b.clone(), [k, n]),
                    &device,
                ))
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32");
        // Small integers: every partial sum is exact in f32, so the products agree exactly.
        assert_eq!(matmul_rows(&a, &b, m, k, n), want);
    }

    /// `x`, `w` and `b` on an autodiff flex device; `x` and `w` contiguous, and both as
    /// transposed views of stored `[in, rows]` / `[out, in]` leaves (the tied MLM decoder reads
    /// the embedding table transposed); a product large enough for the multi-threaded `gemm`
    /// and a small one, each with a narrow output (bias as its initial value) and a wide one
    /// (bias as an extra inner dimension, as in the MLM decoder); and the same with a residual
    /// added (`linear_residual`, the residual itself a transposed view in the transposed case,
    /// its gradient checked too).
    #[test]
    fn fused_linear_matches_burn_forward_and_backward() {
        use burn::tensor::Distribution;

        let device = Device::flex().autodiff();
        let cases = [(7, 5, 3), (300, 200, 190), (9, 5, 24), (300, 32, 1000)];
        for ((rows, d_in, d_out), transposed, residual) in cases
            .into_iter()
            .flat_map(|c| [(c, false), (c, true)])
            .flat_map(|(c, t)| [(c, t, false), (c, t, true)])
        {
            let (x_shape, w_shape, r_shape) = if transposed {
                ([d_in, rows], [d_out, d_in], [d_out, rows])
            } else {
                ([rows, d_in], [d_in, d_out], [rows, d_out])
            };
            let x0 = Tensor::<2>::random(x_shape, Distribution::Normal(0.0, 1.0), &device);
            let w0 = Tensor::<2>::random(w_shape, Distribution::Normal(0.0, 0.5), &device);
            let b0 = Tensor::<1>::random([d_out], Distribution::Normal(0.0, 0.5), &device);
            let r0 = Tensor::<2>::random(r_shape, Distribution::Normal(0.0, 1.0), &device);
            let weights =
                Tensor::<2>::random([rows, d_out], Distribution::Uniform(-1.0, 1.0), &device);
            let run = |fused: bool| {
                let leaf = |t: &Tensor<2>| t.clone().detach().require_grad();
                let (x, w, r) = (leaf(&x0), leaf(&w0), leaf(&r0));
                let b = b0.clone().detach().require_grad();
                let view = |t: &Tensor<2>| {
                    if transposed {
                        t.clone().transpose()
                    } else {
                        t.clone()
                    }
                };
                let (xi, wi, ri) = (view(&x), view(&w), view(&r));
                let y = match (fused, residual) {
                    (true, false) => linear(xi, wi, b.clone()),
                    (true, true) => linear_residual(xi, wi, b.clone(), ri),
                    (false, false) => xi.matmul(wi) + b.clone().unsqueeze::<2>(),
                    (false, true) => ri + xi.matmul(wi) + b.clone().unsqueeze::<2>(),
                };
                let grads = (y.clone() * weights.clone()).sum().backward();
                let v2 = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().expect("f32");
                let v1 = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().expect("f32");
                let dr = if residual {
                    v2(r.grad(&grads).expect("dr"))
                } else {
                    Vec::new()
                };
                (
                    v2(y),
                    v2(x.grad(&grads).expect("dx")),
                    v2(w.grad(&grads).expect("dw")),
                    v1(b.grad(&grads).expect("db")),
                    dr,
                )
            };
            let (f, r) = (run(true), run(false));
            for (what, a, b) in [
                ("y", &f.0, &r.0),
                ("dx", &f.1, &r.1),
                ("dw", &f.2, &r.2),
                ("db", &f.3, &r.3),
                ("dr", &f.4, &r.4),
            ] {
                assert_eq!(a.len(), b.len(), "{what}");
                for (p, q) in a.iter().zip(b) {
                    assert!(
                        (p - q).abs() <= 1e-4 * (1.0 + q.abs()),
                        "{what} ({rows}×{d_in}×{d_out}, transposed {transposed}, residual \
                         {residual}): {p} vs {q}"
                    );
                }
            }
        }
    }

    /// The per-head products against burn's ops on split heads: `attention_scores` and
    /// `attention_context` values, and the gradients of `q`, `k`, the probabilities and `v`,
    /// for a `[B, n, H]` whose head size is not a multiple of the SIMD width: heads narrower
    /// than the sequence (as in every real model) and wider.
    #[test]
    fn head_products_match_burn_forward_and_backward() {
        let device = Device::flex().autodiff();
        for (b, n, heads, d) in [(3, 37, 4, 6), (2, 5, 3, 9)] {
            head_products_case(&device, b, n, heads, d);
        }
    }

    fn head_products_case(device: &Device, b: usize, n: usize, heads: usize, d: usize) {
        use burn::tensor::Distribution;

        let h = heads * d;
        let normal =
            |shape: [usize; 3]| Tensor::<3>::random(shape, Distribution::Normal(0.0, 1.0), device);
        let (q0, k0, v0) = (normal([b, n, h]), normal([b, n, h]), normal([b, n, h]));
        let p0 = Tensor::<4>::random([b, heads, n, n], Distribution::Uniform(0.0, 1.0), device);
        let w_s = Tensor::<4>::random([b, heads, n, n], Distribution::Normal(0.0, 1.0), device);
        let w_c = normal([b, n, h]);
        let split = |t: Tensor<3>| t.reshape([b, n, heads, d]).swap_dims(1, 2);
        let scale = 0.3;
        let v4 = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().expect("f32");
        let v3 = |t: Tensor<3>| t.into_data().try_to_vec::<f32>().expect("f32");
        let close = |what: &str, a: &[f32], r: &[f32]| {
            assert_eq!(a.len(), r.len(), "{what}");
            for (x, y) in a.iter().zip(r) {
                assert!(
                    (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                    "{what}: {x} vs {y}"
                );
            }
        };

        let scores = |fused: bool| {
            let (q, k) = (q0.clone().require_grad(), k0.clone().require_grad());
            let s = if fused {
                attention_scores(q.clone(), k.clone(), heads, scale)
            } else {
                split(q.clone()).matmul(split(k.clone()).swap_dims(2, 3)) * scale
            };
            let grads = (s.clone() * w_s.clone()).sum().backward();
            (
                v4(s),
                v3(q.grad(&grads).expect("dq")),
                v3(k.grad(&grads).expect("dk")),
            )
        };
        let (f, r) = (scores(true), scores(false));
        close("scores", &f.0, &r.0);
        close("dq", &f.1, &r.1);
        close("dk", &f.2, &r.2);

        let context = |fused: bool| {
            let (p, v) = (p0.clone().require_grad(), v0.clone().require_grad());
            let c = if fused {
                attention_context(p.clone(), v.clone(), heads)
            } else {
                p.clone()
                    .matmul(split(v.clone()))
                    .swap_dims(1, 2)
                    .reshape([b, n, h])
            };
            let grads = (c.clone() * w_c.clone()).sum().backward();
            (
                v3(c),
                v4(p.grad(&grads).expect("dp")),
                v3(v.grad(&grads).expect("dv")),
            )
        };
        let (f, r) = (context(true), context(false));
        close("context", &f.0, &r.0);
        close("dprobs", &f.1, &r.1);
        close("dv", &f.2, &r.2);
    }
}
