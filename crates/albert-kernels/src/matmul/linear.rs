//! A linear layer's forward product, `x·w + bias` (+ a residual), on the f32 `gemm`, a bf16
//! path or an int8 path, its output rounded when it is a product's operand.

use super::{Matrix, SharedPtr, gemm_add, gemm_new, raw_gemm};
use crate::gemm_bf16::{Bf16Path, PackedB, gemm_bf16_add};
use crate::gemm_int8::{Int8Path, PackedI8, gemm_int8_add};
use crate::storage::{bias_rows, rows_per_task, written_vec};

/// Below this ratio of output columns to inner dimension, a linear layer's bias is the initial
/// value of its output; at or above it (the MLM decoder: 30000 columns from 128), the bias is
/// one more inner dimension, so that the wide output is written once instead of filled, read
/// back and written again.
const WIDE_OUTPUT: usize = 4;

/// How a linear layer's product runs.
#[derive(Clone, Copy)]
pub(crate) enum Product<'a> {
    /// The f32 `gemm` on the operands as they are.
    F32,
    /// On a bf16 path, the weight packed (the operands hold bfloat16 values).
    Bf16(&'a PackedB, Bf16Path),
    /// Dynamically quantised to int8 on an int8 path, the weight quantised.
    Int8(&'a PackedI8, Int8Path),
}

/// `x·w + bias` (row-major `[x.rows, w.cols]`), `bias` holding `w.cols` values, plus
/// `residual` (row-major, the output's shape) when given; the product run as `product` says;
/// the output passed through `finish` (the rounding of an output that is a product's operand)
/// before it is returned.
///
/// # Panics
/// When the shapes disagree or a view runs past its storage.
pub(crate) fn linear_forward(
    x: &Matrix<'_>,
    w: &Matrix<'_>,
    bias: &[f32],
    residual: Option<&[f32]>,
    product: Product<'_>,
    finish: Option<fn(&mut [f32])>,
) -> Vec<f32> {
    use rayon::prelude::*;
    let n = bias.len();
    assert_eq!(n, w.cols, "albert kernels: bias size");
    if let (Some(_), None, Product::F32) = (finish, residual, product) {
        // Bias, product and rounding in one parallel pass of row blocks.
        return linear_rows_many(x, &[(w, bias)], finish);
    }
    let mut out = linear_sum(x, w, bias, residual, product);
    if let Some(finish) = finish {
        out.par_chunks_mut(crate::CHUNK).for_each(finish);
    }
    out
}

/// [`linear_forward`] without `finish`.
fn linear_sum(
    x: &Matrix<'_>,
    w: &Matrix<'_>,
    bias: &[f32],
    residual: Option<&[f32]>,
    product: Product<'_>,
) -> Vec<f32> {
    let n = bias.len();
    if let Some(r) = residual {
        assert_eq!(r.len(), x.rows * n, "albert kernels: residual size");
    } else if matches!(product, Product::F32) && w.cols >= WIDE_OUTPUT * (x.cols + 1) {
        return gemm_new(&x.with_ones_column(), &w.with_row(bias), 1.0, true);
    }
    // The bias rows (plus the residual's), written by parallel tasks of whole rows (not a serial
    // fill while the other cores wait; docs/benchmarks.md, change 16), then accumulated into.
    // SAFETY: every task is whole `n`-long rows (its length a multiple of `n`), and each row
    // is written element by element from `bias` (zipped with the residual's row of the same
    // length, checked above).
    #[allow(unsafe_code)]
    let mut out = unsafe {
        written_vec(
            x.rows * n,
            rows_per_task(n) * n,
            |at, rows| match residual {
                Some(r) => {
                    let r = &r[at..at + rows.len()];
                    for (row, r) in rows.chunks_mut(n).zip(r.chunks(n)) {
                        for ((o, &b), &r) in row.iter_mut().zip(bias).zip(r) {
                            o.write(r + b);
                        }
                    }
                }
                None => {
                    for row in rows.chunks_mut(n) {
                        for (o, &b) in row.iter_mut().zip(bias) {
                            o.write(b);
                        }
                    }
                }
            },
        )
    };
    match product {
        Product::Bf16(packed, path) => {
            assert_eq!(
                packed.dims(),
                [w.rows, w.cols],
                "albert kernels: packed weight"
            );
            gemm_bf16_add(&mut out, x, packed, path);
        }
        Product::Int8(quantised, path) => {
            assert_eq!(
                quantised.dims(),
                [w.rows, w.cols],
                "albert kernels: quantised weight"
            );
            gemm_int8_add(&mut out, x, quantised, path);
        }
        Product::F32 => gemm_add(&mut out, x, w),
    }
    out
}

/// `finish(x·w_j + bias_j)` for every layer `(w_j, bias_j)` of `layers` — the same input read
/// by several linear layers, such as the query, key and value projections — in one parallel
/// pass of row blocks, one block per thread: each task writes its block of every output's bias
/// rows, accumulates the block's products on its own thread and passes each to `finish`
/// while it is in cache, where separate products would wake the threads for every bias fill,
/// product and rounding pass of every layer. Returns the outputs one after another in one
/// buffer (layer `j`'s `[m, n_j]` rows after those of the layers before it).
pub(crate) fn linear_rows_many(
    x: &Matrix<'_>,
    layers: &[(&Matrix<'_>, &[f32])],
    finish: Option<fn(&mut [f32])>,
) -> Vec<f32> {
    use rayon::prelude::*;
    let (m, k) = (x.rows, x.cols);
    x.check();
    let mut work = 0;
    for (w, bias) in layers {
        assert_eq!(w.rows, k, "albert kernels: inner dimensions differ");
        assert_eq!(w.cols, bias.len(), "albert kernels: bias size");
        w.check();
        work += m * k * bias.len();
    }
    let threads = if work >= super::PARALLEL_WORK {
        rayon::current_num_threads().max(1)
    } else {
        1
    };
    let block = m.div_ceil(threads).max(1);
    let len: usize = layers.iter().map(|(_, bias)| m * bias.len()).sum();
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let base = SharedPtr(out.as_mut_ptr());
    (0..m.div_ceil(block)).into_par_iter().for_each(|t| {
        let (first, rows) = (t * block, block.min(m - t * block));
        let mut offset = 0;
        for (w, bias) in layers {
            let n = bias.len();
            assert!(
                offset + (first + rows) * n <= len,
                "albert kernels: row block"
            );
            // SAFETY: rows `first .. first + rows` of this layer's output (inside the
            // allocation of `len` elements, checked), which no other task touches: the blocks
            // partition the rows.
            #[allow(unsafe_code)]
            let chunk = unsafe { bias_rows(base.at(offset, len), first, rows, bias) };
            offset += m * n;
            if k > 0 && n > 0 {
                let xb = x.row_block(first, rows);
                // SAFETY: `chunk` holds `rows` rows of `n` values (row stride n), written by
                // this task alone, so it aliases neither operand; both operands were checked
                // (the block is a sub-view of `x`).
                #[allow(unsafe_code)]
                unsafe {
                    raw_gemm(
                        chunk.as_mut_ptr(),
                        n,
                        true,
                        &xb,
                        w,
                        1.0,
                        gemm::Parallelism::None,
                    );
                }
            }
            if let Some(finish) = finish {
                finish(chunk);
            }
        }
    });
    // SAFETY: the blocks cover all m rows and each task wrote every element of its rows of
    // every layer's output (bias, then the product onto it): all `len` elements.
    #[allow(unsafe_code)]
    unsafe {
        out.set_len(len);
    }
    out
}
