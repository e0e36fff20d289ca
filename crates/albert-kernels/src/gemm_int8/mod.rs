//! Dynamically quantised int8 products for inference (`--precision int8`, what PyTorch's
//! `quantize_dynamic` does to `nn.Linear`): the weight quantised once per output column, the
//! input once per row at run time, the products summed exactly in int32 on the CPU's integer
//! dot-product units and scaled back to f32.
//!
//! Numbers. A weight column `j` is quantised symmetrically: `s_j = max_k |W[k, j]| / 127`,
//! `q = round(W[k, j] · 127 / max_k |W[k, j]|)` (ties to even, in −127 … 127); an input row `i`
//! the same way with its own `max_k |x[i, k]|`, stored as `q + 128` (an unsigned byte, which
//! the instruction wants on its left). Then
//! `x·W + c ≈ c + (Σ_k (q_ik + 128)·q_kj − 128·Σ_k q_kj) · (s_i · s_j)`: the integer sum is
//! exact (|Σ| < 2³¹ for any inner dimension below 130,000), then converted to f32, multiplied
//! by the product of the two scales and added to `c` (the bias, or the residual and the
//! bias), each step one f32 rounding in that order, so every path below gives the same bits.
//! Per-row and per-column scales are finer than PyTorch's defaults (one scale per input tensor
//! and per weight), so the error is no larger than its.
//!
//! Layout. The weight `[K, N]` is packed once into [`PackedI8`]: panels of 32 columns, in each
//! panel one row of 32 `u32` per quad of inner indices, word `j` holding the bytes of
//! `q[4p .. 4p + 4, j]` (the "VNNI" layout `vpdpbusd` reads), zero past `K`; with each
//! column's scale and `128·Σ_k q_kj`. An input task of 32 rows is quantised into rows of quad
//! words. The micro-kernel keeps an `MR × 32` block of int32 sums in 2·MR vector registers and,
//! per quad, broadcasts each row's word and multiplies it into the panel's two 16-column
//! vectors.
//!
//! Paths ([`Int8Path`]): `vpdpbusd` (AVX512-VNNI), an AVX-512BW emulation of it (the bytes
//! widened to 16 bits, `vpmaddwd`: exact), and a portable loop for any other CPU; the best the
//! CPU has runs unless [`INT8_GEMM_ENV`] names another. All give the same results.

use std::cell::Cell;
use std::sync::{Arc, OnceLock};

use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::math::{int8_scales, magnitude, quantise_row, round_even_small};
use super::matmul::Matrix;
use super::storage::bias_rows;
use super::weight_cache::WeightCache;

/// The environment variable that forces an int8 product path: `vnni`, `emulated` or
/// `portable` (for tests and A/B runs; one the CPU lacks is ignored). Unset: the best one.
pub const INT8_GEMM_ENV: &str = "ALBERT_INT8_GEMM";

/// Output columns per panel: two 16-lane vectors.
const NR: usize = 32;
/// Output rows per micro-kernel call.
const MR: usize = 8;
/// Rows of the input per parallel task (quantised once per task).
const ROWS_PER_TASK: usize = 4 * MR;
/// The offset that makes a signed input byte unsigned.
const OFFSET: i32 = 128;

/// How an int8 product runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int8Path {
    /// `vpdpbusd` (AVX512-VNNI).
    Vnni,
    /// The same sums from AVX-512BW 16-bit multiply-adds.
    Emulated,
    /// Plain integer loops (any CPU).
    Portable,
}

impl Int8Path {
    /// Every path, fastest first.
    pub const ALL: [Int8Path; 3] = [Int8Path::Vnni, Int8Path::Emulated, Int8Path::Portable];

    /// Whether this CPU can run the path.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let bw = std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw");
            match self {
                Int8Path::Vnni => bw && std::arch::is_x86_feature_detected!("avx512vnni"),
                Int8Path::Emulated => bw,
                Int8Path::Portable => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Int8Path::Portable
        }
    }

    /// The name [`INT8_GEMM_ENV`] takes.
    pub fn name(self) -> &'static str {
        match self {
            Int8Path::Vnni => "vnni",
            Int8Path::Emulated => "emulated",
            Int8Path::Portable => "portable",
        }
    }
}

