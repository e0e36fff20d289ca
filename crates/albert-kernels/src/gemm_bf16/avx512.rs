//! The `vdpbf16ps` micro-kernel of [`super::gemm_bf16_add`] and its AVX-512F emulation.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use super::{MR, NR, PackedB};

/// One lane-wise step `acc + Σ over the pair of a·b`, `a` and `b` holding 16 pairs.
trait Dot {
    /// # Safety
    /// The CPU must have the instructions the implementation uses.
    unsafe fn dot(acc: __m512, a: __m512i, b: __m512i) -> __m512;
}

/// `vdpbf16ps`.
struct Native;

impl Dot for Native {
    #[inline(always)]
    unsafe fn dot(acc: __m512, a: __m512i, b: __m512i) -> __m512 {
        // SAFETY: `__m512i` and `__m512bh` are 64 bytes of plain bits; the caller runs
        // with AVX512-BF16 enabled.
        unsafe {
            _mm512_dpbf16_ps(
                acc,
                std::mem::transmute::<__m512i, __m512bh>(a),
                std::mem::transmute::<__m512i, __m512bh>(b),
            )
        }
    }
}

/// The same sums from the bf16 halves widened to f32 (exact products, two roundings).
struct Emulated;

impl Dot for Emulated {
    #[inline(always)]
    unsafe fn dot(acc: __m512, a: __m512i, b: __m512i) -> __m512 {
        // SAFETY: AVX-512F only; the caller runs with it enabled.
        unsafe {
            let high = _mm512_set1_epi32(0xffff_0000_u32 as i32);
            let odd = |v| _mm512_castsi512_ps(_mm512_and_si512(v, high));
            let even = |v| _mm512_castsi512_ps(_mm512_slli_epi32::<16>(v));
            let acc = _mm512_fmadd_ps(odd(a), odd(b), acc);
            _mm512_fmadd_ps(even(a), even(b), acc)
        }
    }
}

/// [`super::gemm_bf16_add`]'s task on `vdpbf16ps`.
///
/// # Safety
/// The CPU must have AVX-512F and AVX512-BF16; the sizes as in [`task`].
#[target_feature(enable = "avx512f,avx512bf16")]
pub(super) unsafe fn task_native(out: &mut [f32], n: usize, a: &[u32], rows: usize, b: &PackedB) {
    // SAFETY: passed on.
    unsafe { task::<Native>(out, n, a, rows, b) }
}

/// [`super::gemm_bf16_add`]'s task on the emulation.
///
/// # Safety
/// The CPU must have AVX-512F; the sizes as in [`task`].
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn task_emulated(out: &mut [f32], n: usize, a: &[u32], rows: usize, b: &PackedB) {
    // SAFETY: passed on.
    unsafe { task::<Emulated>(out, n, a, rows, b) }
}

/// `out += a·b` for `rows` rows: `out` `rows × n` row-major, `a` `rows × b.pairs` words.
///
/// # Safety
/// The CPU must have what `D` uses; `out.len() == rows·n`, `a.len() == rows·b.pairs`,
/// `n == b.n`.
#[inline(always)]
unsafe fn task<D: Dot>(out: &mut [f32], n: usize, a: &[u32], rows: usize, b: &PackedB) {
    assert!(out.len() == rows * n && a.len() == rows * b.pairs && n == b.n);
    for panel in 0..b.panels {
        let cols = (n - panel * NR).min(NR);
        let words = &b.data[panel * b.pairs * NR..(panel + 1) * b.pairs * NR];
        let mut r = 0;
        while r < rows {
            let mr = (rows - r).min(MR);
            let a_rows = &a[r * b.pairs..(r + mr) * b.pairs];
            let c = &mut out[r * n + panel * NR..];
            // SAFETY: `a_rows` holds `mr` rows of `pairs` words, `words` `pairs` rows of
            // 32, and `c` reaches row `mr − 1`, column `cols − 1` (row stride `n`).
            unsafe {
                match mr {
                    8 => block::<D, 8>(c, n, cols, a_rows, b.pairs, words),
                    7 => block::<D, 7>(c, n, cols, a_rows, b.pairs, words),
                    6 => block::<D, 6>(c, n, cols, a_rows, b.pairs, words),
                    5 => block::<D, 5>(c, n, cols, a_rows, b.pairs, words),
                    4 => block::<D, 4>(c, n, cols, a_rows, b.pairs, words),
                    3 => block::<D, 3>(c, n, cols, a_rows, b.pairs, words),
                    2 => block::<D, 2>(c, n, cols, a_rows, b.pairs, words),
                    _ => block::<D, 1>(c, n, cols, a_rows, b.pairs, words),
                }
            }
            r += mr;
        }
    }
}

/// The micro-kernel: `c[0..R, 0..cols] += a·panel` with `R × 32` accumulators.
///
/// # Safety
/// The CPU must have what `D` uses; `a` holds `R·pairs` words, `words` `pairs·32`, and
/// `c` reaches `(R − 1)·stride + cols` elements, `cols ≤ 32`.
#[inline(always)]
unsafe fn block<D: Dot, const R: usize>(
    c: &mut [f32],
    stride: usize,
    cols: usize,
    a: &[u32],
    pairs: usize,
    words: &[u32],
) {
    assert!(cols <= NR && c.len() >= (R - 1) * stride + cols);
    assert!(a.len() == R * pairs && words.len() == pairs * NR);
    // Lanes of the two 16-column halves that exist.
    let lanes = |from: usize| -> __mmask16 {
        let k = cols.saturating_sub(from).min(16);
        ((1u32 << k) - 1) as __mmask16
    };
    let (m0, m1) = (lanes(0), lanes(16));
    // SAFETY: every load and store below is masked to the `cols` columns that exist in
    // row `i < R` of `c` (checked above); `a` and `words` are read inside their lengths.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        for (i, row) in acc.iter_mut().enumerate() {
            let p = c.as_ptr().add(i * stride);
            row[0] = _mm512_maskz_loadu_ps(m0, p);
            row[1] = _mm512_maskz_loadu_ps(m1, p.add(16));
        }
        let (ap, bp) = (a.as_ptr(), words.as_ptr());
        for p in 0..pairs {
            let b0 = _mm512_loadu_si512(bp.add(p * NR).cast());
            let b1 = _mm512_loadu_si512(bp.add(p * NR + 16).cast());
            for (i, row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_epi32(*ap.add(i * pairs + p) as i32);
                row[0] = D::dot(row[0], x, b0);
                row[1] = D::dot(row[1], x, b1);
            }
        }
        for (i, row) in acc.iter().enumerate() {
            let p = c.as_mut_ptr().add(i * stride);
            _mm512_mask_storeu_ps(p, m0, row[0]);
            _mm512_mask_storeu_ps(p.add(16), m1, row[1]);
        }
    }
}
