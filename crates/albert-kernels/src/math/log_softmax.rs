//! The log-softmax over the last axis (what the cross-entropy losses take the log-probabilities
//! of the labels from: the MLM head's `[masked rows, vocabulary]` logits above all) and its
//! backward, each one multi-threaded pass per row block with a vectorised `exp`.

use super::{Fused, LANES, MulAdd, Plain, exp_or_zero, exp_with, lane_sum, lane_tree};

simd_dispatch! {
    /// `x − log Σ_j e^{x_j}` of every `k`-long row of `rows`, in place.
    fn log_softmax_rows(rows: &mut [f32], k: usize) = log_softmax_body;
}

#[inline(always)]
fn log_softmax_body<M: MulAdd>(rows: &mut [f32], k: usize) {
    for row in rows.chunks_mut(k.max(1)) {
        let lse = log_sum_exp::<M>(row);
        for v in row.iter_mut() {
            *v -= lse;
        }
    }
}

/// `log Σ e^{x}` of one row: its maximum, then the exponentials of the differences summed in
/// [`LANES`] partial sums (the loops vectorise), then `max + ln Σ`.
#[inline(always)]
fn log_sum_exp<M: MulAdd>(row: &[f32]) -> f32 {
    let mut peak = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (p, &v) in peak.iter_mut().zip(c) {
            *p = if v > *p { v } else { *p };
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .fold(lane_tree(peak, f32::max), |m, &v| m.max(v));
    let mut sums = [0.0f32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (s, &v) in sums.iter_mut().zip(c) {
            *s += exp_or_zero::<M>(v - max);
        }
    }
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|&v| exp_or_zero::<M>(v - max))
        .sum();
    max + (lane_tree(sums, |a, b| a + b) + tail).ln()
}

simd_dispatch! {
    /// The log-softmax backward in place on every `k`-long row: `g ← g − e^y·Σ g` (`y` the
    /// forward's output, the log-probabilities).
    fn log_softmax_backward_rows(g: &mut [f32], y: &[f32], k: usize) = log_softmax_backward_body;
}

#[inline(always)]
fn log_softmax_backward_body<M: MulAdd>(g: &mut [f32], y: &[f32], k: usize) {
    for (g, y) in g.chunks_mut(k.max(1)).zip(y.chunks(k.max(1))) {
        let total = lane_sum(g, g, |v, _| v);
        for (g, &y) in g.iter_mut().zip(y) {
            *g -= exp_with::<M>(y) * total;
        }
    }
}
