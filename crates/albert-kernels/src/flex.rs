//! The kernels on flex's storage: rayon over row blocks, `gemm` for the products, the
//! vectorised row loops of [`super::math`].

use std::sync::Arc;

use albert_core::precision::Precision;
use burn::backend::Flex;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::AlbertKernels;
use super::gemm_bf16::{Bf16Path, PackedB, bf16_path, packed_weight};
use super::gemm_int8::{Int8Path, PackedI8, gemm_int8_many, int8_path, quantised_weight};
use super::math::{
    gelu_backward_rows, gelu_rows_in, layer_norm_dx_rows, layer_norm_rows_in,
    log_softmax_backward_rows, log_softmax_rows, round_in_place_in, round_rows_in,
    softmax_backward_rows, softmax_rows,
};
use super::matmul::{
    Matrix, Product, Tiles, gemm_new, head_rows, linear_forward, linear_rows_many, tiled_products,
};
use super::storage::{
    column_sums, contiguous_f32, f32_tensor, last_dim, map_f32, rows_per_task, writable,
    written_f32, zip_f32,
};
use super::weight_cache::WeightCache;

impl AlbertKernels for Flex {
    fn gelu_tanh(x: FlexTensor, output: Precision) -> FlexTensor {
        map_f32(&x, gelu_rows_in(output))
    }

    fn gelu_tanh_backward(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
        zip_f32(&x, &grad, gelu_backward_rows)
    }

    fn round(x: FlexTensor, precision: Precision) -> FlexTensor {
        match round_rows_in(precision) {
            Some(round) => map_f32(&x, round),
            None => x,
        }
    }

    fn fused_linear3(
        x: FlexTensor,
        w0: FlexTensor,
        w1: FlexTensor,
        w2: FlexTensor,
        b0: FlexTensor,
        b1: FlexTensor,
        b2: FlexTensor,
        operands: Precision,
        output: Precision,
    ) -> FlexTensor {
        let (ws, bs) = ([w0, w1, w2], [b0, b1, b2]);
        let xm = Matrix::of(&x);
        let rows = x.layout().shape()[0];
        let biases: Vec<_> = bs.iter().map(contiguous_f32).collect();
        let out = biases[0].len();
        assert!(
            biases.iter().all(|b| b.len() == out),
            "fused_linear3: three outputs of one width"
        );
        let weights: Vec<_> = ws.iter().map(Matrix::of).collect();
        let converted: Vec<_> = ws.iter().map(|w| Converted::of(w, operands)).collect();
        let products: Vec<_> = converted.iter().map(Converted::product).collect();
        let int8: Option<Vec<_>> = products
            .iter()
            .zip(&biases)
            .map(|(p, b)| match p {
                Product::Int8(q, path) => Some(((*q, &**b), *path)),
                _ => None,
            })
            .collect();
        let finish = round_in_place_in(output);
        let values = if let Some(int8) = int8 {
            // The rows quantised once for the three.
            let (layers, paths): (Vec<_>, Vec<_>) = int8.into_iter().unzip();
            gemm_int8_many(&xm, &layers, paths[0])
        } else if products.iter().all(|p| matches!(p, Product::F32)) {
            let layers: Vec<_> = weights
                .iter()
                .zip(&biases)
                .map(|(w, b)| (w, &**b))
                .collect();
            linear_rows_many(&xm, &layers, finish)
        } else {
            // The bf16 units' path packs each weight on its own: three products.
            let layers = weights.iter().zip(&biases).zip(&products);
            layers
                .flat_map(|((w, b), p)| linear_forward(&xm, w, b, None, *p, finish))
                .collect()
        };
        f32_tensor(burn::tensor::Shape::new([3, rows, out]), values)
    }

    fn round_weight(w: FlexTensor, precision: Precision) -> FlexTensor {
        rounded_weight(&w, precision)
    }

