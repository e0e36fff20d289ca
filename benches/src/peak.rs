//! The machine's peak FLOP rates, measured: every core runs independent chains of its widest
//! multiply-add instruction, the way the hand-written loop of `../shared/notes/burn-0.22.md`
//! did. The benchmark report divides the achieved matmul GFLOP/s by these.
//!
//! - [`peak_gflops`], float32: fused multiply-adds on AVX-512, else AVX2+FMA vectors.
//! - [`bf16_peak_gflops`], bf16 operands with f32 accumulation (what a bf16 product runs on):
//!   AMX tiles (`tdpbf16ps`, 16 × 16 × 32 per instruction) where the CPU has them and Linux
//!   grants the tile state, else AVX512-BF16 dot products (`vdpbf16ps`, 16 lanes × 2 pairs),
//!   else no bf16 unit: bf16 products then run on the f32 units, and the figure is the f32 one.
//!   [`BF16_ISA_ENV`] forces a lower path, for A/B runs.
//! - [`int8_peak_gops`], int8 products with int32 accumulation (what `--precision int8` runs
//!   on): AVX512-VNNI `vpdpbusd` (16 lanes × 4 byte products), where the CPU has it.

use std::time::Instant;

/// Independent accumulators: FMA latency (4 cycles) × 2 ports, with headroom.
const CHAINS: usize = 12;

/// Peak GFLOP/s of `threads` threads and the instruction set used.
pub fn peak_gflops(threads: usize) -> (f64, &'static str) {
    let (kernel, lanes, isa) = kernel();
    let flop = (CHAINS * lanes * 2) as f64;
    (timed_gflops(kernel, flop, 50_000_000, threads), isa)
}

/// GFLOP/s of `threads` threads each running `kernel(iters)` (`flop` per iteration): the
/// clocks warmed up by one run, then the best of three.
fn timed_gflops(kernel: Kernel, flop: f64, iters: u64, threads: usize) -> f64 {
    let run = || {
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| std::hint::black_box(kernel(std::hint::black_box(iters))));
            }
        });
        t.elapsed().as_secs_f64()
    };
    run();
    let best = (0..3).map(|_| run()).fold(f64::INFINITY, f64::min);
    threads as f64 * iters as f64 * flop / best / 1e9
}

/// Forces the bf16 peak's instruction set: `amx`, `avx512bf16` or `none` (a path the CPU does
/// not have falls back to the next one down).
pub const BF16_ISA_ENV: &str = "ALBERT_BF16_ISA";

/// Peak bf16 GFLOP/s (bf16 operands, f32 accumulation) of `threads` threads and the
/// instruction set that reached it; without bf16 units, [`peak_gflops`]'s figure and label.
pub fn bf16_peak_gflops(threads: usize) -> (f64, String) {
    let Some((kernel, flop, iters, isa)) = bf16_kernel() else {
        let (gflops, isa) = peak_gflops(threads);
        return (gflops, format!("no bf16 units: {isa}"));
    };
    (timed_gflops(kernel, flop, iters, threads), isa.into())
}

/// The bf16 kernel for this CPU: the function, its FLOPs per iteration, the iterations of one
/// timed run, and its label; `None` without bf16 units (or when [`BF16_ISA_ENV`] says so).
fn bf16_kernel() -> Option<(Kernel, f64, u64, &'static str)> {
    let forced = std::env::var(BF16_ISA_ENV).unwrap_or_default();
    let allow = |isa: &str| match forced.as_str() {
        "amx" | "" => true,
        "avx512bf16" => isa != "amx",
        _ => false,
    };
    #[cfg(target_arch = "x86_64")]
    {
        if allow("amx") && albert_kernels::amx_bf16_usable() {
            // 4 tile products of 16 × 16 × 32 per iteration.
            return Some((
                albert_kernels::amx_peak_loop,
                4.0 * 16_384.0,
                5_000_000,
                "AMX tdpbf16ps",
            ));
        }
        if allow("avx512bf16")
            && is_x86_feature_detected!("avx512bf16")
            && is_x86_feature_detected!("avx512f")
        {
            // CHAINS dot products of 16 lanes × 2 pairs per iteration.
            let flop = (CHAINS * 16 * 2 * 2) as f64;
            return Some((x86::avx512bf16, flop, 50_000_000, "AVX512-BF16 vdpbf16ps"));
        }
    }
    let _ = allow;
    None
}

/// Peak int8 GOPS (byte products with int32 accumulation, two operations per multiply-add)
/// of `threads` threads and the instruction that reached it; `None` without AVX512-VNNI (the
/// int8 products then run on an emulation or portable loops, docs/precision.md).
pub fn int8_peak_gops(threads: usize) -> Option<(f64, String)> {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512f") {
            // CHAINS dot products of 16 lanes × 4 bytes per iteration.
            let ops = (CHAINS * 16 * 4 * 2) as f64;
            let gops = timed_gflops(x86::avx512vnni, ops, 50_000_000, threads);
            return Some((gops, "AVX512-VNNI vpdpbusd".into()));
        }
    }
    let _ = threads;
    None
}

type Kernel = fn(u64) -> f32;

fn kernel() -> (Kernel, usize, &'static str) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            return (x86::avx512, 16, "AVX-512 FMA");
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return (x86::avx2, 8, "AVX2 FMA");
        }
    }
    (scalar, 1, "scalar mul_add")
}

