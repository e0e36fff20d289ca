//! Reading and writing flex tensors' f32 storage, and the parallel loops over it.

use std::mem::MaybeUninit;

use burn::tensor::{Bytes, DType, Shape};
use burn_flex::{FlexTensor, Layout};
use rayon::prelude::*;

use super::CHUNK;
use super::math::row_stats;

/// A contiguous f32 tensor of `shape` owning `values`, its buffer handed over without a copy
/// (flex's `FlexTensor::empty` zero-fills a byte vector and then copies it into a 16-byte
/// aligned one: a second allocation and a `memmove` per tensor).
pub(super) fn f32_tensor(shape: Shape, values: Vec<f32>) -> FlexTensor {
    assert_eq!(
        shape.num_elements(),
        values.len(),
        "albert kernels: tensor size"
    );
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(shape),
        DType::F32,
    )
}

/// The size of the last axis (the LayerNorm's `d_model`).
pub(super) fn last_dim(t: &FlexTensor) -> usize {
    *t.layout()
        .shape()
        .last()
        .expect("layer_norm: a tensor of rank ≥ 1")
}

/// Rows per parallel task: about [`CHUNK`] elements.
pub(super) fn rows_per_task(h: usize) -> usize {
    (CHUNK / h.max(1)).max(1)
}

/// `Σ_rows g` (without `x`) or `Σ_rows g·x̂` (with `x`), as a `[h]` tensor: per-task partial
/// sums over fixed row chunks, added in chunk order.
pub(super) fn column_sums(h: usize, g: &[f32], x: Option<&[f32]>, epsilon: f64) -> FlexTensor {
    let rows = rows_per_task(h) * h;
    let partials: Vec<Vec<f32>> = g
        .par_chunks(rows)
        .enumerate()
        .map(|(i, g)| {
            let mut acc = vec![0.0f32; h];
            match x {
                Some(x) => {
                    let x = &x[i * rows..i * rows + g.len()];
                    for (g, x) in g.chunks(h).zip(x.chunks(h)) {
                        let (mean, r) = row_stats(x, epsilon);
                        for ((a, &g), &x) in acc.iter_mut().zip(g).zip(x) {
                            *a += g * (x - mean) * r;
                        }
                    }
                }
                None => {
                    for g in g.chunks(h) {
                        for (a, &g) in acc.iter_mut().zip(g) {
                            *a += g;
                        }
                    }
                }
            }
            acc
        })
        .collect();
    let mut sums = vec![0.0f32; h];
    for p in &partials {
        for (s, v) in sums.iter_mut().zip(p) {
            *s += v;
        }
    }
    f32_tensor(Shape::new([h]), sums)
}

/// `t` itself when it owns a dense buffer that can be written in place, else a contiguous
/// copy.
pub(super) fn writable(t: FlexTensor) -> FlexTensor {
    let n = t.layout().num_elements();
    if t.is_unique()
        && t.is_contiguous()
        && t.layout().start_offset() == 0
        && t.storage::<f32>().len() == n
    {
        return t;
    }
    let values = contiguous_f32(&t).into_owned();
    f32_tensor(t.layout().shape().clone(), values)
}

/// The tensor's f32 values in row-major order (contiguous copy if needed).
pub(super) fn contiguous_f32(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    assert_eq!(t.dtype(), DType::F32, "albert kernels run on f32 tensors");
    match t.as_slice::<f32>() {
        Some(s) if t.is_contiguous() => std::borrow::Cow::Borrowed(s),
        _ => std::borrow::Cow::Owned(
            t.to_contiguous()
                .into_data()
                .try_into_vec::<f32>()
                .expect("dtype checked above"),
        ),
    }
}