    fn fused_layer_norm(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
    ) -> FlexTensor {
        use burn::backend::ops::ModuleOps;
        <Flex as ModuleOps<Flex>>::layer_norm(x, gamma, Some(beta), epsilon)
    }

    fn layer_norm_operand(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        output: Precision,
    ) -> FlexTensor {
        let h = last_dim(&x);
        let (xs, gamma, beta) = (
            contiguous_f32(&x),
            contiguous_f32(&gamma),
            contiguous_f32(&beta),
        );
        assert!(
            gamma.len() == h && beta.len() == h,
            "layer_norm: γ and β sizes"
        );
        let kernel = layer_norm_rows_in(output)
            .expect("layer_norm_operand rounds to bf16 or fp16 (the wrapper checks)");
        let len = xs.len();
        let mut values: Vec<f32> = Vec::with_capacity(2 * len);
        let (out, rounded) = values.spare_capacity_mut()[..2 * len].split_at_mut(len);
        let task = rows_per_task(h) * h;
        out.par_chunks_mut(task)
            .zip(rounded.par_chunks_mut(task))
            .zip(xs.par_chunks(task))
            .for_each(|((out, rounded), x)| kernel(out, rounded, x, &gamma, &beta, epsilon));
        // SAFETY: the kernel wrote every element of both halves (equal-length chunks covering
        // them, its contract).
        #[allow(unsafe_code)]
        unsafe {
            values.set_len(2 * len)
        };
        f32_tensor(burn::tensor::Shape::new([2, len / h.max(1), h]), values)
    }

    fn layer_norm_backward_input(
        x: FlexTensor,
        gamma: FlexTensor,
        grad: FlexTensor,
        epsilon: f64,
    ) -> FlexTensor {
        let h = last_dim(&x);
        let (xs, gs, gamma) = (
            contiguous_f32(&x),
            contiguous_f32(&grad),
            contiguous_f32(&gamma),
        );
        assert_eq!(gamma.len(), h, "layer_norm backward: gamma size");
        // SAFETY: each task is whole rows of the output with the same rows of `x` and `grad`
        // (same shape: the forward's input and output), and `layer_norm_dx_rows` writes every
        // element of them.
        #[allow(unsafe_code)]
        unsafe {
            written_f32(
                x.layout().shape().clone(),
                rows_per_task(h) * h,
                |at, out| {
                    let range = at..at + out.len();
                    layer_norm_dx_rows(out, &xs[range.clone()], &gs[range], &gamma, h, epsilon)
                },
            )
        }
    }

    fn layer_norm_backward_gamma(x: FlexTensor, grad: FlexTensor, epsilon: f64) -> FlexTensor {
        let h = last_dim(&x);
        let (xs, gs) = (contiguous_f32(&x), contiguous_f32(&grad));
        column_sums(h, &gs, Some(&xs), epsilon)
    }

    fn sum_rows(grad: FlexTensor) -> FlexTensor {
        let h = last_dim(&grad);
        column_sums(h, &contiguous_f32(&grad), None, 0.0)
    }

    fn fused_linear(
        x: FlexTensor,
        w: FlexTensor,
        b: FlexTensor,
        operands: Precision,
        output: Precision,
    ) -> FlexTensor {
        linear_tensor(&x, &w, &b, None, operands, output)
    }

    fn fused_linear_residual(
        x: FlexTensor,
        w: FlexTensor,
        b: FlexTensor,
        residual: FlexTensor,
        operands: Precision,
    ) -> FlexTensor {
        linear_tensor(&x, &w, &b, Some(&residual), operands, Precision::Fp32)
    }

    fn linear_backward_input(grad: FlexTensor, w: FlexTensor) -> FlexTensor {
        let (gm, wm) = (Matrix::of(&grad), Matrix::of(&w));
        let (rows, d_in) = (grad.layout().shape()[0], w.layout().shape()[0]);
        let out = gemm_new(&gm, &wm.t(), 1.0, true);
        f32_tensor(burn::tensor::Shape::new([rows, d_in]), out)
    }

