//! The precision of the model's matrix products, chosen per thread for a scope, as
//! `torch.autocast` chooses it: [`autocast`]`(Precision::Bf16)` makes every product the model
//! computes through [`crate::ops`] on this thread (the Q/K/V/output projections, the feed-forward
//! layers, the attention scores and context, the embedding projection, the MLM transform and
//! decoder, the pooler and the heads) take bfloat16 operands — each operand rounded to the
//! nearest bfloat16, ties to even — and accumulate in float32, until the returned guard is
//! dropped. Everything else stays float32: embeddings, LayerNorm, softmax, GELU, losses, the
//! weights themselves (the master copy), gradients and optimiser state. Checkpoints are float32.
//! `Precision::Fp16` is the same with IEEE half precision operands (11 bits of mantissa, range
//! ±65504), the mixed precision of GPUs without bfloat16.
//!
//! On the CPU the rounding is a fused kernel (`albert-kernels`); on other devices it is burn's
//! cast to the half dtype (and the product may run in it there: `crate::ops`). Either way the
//! gradient passes through the rounding unchanged (the gradient of a cast), so training in
//! reduced precision updates the float32 master weights.
//!
//! ```
//! use albert_core::precision::{self, Precision};
//! assert_eq!(precision::current(), Precision::Fp32);
//! {
//!     let _bf16 = precision::autocast(Precision::Bf16);
//!     assert_eq!(precision::current(), Precision::Bf16);
//! }
//! assert_eq!(precision::current(), Precision::Fp32);
//! ```

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The precision of the matrix products' operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// float32 operands (the default).
    #[default]
    Fp32,
    /// bfloat16 operands (8 bits of mantissa), float32 accumulation and everything else float32.
    Bf16,
    /// IEEE half precision operands (11 bits of mantissa, finite values up to ±65504), float32
    /// accumulation and everything else float32.
    Fp16,
    /// Dynamic int8 quantisation of the linear layers, for inference (what PyTorch's
    /// `quantize_dynamic` does to `nn.Linear`): each weight quantised once per output column,
    /// each input row at run time, the products summed exactly in int32 and scaled back to
    /// float32. The attention products and everything else stay float32. Runs on the CPU
    /// kernels of `albert-kernels` only (elsewhere the products stay float32; the commands
    /// refuse it there) and never in training ([`Precision::inference_only`]).
    Int8,
}

impl Precision {
    /// Every precision, in the order the CLI lists them.
    pub const ALL: [Precision; 4] = [
        Precision::Fp32,
        Precision::Bf16,
        Precision::Fp16,
        Precision::Int8,
    ];

    /// The name used on the command line and in configs: `fp32`, `bf16`, `fp16`, `int8`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
            Precision::Int8 => "int8",
        }
    }

    /// Whether the products' operands are rounded to a half precision (bf16, fp16).
    pub fn rounds(self) -> bool {
        matches!(self, Precision::Bf16 | Precision::Fp16)
    }

    /// Whether this precision is for inference only (int8: its quantisation has no gradient).
    pub fn inference_only(self) -> bool {
        self == Precision::Int8
    }

    /// `x` rounded to this precision's nearest value (ties to even), kept as f32: itself in
    /// float32 (and int8, whose quantisation happens inside the product), [`round_bf16`] or
    /// [`round_f16`].
    #[inline(always)]
    pub fn round(self, x: f32) -> f32 {
        match self {
            Precision::Fp32 | Precision::Int8 => x,
            Precision::Bf16 => round_bf16(x),
            Precision::Fp16 => round_f16(x),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown precision {s:?} (expected fp32, bf16, fp16 or int8)"))
    }
}

thread_local! {
    static CURRENT: Cell<Precision> = const { Cell::new(Precision::Fp32) };
}

/// The precision of this thread's products ([`autocast`]; `Fp32` unless a guard is alive).
pub fn current() -> Precision {
    CURRENT.with(Cell::get)
}

/// Sets this thread's product precision to `precision` until the returned guard is dropped
/// (then the previous one is back; guards nest).
#[must_use = "the precision reverts when the guard is dropped"]
pub fn autocast(precision: Precision) -> Autocast {
    let previous = CURRENT.with(|c| c.replace(precision));
    Autocast { previous }
}

/// Restores the previous precision when dropped ([`autocast`]).
#[derive(Debug)]
pub struct Autocast {
    previous: Precision,
}

impl Drop for Autocast {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// `x` rounded to the nearest bfloat16 (ties to even), as an f32: the upper 16 bits of the
/// result are the bfloat16. Infinities stay, a finite value past bfloat16's largest rounds to
/// infinity, NaN stays NaN (quiet). The same rounding as `half::bf16::from_f32` and PyTorch's
/// `.to(torch.bfloat16)`.
#[inline(always)]
pub fn round_bf16(x: f32) -> f32 {
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) & 0xffff_0000;
    let nan = (bits & 0x7fff_ffff) > 0x7f80_0000;
    f32::from_bits(if nan {
        (bits | 0x0040_0000) & 0xffff_0000
    } else {
        rounded
    })
}