thread_local! {
    /// [`with_int8_path`]'s override on this thread.
    static OVERRIDE: Cell<Option<Int8Path>> = const { Cell::new(None) };
}

/// The int8 product path for a product started on this thread: [`with_int8_path`]'s while it
/// runs, else [`INT8_GEMM_ENV`]'s when the CPU has it, else the fastest available.
pub fn int8_path() -> Int8Path {
    OVERRIDE.with(Cell::get).unwrap_or_else(configured_path)
}

/// Runs `f` with `path` as this thread's int8 product path, whatever [`INT8_GEMM_ENV`] says;
/// the previous choice is restored afterwards.
///
/// # Panics
/// When `path` is not available on this CPU ([`Int8Path::available`]).
pub fn with_int8_path<T>(path: Int8Path, f: impl FnOnce() -> T) -> T {
    assert!(
        path.available(),
        "the {path:?} int8 path is not on this CPU"
    );
    crate::with_thread_value(&OVERRIDE, Some(path), f)
}

/// [`INT8_GEMM_ENV`]'s path when the CPU has it, else the fastest available (read once).
fn configured_path() -> Int8Path {
    static PATH: OnceLock<Int8Path> = OnceLock::new();
    *PATH.get_or_init(|| {
        let wanted = std::env::var(INT8_GEMM_ENV).ok();
        Int8Path::ALL
            .into_iter()
            .find(|p| wanted.as_deref() == Some(p.name()) && p.available())
            .or_else(|| Int8Path::ALL.into_iter().find(|p| p.available()))
            .unwrap_or(Int8Path::Portable)
    })
}

/// `round(v · inv)` (ties to even) as a byte of −127 … 127.
#[inline(always)]
fn quantise(v: f32, inv: f32) -> i8 {
    round_even_small((v * inv).clamp(-127.0, 127.0)) as i8
}

/// A weight `[K, N]` quantised per column and packed in the layout of the module
/// documentation.
#[derive(Debug, Clone)]
pub struct PackedI8 {
    k: usize,
    n: usize,
    quads: usize,
    panels: usize,
    /// `panels × quads × 32` words.
    data: Vec<u32>,
    /// Per column (padded to the panels): its scale.
    scale: Vec<f32>,
    /// Per column (padded): `128 · Σ_k q_kj`.
    offset_sums: Vec<i32>,
}

impl PackedI8 {
    /// Quantises and packs `b` (any strides).
    pub(super) fn new(b: &Matrix<'_>) -> Self {
        let (k, n) = (b.rows(), b.cols());
        let quads = k.div_ceil(4);
        let panels = n.div_ceil(NR);
        let columns: Vec<(f32, Vec<i8>)> = (0..n)
            .into_par_iter()
            .map(|j| {
                let amax = (0..k).map(|i| magnitude(b.get(i, j))).fold(0.0, f32::max);
                let (scale, inv) = int8_scales(amax);
                (scale, (0..k).map(|i| quantise(b.get(i, j), inv)).collect())
            })
            .collect();
        let mut data = vec![0u32; panels * quads * NR];
        data.par_chunks_mut(quads * NR)
            .enumerate()
            .for_each(|(panel, words)| {
                for (p, row) in words.chunks_mut(NR).enumerate() {
                    for (j, w) in row.iter_mut().enumerate() {
                        let Some((_, q)) = columns.get(panel * NR + j) else {
                            break;
                        };
                        *w = quad_word(|t| q.get(4 * p + t).map_or(0, |&v| v as u8));
                    }
                }
            });
        let mut scale = vec![0.0f32; panels * NR];
        let mut offset_sums = vec![0i32; panels * NR];
        for (j, (s, q)) in columns.iter().enumerate() {
            scale[j] = *s;
            offset_sums[j] = OFFSET * q.iter().map(|&v| i32::from(v)).sum::<i32>();
        }
        Self {
            k,
            n,
            quads,
            panels,
            data,
            scale,
            offset_sums,
        }
    }

    /// `[K, N]`.
    pub fn dims(&self) -> [usize; 2] {
        [self.k, self.n]
    }
}

/// The little-endian word of bytes `byte(0) … byte(3)`.
#[inline(always)]
fn quad_word(byte: impl Fn(usize) -> u8) -> u32 {
    u32::from_le_bytes([byte(0), byte(1), byte(2), byte(3)])
}