    fn linear_backward_weight(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let (xm, gm) = (Matrix::of(&x), Matrix::of(&grad));
        let (d_in, d_out) = (x.layout().shape()[1], grad.layout().shape()[1]);
        let out = gemm_new(&xm.t(), &gm, 1.0, true);
        f32_tensor(burn::tensor::Shape::new([d_in, d_out]), out)
    }

    fn attention_scores(q: FlexTensor, k: FlexTensor, heads: usize, scale: f64) -> FlexTensor {
        head_outer(&q, &k, heads, scale as f32)
    }

    fn attention_scores_backward_q(
        grad: FlexTensor,
        k: FlexTensor,
        heads: usize,
        scale: f64,
    ) -> FlexTensor {
        head_apply(
            &grad,
            false,
            Precision::Fp32,
            &k,
            heads,
            scale as f32,
            Precision::Fp32,
        )
    }

    fn attention_scores_backward_k(
        grad: FlexTensor,
        q: FlexTensor,
        heads: usize,
        scale: f64,
    ) -> FlexTensor {
        head_apply(
            &grad,
            true,
            Precision::Fp32,
            &q,
            heads,
            scale as f32,
            Precision::Fp32,
        )
    }

    fn attention_context(
        probs: FlexTensor,
        v: FlexTensor,
        heads: usize,
        precision: Precision,
    ) -> FlexTensor {
        head_apply(&probs, false, precision, &v, heads, 1.0, precision)
    }

    fn attention_context_backward_probs(
        grad: FlexTensor,
        v: FlexTensor,
        heads: usize,
    ) -> FlexTensor {
        head_outer(&grad, &v, heads, 1.0)
    }

    fn attention_context_backward_v(
        grad: FlexTensor,
        probs: FlexTensor,
        heads: usize,
        precision: Precision,
    ) -> FlexTensor {
        head_apply(&probs, true, precision, &grad, heads, 1.0, Precision::Fp32)
    }

    fn masked_softmax(scores: FlexTensor, mask: FlexTensor) -> FlexTensor {
        let k = last_dim(&scores);
        let batch = scores.layout().shape().first().copied().unwrap_or(1).max(1);
        let per_item = scores.layout().num_elements() / batch;
        let mask = contiguous_f32(&mask);
        let mask_items = mask.len() / k.max(1);
        assert!(
            mask.len() == mask_items * k && (mask_items == 1 || mask_items == batch),
            "masked_softmax: {} mask values for {batch} items of {k} keys",
            mask.len()
        );
        let mut out = writable(scores);
        let rows = rows_per_task(k);
        out.storage_mut::<f32>()
            .par_chunks_mut(rows * k)
            .enumerate()
            .for_each(|(t, chunk)| softmax_rows(chunk, k, t * rows, per_item, &mask, mask_items));
        out
    }

    fn fused_log_softmax(x: FlexTensor) -> FlexTensor {
        let k = last_dim(&x);
        let mut out = writable(x);
        let task = rows_per_task(k) * k;
        out.storage_mut::<f32>()
            .par_chunks_mut(task.max(1))
            .for_each(|rows| log_softmax_rows(rows, k));
        out
    }

    fn log_softmax_backward(output: FlexTensor, grad: FlexTensor) -> FlexTensor {
        rows_from_output(
            output,
            grad,
            "log_softmax_backward",
            log_softmax_backward_rows,
        )
    }

    fn softmax_backward(output: FlexTensor, grad: FlexTensor) -> FlexTensor {
        rows_from_output(output, grad, "softmax_backward", softmax_backward_rows)
    }

