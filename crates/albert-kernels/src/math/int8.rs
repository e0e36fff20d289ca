//! Quantising a row to int8 (`--precision int8`), vectorised.

use super::{Fused, LANES, MulAdd, Plain, lane_tree};

simd_dispatch! {
    /// `line` quantised to int8 symmetrically (`round(v · 127 / max|v|)`, ties to even) and
    /// stored as `q + 128` bytes, four to a word (little-endian), into `words` (the bytes past
    /// the line's end `128`, i.e. zero), through `bytes` (scratch of `4·words.len()`); returns
    /// the scale `max|v| / 127` ([`int8_scales`]: 0 for a zero line, NaN for a line with a
    /// NaN or an infinity, so that the products it enters are NaN as in float32).
    fn quantise_row(words: &mut [u32], bytes: &mut [u8], line: &[f32]) -> f32 = quantise_row_body;
}

#[inline(always)]
fn quantise_row_body<M: MulAdd>(words: &mut [u32], bytes: &mut [u8], line: &[f32]) -> f32 {
    assert!(
        bytes.len() == 4 * words.len() && bytes.len() >= line.len(),
        "quantise_row: lengths"
    );
    // The largest magnitude ([`magnitude`]: a line with a NaN gets a NaN scale). Vectorises.
    let mut acc = [0.0f32; LANES];
    let mut chunks = line.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = a.max(magnitude(v));
        }
    }
    let amax = chunks
        .remainder()
        .iter()
        .fold(lane_tree(acc, f32::max), |m, &v| m.max(magnitude(v)));
    let (scale, inv) = int8_scales(amax);
    // `q + 128` from the bits of `v·inv + 1.5·2²³`, whose low bits hold `q` (two's
    // complement): integer operations only, so the loop vectorises.
    let (head, tail) = bytes.split_at_mut(line.len());
    for (b, &v) in head.iter_mut().zip(line) {
        let bits = (v * inv + ROUND_MAGIC).to_bits();
        *b = bits.wrapping_sub(ROUND_MAGIC.to_bits()).wrapping_add(128) as u8;
    }
    tail.fill(128);
    for (w, b) in words.iter_mut().zip(bytes.chunks_exact(4)) {
        *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    scale
}

/// `1.5 · 2²³`: added to an f32 of magnitude below 2²², it leaves no fraction bits (the sum
/// is rounded to an integer, ties to even, in the default rounding mode) and the integer in
/// the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `|v|`, a NaN counted as an infinity: the maximum of a line's magnitudes is then infinite
/// when it holds a NaN or an infinity (`f32::max` would skip a NaN), and [`int8_scales`] gives
/// it a NaN scale.
#[inline(always)]
pub(crate) fn magnitude(v: f32) -> f32 {
    if v.is_nan() { f32::INFINITY } else { v.abs() }
}

/// The int8 scale `max|v| / 127` of a line and its inverse `127 / max|v|`: both 0 for a zero
/// line; for a line holding a NaN or an infinity (`amax` not finite) the scale is NaN, so the
/// line's products come out NaN, as they would in float32, instead of silently finite.
#[inline(always)]
pub(crate) fn int8_scales(amax: f32) -> (f32, f32) {
    if !amax.is_finite() {
        (f32::NAN, 0.0)
    } else if amax > 0.0 {
        (amax / 127.0, 127.0 / amax)
    } else {
        (0.0, 0.0)
    }
}

/// `v` rounded to the nearest integer, ties to even, for `|v| < 2²²` (the int8 quantiser's
/// `|v| ≤ 127`): adding and removing `1.5 · 2²³` leaves no fraction bits, in the default
/// rounding mode (branch-free and vectorisable, where `round_ties_even` is a library call on
/// baseline x86-64).
#[inline(always)]
pub(crate) fn round_even_small(v: f32) -> f32 {
    (v + ROUND_MAGIC) - ROUND_MAGIC
}
