//! Reading and writing flex tensors' f32 storage, and the parallel loops over it.

use burn::tensor::{Bytes, DType, Shape};
use burn_flex::{FlexTensor, Layout};
use rayon::prelude::*;

use super::CHUNK;
use super::math::row_stats;

/// The size of the last axis (the LayerNorm's `d_model`).
/// A zero-filled f32 tensor of `shape`, its buffer a `Vec<f32>` handed over without a copy
/// (flex's `FlexTensor::empty` zero-fills a byte vector and then copies it into a 16-byte
/// aligned one: a second allocation and a `memmove` per tensor).
pub(super) fn zeroed(shape: Shape) -> FlexTensor {
    let n = shape.num_elements();
    f32_tensor(shape, vec![0.0f32; n])
}

/// A contiguous f32 tensor of `shape` owning `values` (no copy, see [`zeroed`]).
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
    let values = contiguous_f32(&t);
    let mut out = zeroed(t.layout().shape().clone());
    out.storage_mut::<f32>().copy_from_slice(&values);
    out
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

/// `f(out_chunk, in_chunk)` over parallel chunks of `x` into a new tensor of its shape.
pub(super) fn map_f32(x: &FlexTensor, f: impl Fn(&mut [f32], &[f32]) + Sync) -> FlexTensor {
    let input = contiguous_f32(x);
    let mut out = zeroed(x.layout().shape().clone());
    out.storage_mut::<f32>()
        .par_chunks_mut(CHUNK)
        .zip(input.par_chunks(CHUNK))
        .for_each(|(o, i)| f(o, i));
    out
}

/// `f(out_chunk, a_chunk, b_chunk)` over parallel chunks of two same-shape tensors into a new
/// tensor of their shape.
pub(super) fn zip_f32(
    a: &FlexTensor,
    b: &FlexTensor,
    f: impl Fn(&mut [f32], &[f32], &[f32]) + Sync,
) -> FlexTensor {
    assert_eq!(
        a.layout().shape(),
        b.layout().shape(),
        "albert kernels: shapes differ"
    );
    let (ia, ib) = (contiguous_f32(a), contiguous_f32(b));
    let mut out = zeroed(a.layout().shape().clone());
    out.storage_mut::<f32>()
        .par_chunks_mut(CHUNK)
        .zip(ia.par_chunks(CHUNK).zip(ib.par_chunks(CHUNK)))
        .for_each(|(o, (x, g))| f(o, x, g));
    out
}
