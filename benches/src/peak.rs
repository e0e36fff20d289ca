//! The machine's peak f32 FLOP rate, measured: every core runs independent chains of fused
//! multiply-adds on the widest vectors the CPU has (AVX-512, else AVX2+FMA), the way the
//! hand-written loop of `../shared/notes/burn-0.22.md` did. The benchmark report divides the
//! achieved matmul GFLOP/s by this.

use std::time::Instant;

/// Independent accumulators: FMA latency (4 cycles) × 2 ports, with headroom.
const CHAINS: usize = 12;

/// Peak GFLOP/s of `threads` threads and the instruction set used.
pub fn peak_gflops(threads: usize) -> (f64, &'static str) {
    let (kernel, lanes, isa) = kernel();
    let iters: u64 = 50_000_000;
    // Warm up the clocks, then time the best of three.
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
    let flops = threads as f64 * iters as f64 * (CHAINS * lanes * 2) as f64;
    (flops / best / 1e9, isa)
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