    fn attention_rows(
        q: FlexTensor,
        k: FlexTensor,
        v: FlexTensor,
        mask: FlexTensor,
        heads: usize,
        output: Precision,
    ) -> FlexTensor {
        let rows = head_rows(&q, heads);
        let (n, d) = (rows.n, rows.hidden / heads);
        let (qs, ks, vs, mask) = (
            contiguous_f32(&q),
            contiguous_f32(&k),
            contiguous_f32(&v),
            contiguous_f32(&mask),
        );
        assert!(
            ks.len() == qs.len() && vs.len() == qs.len(),
            "attention_rows: q, k, v must have the same [B, n, H] shape"
        );
        assert_eq!(
            mask.len(),
            rows.items * n,
            "attention_rows: n mask values per item"
        );
        let scale = 1.0 / (d as f32).sqrt();
        let out = tiled_products(
            &Tiles::Heads(&rows),
            |task| {
                // One head's n × n scores and softmax: the probabilities of its context block.
                let (qb, kb) = (rows.block(&qs, task, d), rows.block(&ks, task, d));
                let mut scores = gemm_new(&qb, &kb.t(), scale, false);
                let item = task / heads;
                softmax_rows(&mut scores, n, 0, n * n, &mask[item * n..(item + 1) * n], 1);
                (Matrix::owned(scores, n, n), rows.block(&vs, task, d), 1.0)
            },
            round_in_place_in(output),
        );
        f32_tensor(q.layout().shape().clone(), out)
    }
}

/// A backward from the forward's output `y`: `row(g, y, k)` in place on each block of rows of
/// the incoming gradient (`what` names the op in the shape check).
fn rows_from_output(
    output: FlexTensor,
    grad: FlexTensor,
    what: &str,
    row: fn(&mut [f32], &[f32], usize),
) -> FlexTensor {
    assert_eq!(
        output.layout().shape(),
        grad.layout().shape(),
        "{what}: shapes differ"
    );
    let k = last_dim(&output);
    let y = contiguous_f32(&output);
    let mut out = writable(grad);
    let task = (rows_per_task(k) * k).max(1);
    out.storage_mut::<f32>()
        .par_chunks_mut(task)
        .zip(y.par_chunks(task))
        .for_each(|(g, y)| row(g, y, k));
    out
}

/// `scale·a_h·b_hᵀ` for every (item, head) of two `[B, n, H]` tensors, as `[B, heads, n, n]`
/// (the scores `q·kᵀ`, and the probabilities' gradient `dC·vᵀ`).
fn head_outer(a: &FlexTensor, b: &FlexTensor, heads: usize, scale: f32) -> FlexTensor {
    let rows = head_rows(a, heads);
    let (n, d) = (rows.n, rows.hidden / heads);
    let (av, bv) = (contiguous_f32(a), contiguous_f32(b));
    let tiles = Tiles::Stacked {
        tasks: rows.items * heads,
        rows: n,
        cols: n,
    };
    let out = tiled_products(
        &tiles,
        |task| {
            let bb = rows.block(&bv, task, d);
            (rows.block(&av, task, d), bb.transposed(), scale)
        },
        None,
    );
    f32_tensor(burn::tensor::Shape::new([rows.items, heads, n, n]), out)
}

/// `scale·m_h·r_h` (`m_hᵀ` when `transpose`) for every (item, head), with `m`
/// `[B, heads, n, n]` and `r` `[B, n, H]`, written side by side as `[B, n, H]` (the context
/// `p·v` and the gradients `dS·k`, `dSᵀ·q`, `pᵀ·dC`); each `m_h` rounded to `round` first,
/// the output rounded to `output` as each task writes its block.
fn head_apply(
    m: &FlexTensor,
    transpose: bool,
    round: Precision,
    r: &FlexTensor,
    heads: usize,
    scale: f32,
    output: Precision,
) -> FlexTensor {
    let rows = head_rows(r, heads);
    let (n, d) = (rows.n, rows.hidden / heads);
    let (mv, rv) = (contiguous_f32(m), contiguous_f32(r));
    let out = tiled_products(
        &Tiles::Heads(&rows),
        |task| {
            let mb = match round_in_place_in(round) {
                Some(round) => {
                    // This task's n × n block rounded as it is read (cache-resident, one
                    // task's copy).
                    let mut rounded = mv[task * n * n..(task + 1) * n * n].to_vec();
                    round(&mut rounded);
                    Matrix::owned(rounded, n, n)
                }
                None => Matrix::block(&mv, task * n * n, n, n, n),
            };
            let mb = if transpose { mb.transposed() } else { mb };
            (mb, rows.block(&rv, task, d), scale)
        },
        round_in_place_in(output),
    );
    f32_tensor(r.layout().shape().clone(), out)
}