/// The quantised weights still in use ([`quantised_weight`]).
static QUANTISED: WeightCache<PackedI8> = WeightCache::new();

/// `w` quantised and packed ([`PackedI8::new`]), once for as long as the same view of the
/// same storage is held by someone other than the cache (a model's weight: once per model).
pub(super) fn quantised_weight(w: &FlexTensor) -> Arc<PackedI8> {
    QUANTISED.get(w, |w| PackedI8::new(&Matrix::of(w)))
}

/// Empties [`quantised_weight`]'s cache.
pub(super) fn release_quantised_weights() {
    QUANTISED.clear();
}

/// Rows `row0 .. row0 + rows` of `a` quantised per row: `quads` words per row of
/// `q + 128` bytes (zeros past `a`'s columns, which the offset sums leave out), and each row's
/// scale.
fn quantise_rows(a: &Matrix<'_>, row0: usize, rows: usize, quads: usize) -> (Vec<u32>, Vec<f32>) {
    let k = a.cols();
    let mut words = vec![0u32; rows * quads];
    let (mut line, mut bytes) = (Vec::with_capacity(k), vec![0u8; 4 * quads]);
    let row_scales = words
        .chunks_mut(quads)
        .enumerate()
        .map(|(r, words)| match a.row(row0 + r) {
            Some(row) => quantise_row(words, &mut bytes, row),
            None => {
                line.clear();
                line.extend((0..k).map(|c| a.get(row0 + r, c)));
                quantise_row(words, &mut bytes, &line)
            }
        })
        .collect();
    (words, row_scales)
}

/// `dst ← dst + a·b` with `a` quantised per row on the fly and `b` quantised: `dst` row-major
/// `[a.rows, b.n]`. Rows are split into parallel tasks.
///
/// # Panics
/// When the shapes disagree, or `path` is not available on this CPU.
pub(super) fn gemm_int8_add(dst: &mut [f32], a: &Matrix<'_>, b: &PackedI8, path: Int8Path) {
    let (m, k, n) = (a.rows(), a.cols(), b.n);
    assert_eq!(
        b.k, k,
        "albert kernels: int8 product inner dimensions differ"
    );
    assert_eq!(dst.len(), m * n, "albert kernels: int8 product output size");
    assert!(
        path.available(),
        "albert kernels: {path:?} int8 path not on this CPU"
    );
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    dst.par_chunks_mut(ROWS_PER_TASK * n)
        .enumerate()
        .for_each(|(task, out)| {
            let rows = out.len() / n;
            let (words, row_scales) = quantise_rows(a, task * ROWS_PER_TASK, rows, b.quads);
            let task = Task {
                out,
                n,
                a: &words,
                row_scales: &row_scales,
                rows,
                b,
            };
            run_task(task, path);
        });
}

/// `bias_j + a·b_j` for every layer `(b_j, bias_j)` of `layers` — the same input read by
/// several linear layers, such as the query, key and value projections — with the input
/// quantised once per task of rows for all of them (where separate products would quantise
/// it once per layer), in one parallel pass. Returns the outputs one after another in one
/// buffer (layer `j`'s `[m, n_j]` rows after those of the layers before it).
///
/// # Panics
/// When the shapes disagree, or `path` is not available on this CPU.
pub(super) fn gemm_int8_many(
    a: &Matrix<'_>,
    layers: &[(&PackedI8, &[f32])],
    path: Int8Path,
) -> Vec<f32> {
    let (m, k) = (a.rows(), a.cols());
    for (b, bias) in layers {
        assert_eq!(
            b.k, k,
            "albert kernels: int8 product inner dimensions differ"
        );
        assert_eq!(b.n, bias.len(), "albert kernels: bias size");
    }
    assert!(
        path.available(),
        "albert kernels: {path:?} int8 path not on this CPU"
    );
    let len: usize = layers.iter().map(|(b, _)| m * b.n).sum();
    let mut all: Vec<f32> = Vec::with_capacity(len);
    let base = OutPtr(all.as_mut_ptr());
    let quads = k.div_ceil(4);
    (0..m.div_ceil(ROWS_PER_TASK))
        .into_par_iter()
        .for_each(|t| {
            let (first, rows) = (t * ROWS_PER_TASK, ROWS_PER_TASK.min(m - t * ROWS_PER_TASK));
            let (words, row_scales) = quantise_rows(a, first, rows, quads);
            let mut offset = 0;
            for (b, bias) in layers {
                let n = b.n;
                assert!(
                    offset + (first + rows) * n <= len,
                    "albert kernels: row block"
                );
                // SAFETY: rows `first .. first + rows` of this layer's output (inside the
                // allocation of `len` elements, checked), which no other task touches: the tasks
                // partition the rows.
                #[allow(unsafe_code)]
                let out = unsafe { bias_rows(base.get().add(offset), first, rows, bias) };
                offset += m * n;
                if k == 0 {
                    continue;
                }
                run_task(
                    Task {
                        out,
                        n,
                        a: &words,
                        row_scales: &row_scales,
                        rows,
                        b,
                    },
                    path,
                );
            }
        });
    // SAFETY: the tasks cover all m rows and wrote every element of their rows of every
    // layer's output: all `len` elements.
    #[allow(unsafe_code)]
    unsafe {
        all.set_len(len);
    }
    all
}

