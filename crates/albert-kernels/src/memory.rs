//! Process allocator tuning for tensor workloads (glibc).
//!
//! Every op of a burn CPU backend allocates its output afresh, and activations are megabytes:
//! glibc serves blocks above its mmap threshold (128 KiB at first, adapting up to 32 MiB) with
//! `mmap` and gives freed heap tops back to the kernel past its trim threshold (128 KiB), so a
//! training step keeps faulting in and zeroing fresh pages. Raising both thresholds keeps freed
//! buffers in the heap for the next step's allocations of the same sizes. Blocks above the
//! largest threshold glibc accepts (32 MiB: albert-base's MLM logits for 8 × 128 tokens are
//! 123 MB) would still be mapped afresh and faulted in on every forward, so mapping is turned
//! off altogether (`M_MMAP_MAX` 0): they too come from the heap and are reused. Memory is
//! returned to the kernel less eagerly; the peak RSS is the high-water mark either way. The
//! measured effect is in `docs/benchmarks.md`.
//!
//! Binaries call [`tune_allocator`] first thing in `main` (the `albert` CLI and `albert-bench`
//! do); library users may do the same. `ALBERT_MALLOC_TUNING=0`, or any `MALLOC_*_` /
//! `GLIBC_TUNABLES` setting of the user's, leaves the allocator as it is.

/// The environment variable that turns the tuning off when `0`.
pub const DISABLE_ENV: &str = "ALBERT_MALLOC_TUNING";

/// glibc's largest accepted mmap threshold on 64-bit targets (`HEAP_MAX_SIZE / 2`).
const MMAP_THRESHOLD: i32 = 32 << 20;
/// Give heap memory back to the kernel only when this much is free at its top.
const TRIM_THRESHOLD: i32 = i32::MAX;
/// How many blocks glibc may serve with their own `mmap` at once: none.
const MMAP_MAX: i32 = 0;

/// Raises glibc's mmap and trim thresholds and turns off its per-block `mmap` (see the module
/// docs). Returns whether the
/// allocator was changed: `false` off glibc, when disabled, or when the user set the
/// allocator's own variables. Call it before spawning threads.
pub fn tune_allocator() -> bool {
    let user_set = std::env::vars_os().any(|(k, _)| {
        let k = k.to_string_lossy();
        k == "GLIBC_TUNABLES" || (k.starts_with("MALLOC_") && k.ends_with('_'))
    });
    if user_set || std::env::var(DISABLE_ENV).is_ok_and(|v| v == "0") {
        return false;
    }
    set_thresholds()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn set_thresholds() -> bool {
    // SAFETY: `mallopt` only sets parameters of glibc's allocator, which are read under its
    // own lock; the values are in the ranges glibc documents (it returns 0 otherwise).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
            && libc::mallopt(libc::M_MMAP_MAX, MMAP_MAX) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_thresholds() -> bool {
    let _ = (MMAP_THRESHOLD, TRIM_THRESHOLD, MMAP_MAX);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// glibc accepts all three values (it returns 0 for one out of its range).
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_thresholds() {
        assert!(set_thresholds());
    }
}