/// `x·w + b` (+ `residual`) as a new `[rows, out]` tensor: [`linear_forward`] on the operands'
/// storage, with `w` as a product in `operands` precision reads it ([`Converted`]: packed for
/// this thread's bf16 path if one is chosen, quantised under int8); the output rounded to
/// `output` (it is a product's operand).
fn linear_tensor(
    x: &FlexTensor,
    w: &FlexTensor,
    b: &FlexTensor,
    residual: Option<&FlexTensor>,
    operands: Precision,
    output: Precision,
) -> FlexTensor {
    let (xm, wm) = (Matrix::of(x), Matrix::of(w));
    let bias = contiguous_f32(b);
    let r = residual.map(contiguous_f32);
    let rows = x.layout().shape()[0];
    let converted = Converted::of(w, operands);
    let out = linear_forward(
        &xm,
        &wm,
        &bias,
        r.as_deref(),
        converted.product(),
        round_in_place_in(output),
    );
    f32_tensor(burn::tensor::Shape::new([rows, bias.len()]), out)
}

/// A weight converted for a product with operands in some precision, on this thread's path:
/// packed for the bf16 units ([`bf16_path`], once while it is held: [`packed_weight`]),
/// quantised for int8 ([`quantised_weight`]), or nothing (the f32 `gemm` reads it as it is).
enum Converted {
    Bf16(Arc<PackedB>, Bf16Path),
    Int8(Arc<PackedI8>, Int8Path),
    None,
}

impl Converted {
    /// `w` as a product with `operands` precision reads it.
    fn of(w: &FlexTensor, operands: Precision) -> Self {
        match operands {
            Precision::Int8 => Converted::Int8(quantised_weight(w), int8_path()),
            Precision::Bf16 => match bf16_path() {
                Some(path) => Converted::Bf16(packed_weight(w), path),
                None => Converted::None,
            },
            Precision::Fp32 | Precision::Fp16 => Converted::None,
        }
    }

    /// How the product runs.
    fn product(&self) -> Product<'_> {
        match self {
            Converted::Bf16(p, path) => Product::Bf16(p, *path),
            Converted::Int8(q, path) => Product::Int8(q, *path),
            Converted::None => Product::F32,
        }
    }
}

/// The weights rounded to bfloat16 and to half for inference ([`rounded_weight`]).
static ROUNDED_BF16: WeightCache<FlexTensor> = WeightCache::new();
static ROUNDED_F16: WeightCache<FlexTensor> = WeightCache::new();

/// `w` rounded to `precision`, once for as long as the same view of the same storage is held
/// by someone other than the cache ([`WeightCache`]); `w` itself in float32 and int8.
pub(super) fn rounded_weight(w: &FlexTensor, precision: Precision) -> FlexTensor {
    let cache = match precision {
        Precision::Bf16 => &ROUNDED_BF16,
        Precision::Fp16 => &ROUNDED_F16,
        Precision::Fp32 | Precision::Int8 => return w.clone(),
    };
    let round = round_rows_in(precision).expect("a half precision rounds");
    FlexTensor::clone(&cache.get(w, |w| map_f32(w, round)))
}

/// Empties [`rounded_weight`]'s caches.
pub(super) fn release_rounded_weights() {
    ROUNDED_BF16.clear();
    ROUNDED_F16.clear();
}