fn scalar(iters: u64) -> f32 {
    let mut acc = [0.0f32; CHAINS];
    for _ in 0..iters {
        for x in &mut acc {
            *x = x.mul_add(0.999_999, 1e-6);
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use std::arch::x86_64::*;

    use super::CHAINS;

    pub fn avx512(iters: u64) -> f32 {
        // SAFETY: only chosen by `kernel()` after `is_x86_feature_detected!("avx512f")`.
        unsafe { avx512_impl(iters) }
    }

    pub fn avx2(iters: u64) -> f32 {
        // SAFETY: only chosen by `kernel()` after detecting `avx2` and `fma`.
        unsafe { avx2_impl(iters) }
    }

    #[target_feature(enable = "avx512f")]
    fn avx512_impl(iters: u64) -> f32 {
        let a = _mm512_set1_ps(0.999_999);
        let b = _mm512_set1_ps(1e-6);
        let mut acc = [_mm512_setzero_ps(); CHAINS];
        for _ in 0..iters {
            for x in &mut acc {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        acc.iter().map(|x| _mm512_reduce_add_ps(*x)).sum()
    }

    /// `iters` rounds of [`super::CHAINS`] independent `vdpbf16ps` on 0.5 · 0.5 pairs: every
    /// lane ends at `0.5 · iters` (exact while that fits f32's mantissa). Returns lane 0 of the
    /// first chain.
    pub fn avx512bf16(iters: u64) -> f32 {
        // SAFETY: only chosen after detecting `avx512bf16` and `avx512f`.
        unsafe { avx512bf16_impl(iters) }
    }

    #[target_feature(enable = "avx512bf16,avx512f")]
    fn avx512bf16_impl(iters: u64) -> f32 {
        // 0x3f00 is bfloat16 0.5.
        // SAFETY: `__m512i` and `__m512bh` are both 64 bytes of plain bits.
        let half: __m512bh = unsafe { std::mem::transmute(_mm512_set1_epi16(0x3f00)) };
        let mut acc = [_mm512_setzero_ps(); CHAINS];
        for _ in 0..iters {
            for x in &mut acc {
                *x = _mm512_dpbf16_ps(*x, half, half);
            }
        }
        // Every chain stays observable; lane 0 of the first is the value to check.
        std::hint::black_box(acc.iter().map(|x| _mm512_reduce_add_ps(*x)).sum::<f32>());
        _mm512_cvtss_f32(acc[0])
    }

    /// `iters` rounds of [`super::CHAINS`] independent `vpdpbusd` on bytes of 1: every lane
    /// ends at `4 · iters`. Returns lane 0 of the first chain (as f32).
    pub fn avx512vnni(iters: u64) -> f32 {
        // SAFETY: only chosen after detecting `avx512vnni` and `avx512f`.
        unsafe { avx512vnni_impl(iters) }
    }

    #[target_feature(enable = "avx512vnni,avx512f")]
    fn avx512vnni_impl(iters: u64) -> f32 {
        let ones = _mm512_set1_epi8(1);
        let mut acc = [_mm512_setzero_si512(); CHAINS];
        for _ in 0..iters {
            for x in &mut acc {
                *x = _mm512_dpbusd_epi32(*x, ones, ones);
            }
        }
        std::hint::black_box(
            acc.iter()
                .map(|x| _mm512_reduce_add_epi32(*x))
                .fold(0i32, i32::wrapping_add),
        );
        _mm_cvtsi128_si32(_mm512_castsi512_si128(acc[0])) as f32
    }

    #[target_feature(enable = "avx2,fma")]
    fn avx2_impl(iters: u64) -> f32 {
        let a = _mm256_set1_ps(0.999_999);
        let b = _mm256_set1_ps(1e-6);
        let mut acc = [_mm256_setzero_ps(); CHAINS];
        for _ in 0..iters {
            for x in &mut acc {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        // One lane of each chain is enough to keep the work observable.
        acc.iter().map(|x| _mm256_cvtss_f32(*x)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bf16 peak takes the CPU's bf16 units when it has them, and their kernels compute the
    /// exact dot products the FLOP count assumes (checked on every path the CPU has); the path
    /// it takes is timed briefly (the real run is ~1,000× longer).
    #[test]
    fn bf16_peak_measures_the_path_it_names() {
        let mut has_units = false;
        #[cfg(target_arch = "x86_64")]
        {
            if albert_kernels::amx_bf16_usable() {
                // The tile loop's sums are checked in albert-kernels.
                has_units = true;
            }
            if is_x86_feature_detected!("avx512bf16") {
                has_units = true;
                assert_eq!(x86::avx512bf16(1000), 0.5 * 1000.0);
            }
        }
        if std::env::var_os(BF16_ISA_ENV).is_none() {
            assert_eq!(bf16_kernel().is_some(), has_units);
        }
        let (kernel, flop, label) = match bf16_kernel() {
            Some((k, flop, _, isa)) => (k, flop, isa),
            None => {
                let (k, lanes, isa) = kernel();
                (k, (CHAINS * lanes * 2) as f64, isa)
            }
        };
        let gflops = timed_gflops(kernel, flop, 2_000, 1);
        assert!(gflops.is_finite() && gflops > 0.0, "{label}: {gflops}");
    }

    /// The int8 peak runs `vpdpbusd` where the CPU has AVX512-VNNI, and its kernel computes the
    /// sums the operation count assumes.
    #[test]
    fn int8_peak_measures_vpdpbusd_where_there() {
        #[cfg(target_arch = "x86_64")]
        {
            let vnni =
                is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512f");
            if vnni {
                assert_eq!(x86::avx512vnni(1000), 4.0 * 1000.0);
            }
            let peak = vnni.then(|| {
                let ops = (CHAINS * 16 * 4 * 2) as f64;
                timed_gflops(x86::avx512vnni, ops, 2_000, 1)
            });
            assert!(peak.is_none_or(|g| g.is_finite() && g > 0.0));
        }
    }
}
