//! The inference LayerNorm that also writes its output rounded to a product precision.

use std::mem::MaybeUninit;

use albert_core::precision::Precision;

use super::{Fused, MulAdd, Plain, row_stats};

/// A LayerNorm row kernel writing the normalised rows of `x` (`γ`, `β`, `ε`) into the first
/// output and the same values rounded to a product precision into the second.
pub(crate) type LayerNormRowsFn =
    fn(&mut [MaybeUninit<f32>], &mut [MaybeUninit<f32>], &[f32], &[f32], &[f32], f64);

/// Defines the row kernel `$name` (run-time SIMD dispatch of `$body`): the LayerNorm rows of
/// `x` into the first output and `$round` of them into the second.
macro_rules! layer_norm_rounding {
    ($(#[$doc:meta])* $name:ident, $body:ident, $round:path) => {
        simd_dispatch! {
            $(#[$doc])*
            fn $name(
                out: &mut [MaybeUninit<f32>],
                rounded: &mut [MaybeUninit<f32>],
                x: &[f32],
                gamma: &[f32],
                beta: &[f32],
                epsilon: f64,
            ) = $body;
        }

        #[inline(always)]
        fn $body<M: MulAdd>(
            out: &mut [MaybeUninit<f32>],
            rounded: &mut [MaybeUninit<f32>],
            x: &[f32],
            gamma: &[f32],
            beta: &[f32],
            epsilon: f64,
        ) {
            layer_norm_into::<M>(out, rounded, x, gamma, beta, epsilon, $round);
        }
    };
}

layer_norm_rounding!(
    /// `(x − μ)·r·γ + β` of every `γ.len()`-long row of `x` into `out` and, rounded to the
    /// nearest bfloat16, into `rounded` (both `x`'s length; every element written).
    layer_norm_bf16_rows,
    layer_norm_bf16_body,
    albert_core::precision::round_bf16
);

layer_norm_rounding!(
    /// [`layer_norm_bf16_rows`] rounding to half.
    layer_norm_f16_rows,
    layer_norm_f16_body,
    albert_core::precision::round_f16
);

/// The LayerNorm rows of `x` into `out` and `round` of them into `rounded`.
#[inline(always)]
fn layer_norm_into<M: MulAdd>(
    out: &mut [MaybeUninit<f32>],
    rounded: &mut [MaybeUninit<f32>],
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
    round: impl Fn(f32) -> f32,
) {
    let h = gamma.len();
    assert!(
        out.len() == x.len()
            && rounded.len() == x.len()
            && beta.len() == h
            && x.len().is_multiple_of(h.max(1)),
        "layer_norm: lengths"
    );
    for ((o, q), x) in out
        .chunks_mut(h)
        .zip(rounded.chunks_mut(h))
        .zip(x.chunks(h))
    {
        let (mean, r) = row_stats(x, epsilon);
        for ((((o, q), &v), &g), &b) in o.iter_mut().zip(q).zip(x).zip(gamma).zip(beta) {
            let y = M::mul_add((v - mean) * r, g, b);
            o.write(y);
            q.write(round(y));
        }
    }
}

/// The LayerNorm row kernel whose second output is rounded to `precision` (`None` where
/// nothing is rounded: float32, int8).
pub(crate) fn layer_norm_rows_in(precision: Precision) -> Option<LayerNormRowsFn> {
    match precision {
        Precision::Fp32 | Precision::Int8 => None,
        Precision::Bf16 => Some(layer_norm_bf16_rows),
        Precision::Fp16 => Some(layer_norm_f16_rows),
    }
}