/// `x` rounded to the nearest IEEE half precision value (ties to even), as an f32: 11
/// significant bits, subnormals down to 2⁻²⁴, a finite value past ±65504 (from ±65520, the
/// halfway point to 2¹⁶) to infinity, NaN stays NaN (quiet). The same rounding as
/// `half::f16::from_f32` and PyTorch's `.to(torch.float16)`; branch-free, so a loop over it
/// vectorises.
#[inline(always)]
pub fn round_f16(x: f32) -> f32 {
    let bits = x.to_bits();
    let sign = bits & 0x8000_0000;
    let abs = bits & 0x7fff_ffff;
    // A normal half: keep 10 of the 23 mantissa bits, rounding the 13 dropped ones to even.
    let normal = abs.wrapping_add(0x0fff + ((abs >> 13) & 1)) & 0xffff_e000;
    // Below 2⁻¹⁴ halves are multiples of 2⁻²⁴, the spacing of f32 just above 0.5: adding 0.5
    // rounds to that grid (ties to even, as 0.5 is an even multiple), subtracting it is exact.
    let subnormal = ((f32::from_bits(abs) + 0.5) - 0.5).to_bits();
    let rounded = if abs > 0x7f80_0000 {
        abs | 0x0040_0000 // NaN, made quiet
    } else if abs < 0x3880_0000 {
        subnormal
    } else if normal >= 0x4780_0000 {
        0x7f80_0000 // past 65504 after rounding (or infinite): infinity
    } else {
        normal
    };
    f32::from_bits(sign | rounded)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against `half`'s conversion (an independent implementation) on hand-picked values and
    /// a sweep of bit patterns, ties included.
    #[test]
    fn round_bf16_matches_half() {
        let picked = [
            0.0f32,
            -0.0,
            1.0,
            1.0 + 1.0 / 256.0, // exactly halfway between two bf16: ties to even (down)
            1.0 + 3.0 / 256.0, // halfway, odd below: rounds up
            1.0 + 1.0 / 256.0 + 1e-6, // just above halfway: up
            f32::MAX,          // rounds to infinity
            f32::MIN_POSITIVE,
            1e-40, // subnormal
            f32::INFINITY,
            f32::NEG_INFINITY,
            std::f32::consts::PI,
        ];
        assert_rounds_as(round_bf16, |x| half::bf16::from_f32(x).to_f32(), &picked);
        assert_eq!(round_bf16(1.0 + 1.0 / 256.0), 1.0);
        assert_eq!(round_bf16(1.0 + 3.0 / 256.0), 1.0 + 4.0 / 256.0);
    }

    /// `round` equals `reference` bit for bit on `picked` and on 400,000 bit patterns spread
    /// over the whole range (NaN only as NaN).
    fn assert_rounds_as(round: fn(f32) -> f32, reference: fn(f32) -> f32, picked: &[f32]) {
        let sweep = (0..400_000u32)
            .map(|i| f32::from_bits(i.wrapping_mul(2_654_435_761).rotate_left(i % 7)));
        for x in picked.iter().copied().chain(sweep) {
            if x.is_nan() {
                assert!(round(x).is_nan());
            } else {
                assert_eq!(round(x).to_bits(), reference(x).to_bits(), "x = {x:e}");
            }
        }
        assert!(round(f32::NAN).is_nan());
    }

    /// Against `half`'s conversion on hand-picked values (ties, the subnormal range, the
    /// overflow threshold) and a sweep of bit patterns. (Every one of the 2³² f32 bit patterns
    /// was also checked once, outside the suite: all equal, NaNs as NaN.)
    #[test]
    fn round_f16_matches_half() {
        let picked = [
            0.0f32,
            -0.0,
            1.0,
            1.0 + 1.0 / 2048.0, // halfway between two halves, even below: down
            1.0 + 3.0 / 2048.0, // halfway, odd below: up
            65504.0,            // the largest half
            65519.99,           // rounds down to it
            65520.0,            // halfway to 2¹⁶: ties to even, infinity
            -70000.0,
            6.103_515_6e-5, // 2⁻¹⁴, the smallest normal half
            6.0e-5,         // subnormal
            2.980_232_2e-8, // 2⁻²⁵: halfway to the smallest subnormal, ties to 0
            4.5e-8,         // rounds up to 2⁻²⁴
            1e-40,
            f32::MAX,
            f32::INFINITY,
            f32::NEG_INFINITY,
            std::f32::consts::PI,
        ];
        assert_rounds_as(round_f16, |x| half::f16::from_f32(x).to_f32(), &picked);
        assert_eq!(round_f16(1.0 + 1.0 / 2048.0), 1.0);
        assert_eq!(round_f16(65520.0), f32::INFINITY);
        assert_eq!(
            Precision::Fp16.round(1.0 + 1.0 / 1024.0),
            1.0 + 1.0 / 1024.0
        );
        assert_eq!(Precision::Bf16.round(1.0 + 1.0 / 1024.0), 1.0);
        assert_eq!(Precision::Fp32.round(1.0 + 1e-7), 1.0 + 1e-7);
    }

    #[test]
    fn autocast_nests_and_restores() {
        assert_eq!(current(), Precision::Fp32);
        let outer = autocast(Precision::Bf16);
        {
            let _inner = autocast(Precision::Fp32);
            assert_eq!(current(), Precision::Fp32);
        }
        assert_eq!(current(), Precision::Bf16);
        drop(outer);
        assert_eq!(current(), Precision::Fp32);
        // Other threads keep their own.
        let _bf16 = autocast(Precision::Bf16);
        std::thread::spawn(|| assert_eq!(current(), Precision::Fp32))
            .join()
            .unwrap();
    }

    #[test]
    fn names_round_trip() {
        for p in Precision::ALL {
            assert_eq!(p.name().parse::<Precision>(), Ok(p));
        }
        assert!("f16".parse::<Precision>().is_err());
    }
}