/// An output's pointer, shared by [`gemm_int8_many`]'s tasks (each writes only its own rows).
struct OutPtr(*mut f32);

// SAFETY: the tasks write disjoint rows (see `gemm_int8_many`).
#[allow(unsafe_code)]
unsafe impl Send for OutPtr {}
#[allow(unsafe_code)]
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The pointer (a method, so closures capture the whole wrapper).
    fn get(&self) -> *mut f32 {
        self.0
    }
}

/// Runs one task on `path`.
fn run_task(task: Task<'_>, path: Int8Path) {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the callers assert that the path is available on this CPU.
        #[allow(unsafe_code)]
        Int8Path::Vnni => unsafe { avx512::task_vnni(task) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        #[allow(unsafe_code)]
        Int8Path::Emulated => unsafe { avx512::task_emulated(task) },
        _ => task_portable(task),
    }
}

/// One parallel task's operands: `rows` rows of the output (`n` values apart) and of the
/// quantised input (`b.quads` words apart, with their scales).
struct Task<'a> {
    out: &'a mut [f32],
    n: usize,
    a: &'a [u32],
    row_scales: &'a [f32],
    rows: usize,
    b: &'a PackedI8,
}

impl Task<'_> {
    /// Panics unless the lengths agree.
    fn check(&self) {
        assert!(
            self.out.len() == self.rows * self.n
                && self.a.len() == self.rows * self.b.quads
                && self.row_scales.len() == self.rows
                && self.n == self.b.n
        );
    }
}

/// `c + (sum − offset_sum) · (row_scale · column_scale)`: the one epilogue every path computes
/// (the same f32 operations in the same order).
#[inline(always)]
fn scaled(c: f32, sum: i32, offset_sum: i32, row_scale: f32, column_scale: f32) -> f32 {
    c + (sum.wrapping_sub(offset_sum)) as f32 * (row_scale * column_scale)
}

/// [`gemm_int8_add`]'s task in plain integer loops.
fn task_portable(t: Task<'_>) {
    t.check();
    let (b, n, quads) = (t.b, t.n, t.b.quads);
    for panel in 0..b.panels {
        let cols = (n - panel * NR).min(NR);
        let words = &b.data[panel * quads * NR..(panel + 1) * quads * NR];
        for r in 0..t.rows {
            let mut acc = [0i32; NR];
            for (p, &x) in t.a[r * quads..(r + 1) * quads].iter().enumerate() {
                let x = x.to_le_bytes();
                for (s, &w) in acc.iter_mut().zip(&words[p * NR..(p + 1) * NR]) {
                    let w = w.to_le_bytes();
                    *s += (0..4)
                        .map(|i| i32::from(x[i]) * i32::from(w[i] as i8))
                        .sum::<i32>();
                }
            }
            let row = &mut t.out[r * n + panel * NR..r * n + panel * NR + cols];
            for (j, c) in row.iter_mut().enumerate() {
                let col = panel * NR + j;
                *c = scaled(
                    *c,
                    acc[j],
                    b.offset_sums[col],
                    t.row_scales[r],
                    b.scale[col],
                );
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512;

#[cfg(test)]
mod tests;
