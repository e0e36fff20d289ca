//! The `vpdpbusd` micro-kernel of [`super::gemm_int8_add`] and its AVX-512BW emulation.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use super::{MR, NR, Task};

/// One lane-wise step `acc + Σ over the quad of a·b`, `a` holding 16 quads of unsigned
/// bytes and `b` 16 quads of signed bytes.
trait Dot {
    /// # Safety
    /// The CPU must have the instructions the implementation uses.
    unsafe fn dot(acc: __m512i, a: __m512i, b: __m512i) -> __m512i;
}

/// `vpdpbusd`.
struct Vnni;

impl Dot for Vnni {
    #[inline(always)]
    unsafe fn dot(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
        // SAFETY: the caller runs with AVX512-VNNI enabled.
        unsafe { _mm512_dpbusd_epi32(acc, a, b) }
    }
}

/// The same sums from the bytes widened to 16 bits: `vpmaddwd` of the even bytes plus that of
/// the odd ones (every product and pair sum exact in 32 bits).
struct Emulated;

impl Dot for Emulated {
    #[inline(always)]
    unsafe fn dot(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
        // SAFETY: AVX-512F and BW only; the caller runs with them enabled.
        unsafe {
            let low = _mm512_set1_epi16(0x00ff);
            let a_even = _mm512_and_si512(a, low);
            let a_odd = _mm512_srli_epi16::<8>(a);
            let b_even = _mm512_srai_epi16::<8>(_mm512_slli_epi16::<8>(b));
            let b_odd = _mm512_srai_epi16::<8>(b);
            let acc = _mm512_add_epi32(acc, _mm512_madd_epi16(a_even, b_even));
            _mm512_add_epi32(acc, _mm512_madd_epi16(a_odd, b_odd))
        }
    }
}

/// [`super::gemm_int8_add`]'s task on `vpdpbusd`.
///
/// # Safety
/// The CPU must have AVX-512F, BW and VNNI.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn task_vnni(t: Task<'_>) {
    // SAFETY: passed on.
    unsafe { task::<Vnni>(t) }
}

/// [`super::gemm_int8_add`]'s task on the emulation.
///
/// # Safety
/// The CPU must have AVX-512F and BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn task_emulated(t: Task<'_>) {
    // SAFETY: passed on.
    unsafe { task::<Emulated>(t) }
}

/// `out += a·b` for the task's rows.
///
/// # Safety
/// The CPU must have what `D` uses.
#[inline(always)]
unsafe fn task<D: Dot>(t: Task<'_>) {
    t.check();
    let (b, n, quads) = (t.b, t.n, t.b.quads);
    for panel in 0..b.panels {
        let cols = (n - panel * NR).min(NR);
        let words = &b.data[panel * quads * NR..(panel + 1) * quads * NR];
        let columns = panel * NR..(panel + 1) * NR;
        let (scale, offset_sums) = (&b.scale[columns.clone()], &b.offset_sums[columns]);
        let mut r = 0;
        while r < t.rows {
            let mr = (t.rows - r).min(MR);
            let block = Block {
                a: &t.a[r * quads..(r + mr) * quads],
                row_scales: &t.row_scales[r..r + mr],
                quads,
                words,
                scale,
                offset_sums,
                cols,
            };
            let c = &mut t.out[r * n + panel * NR..];
            // SAFETY: `block` holds `mr` rows of `quads` words, `words` `quads` rows of 32,
            // and `c` reaches row `mr − 1`, column `cols − 1` (row stride `n`).
            unsafe {
                match mr {
                    8 => block.run::<D, 8>(c, n),
                    7 => block.run::<D, 7>(c, n),
                    6 => block.run::<D, 6>(c, n),
                    5 => block.run::<D, 5>(c, n),
                    4 => block.run::<D, 4>(c, n),
                    3 => block.run::<D, 3>(c, n),
                    2 => block.run::<D, 2>(c, n),
                    _ => block.run::<D, 1>(c, n),
                }
            }
            r += mr;
        }
    }
}

/// One micro-kernel call's operands: up to [`MR`] rows of the quantised input and one panel.
struct Block<'a> {
    a: &'a [u32],
    row_scales: &'a [f32],
    quads: usize,
    words: &'a [u32],
    scale: &'a [f32],
    offset_sums: &'a [i32],
    cols: usize,
}

impl Block<'_> {
    /// `c[0..R, 0..cols] ← c + (Σ − offset sums)·(row scale · column scale)` with `R × 32`
    /// int32 accumulators.
    ///
    /// # Safety
    /// The CPU must have what `D` uses; `c` reaches `(R − 1)·stride + cols` elements.
    #[inline(always)]
    unsafe fn run<D: Dot, const R: usize>(&self, c: &mut [f32], stride: usize) {
        let (quads, cols) = (self.quads, self.cols);
        assert!(cols <= NR && c.len() >= (R - 1) * stride + cols);
        assert!(self.a.len() == R * quads && self.words.len() == quads * NR);
        assert!(self.row_scales.len() == R && self.scale.len() == NR);
        assert!(self.offset_sums.len() == NR);
        // Lanes of the two 16-column halves that exist.
        let lanes = |from: usize| -> __mmask16 {
            let k = cols.saturating_sub(from).min(16);
            ((1u32 << k) - 1) as __mmask16
        };
        let masks = [lanes(0), lanes(16)];
        // SAFETY: every load and store of `c` is masked to the `cols` columns that exist in
        // row `i < R` (checked above); `a`, `words`, the scales and sums are read inside their
        // lengths (checked above).
        unsafe {
            let mut acc = [[_mm512_setzero_si512(); 2]; R];
            let (ap, bp) = (self.a.as_ptr(), self.words.as_ptr());
            for p in 0..quads {
                let b0 = _mm512_loadu_si512(bp.add(p * NR).cast());
                let b1 = _mm512_loadu_si512(bp.add(p * NR + 16).cast());
                for (i, row) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_epi32(*ap.add(i * quads + p) as i32);
                    row[0] = D::dot(row[0], x, b0);
                    row[1] = D::dot(row[1], x, b1);
                }
            }
            for (i, row) in acc.iter().enumerate() {
                let out = c.as_mut_ptr().add(i * stride);
                let row_scale = _mm512_set1_ps(self.row_scales[i]);
                for (h, &sum) in row.iter().enumerate() {
                    // The epilogue of `super::scaled`, lane by lane.
                    let offset = _mm512_loadu_si512(self.offset_sums.as_ptr().add(16 * h).cast());
                    let scale = _mm512_loadu_ps(self.scale.as_ptr().add(16 * h));
                    let value = _mm512_cvtepi32_ps(_mm512_sub_epi32(sum, offset));
                    let y = _mm512_mul_ps(value, _mm512_mul_ps(row_scale, scale));
                    let p = out.add(16 * h);
                    let old = _mm512_maskz_loadu_ps(masks[h], p);
                    _mm512_mask_storeu_ps(p, masks[h], _mm512_add_ps(old, y));
                }
            }
        }
    }
}