/// `n` new f32 values that `fill(offset, chunk)` writes in parallel tasks of `task` elements
/// (`chunk` starts at element `offset`), without a zero fill first (that would be a serial
/// `memset` of the whole output before the parallel work).
///
/// # Safety
/// `fill` must write every element of each chunk it is given: the buffer's length is set to
/// `n` afterwards.
#[allow(unsafe_code)]
pub(super) unsafe fn written_vec(
    n: usize,
    task: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync,
) -> Vec<f32> {
    let task = task.max(1);
    let mut values: Vec<f32> = Vec::with_capacity(n);
    values.spare_capacity_mut()[..n]
        .par_chunks_mut(task)
        .enumerate()
        .for_each(|(i, chunk)| fill(i * task, chunk));
    // SAFETY: the capacity is at least `n`, and the caller's `fill` wrote all `n` elements
    // (the chunks above cover `0..n`).
    unsafe { values.set_len(n) };
    values
}

/// A new f32 tensor of `shape` written by `fill` as in [`written_vec`].
///
/// # Safety
/// As [`written_vec`]: `fill` writes every element of each chunk.
#[allow(unsafe_code)]
pub(super) unsafe fn written_f32(
    shape: Shape,
    task: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync,
) -> FlexTensor {
    // SAFETY: passed on to the caller.
    let values = unsafe { written_vec(shape.num_elements(), task, fill) };
    f32_tensor(shape, values)
}

/// `f(out_chunk, in_chunk)` over parallel chunks of `x` into a new tensor of its shape; `f`
/// writes every element of `out_chunk` (the kernels here assert equal lengths and write
/// each output once).
pub(super) fn map_f32(
    x: &FlexTensor,
    f: impl Fn(&mut [MaybeUninit<f32>], &[f32]) + Sync,
) -> FlexTensor {
    let input = contiguous_f32(x);
    // SAFETY: each chunk goes to `f` with the input chunk of the same length, and `f` writes
    // every output element (the contract above).
    #[allow(unsafe_code)]
    unsafe {
        written_f32(x.layout().shape().clone(), CHUNK, |at, out| {
            f(out, &input[at..at + out.len()])
        })
    }
}

/// `f(out_chunk, a_chunk, b_chunk)` over parallel chunks of two same-shape tensors into a new
/// tensor of their shape; `f` writes every element of `out_chunk` (as [`map_f32`]).
pub(super) fn zip_f32(
    a: &FlexTensor,
    b: &FlexTensor,
    f: impl Fn(&mut [MaybeUninit<f32>], &[f32], &[f32]) + Sync,
) -> FlexTensor {
    assert_eq!(
        a.layout().shape(),
        b.layout().shape(),
        "albert kernels: shapes differ"
    );
    let (ia, ib) = (contiguous_f32(a), contiguous_f32(b));
    // SAFETY: as in `map_f32`: equal-length chunks, every output element written by `f`.
    #[allow(unsafe_code)]
    unsafe {
        written_f32(a.layout().shape().clone(), CHUNK, |at, out| {
            let range = at..at + out.len();
            f(out, &ia[range.clone()], &ib[range])
        })
    }
}

/// Rows `first .. first + rows` (`bias.len()` values each, row-major) of the allocation at
/// `base`, each written with `bias`: a linear layer's output block, initialised.
///
/// # Safety
/// `base` must be valid for writes of those elements, and nothing else may access them while
/// the returned slice lives.
#[allow(unsafe_code)]
pub(super) unsafe fn bias_rows<'a>(
    base: *mut f32,
    first: usize,
    rows: usize,
    bias: &[f32],
) -> &'a mut [f32] {
    let n = bias.len();
    // SAFETY: the caller's contract; the elements are only written until they all are.
    let block: &mut [MaybeUninit<f32>] =
        unsafe { std::slice::from_raw_parts_mut(base.add(first * n).cast(), rows * n) };
    for row in block.chunks_mut(n.max(1)) {
        for (o, &b) in row.iter_mut().zip(bias) {
            o.write(b);
        }
    }
    // SAFETY: every element was written just above.
    unsafe { &mut *(std::ptr::from_mut(block) as *mut [f32]) }
}
