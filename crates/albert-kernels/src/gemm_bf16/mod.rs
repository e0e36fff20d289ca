//! Products of bfloat16 operands accumulated in f32 on the CPU's bf16 dot-product units: AMX
//! tiles (`tdpbf16ps`, `amx.rs`: 16 × 16 × 32 per instruction), AVX512-BF16 `vdpbf16ps`
//! (`avx512.rs`: 16 lanes, each adding the products of two bf16 pairs per instruction, twice
//! the f32 FMA rate), and an AVX-512F emulation of `vdpbf16ps`.
//!
//! Layout. The right operand (a weight `[K, N]`) is packed once into [`PackedB`]: panels of 32
//! columns, in each panel one row of 32 `u32` per pair of inner indices, element `j` holding
//! `B[2p, j]` in its low half and `B[2p + 1, j]` in its high half (the "VNNI" pair layout the
//! instruction, and AMX's `tdpbf16ps`, read; an AMX tile of the weight is 16 pair rows of one
//! half-panel). The pairs are padded with zeros to a multiple of 16 (one tile row). The left
//! operand is packed per task of 32 rows into rows of pairs (`A[m, 2p]` low, `A[m, 2p + 1]`
//! high; for AMX padded with zero rows to 32, two tiles' heights). The `vdpbf16ps`
//! micro-kernel keeps an `MR × 32` block of the output in 2·MR vector registers and, per pair
//! of inner indices, broadcasts each row's pair and multiplies it into the panel's two
//! 16-column vectors; the AMX one keeps a 32 × 32 block in four tiles.
//!
//! Numbers. A product of two bfloat16 values is exact in f32 (8 + 8 significant bits), so
//! each `vdpbf16ps` lane is two exactly-rounded additions; the emulation does the same two
//! additions (the odd index first, as the instruction's definition orders them) with fused
//! multiply-adds of the exact products: the two paths give the same sums except where the
//! instruction flushes denormals to zero (`DAZ`/`FTZ`). Either path accumulates in a different
//! order than the f32 `gemm` does, so against it results differ by f32 rounding only.
//!
//! Which path runs: [`BF16_GEMM_ENV`] (`ALBERT_BF16_GEMM`). The default is `off`: bf16
//! products run as the f32 `gemm` on rounded operands (docs/precision.md). Timed on a Xeon with
//! AVX512-BF16 (no AMX exposed), `vdpbf16ps` runs at half the FMA rate there, and albert-base
//! inference took 1.27 s on `native` against 0.72 s on the f32 `gemm`; the AMX path is not
//! timed yet. `amx` takes the tiles where the CPU has
//! AMX-BF16 and Linux grants the tile state, `native` `vdpbf16ps` where it has AVX512-BF16,
//! `emulated` the emulation on any AVX-512F CPU (for tests and A/B runs; slower than the f32
//! `gemm`). [`with_bf16_path`] overrides it on one thread. The AMX kernel is tested on a
//! software model of the tile instructions (`amx::TileModel`) wherever the tests run, and on
//! the tiles themselves where the CPU has them.
//!
//! Shared weights are packed once: [`packed_weight`] keeps each packed weight for as long as
//! anyone else holds the (rounded) weight it came from, so the one rounded copy of a shared
//! layer's weight that `albert_core::ops::shared_weights` makes per forward pass is packed for
//! its first layer application and reused by the other `num_hidden_layers − 1`.

use std::cell::Cell;
use std::sync::{Arc, OnceLock};

use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::matmul::Matrix;
use super::weight_cache::WeightCache;

/// The environment variable that picks the bf16 product path: `off` (default), `amx` (AMX
/// tiles where the CPU has them, else off), `native` (AVX512-BF16 where the CPU has it, else
/// off) or `emulated` (the AVX-512F emulation).
pub const BF16_GEMM_ENV: &str = "ALBERT_BF16_GEMM";

/// Output columns per panel: two 16-lane vectors, or two tiles' widths.
const NR: usize = 32;
/// Output rows per `vdpbf16ps` micro-kernel call.
const MR: usize = 8;
/// Rows of the left operand per parallel task (packed once per task; two AMX tiles' heights).
const ROWS_PER_TASK: usize = 4 * MR;
/// The inner dimension's pairs are padded to a multiple of this (one AMX tile row).
const PAIR_BLOCK: usize = 16;

/// How a bf16 product runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bf16Path {
    /// AMX tiles (`tdpbf16ps`).
    Amx,
    /// `vdpbf16ps` (AVX512-BF16).
    Native,
    /// The same sums from AVX-512F fused multiply-adds.
    Emulated,
}

impl Bf16Path {
    /// Whether this CPU can run the path (for AMX: and Linux grants the tile state).
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let f = std::arch::is_x86_feature_detected!("avx512f");
            match self {
                Bf16Path::Amx => amx::amx_bf16_usable(),
                Bf16Path::Native => f && std::arch::is_x86_feature_detected!("avx512bf16"),
                Bf16Path::Emulated => f,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    }
}

/// Whether this CPU has AMX-BF16 tiles and Linux grants this process the tile data state
/// (asked once, for the whole process): what `albert-bench peak --precision bf16` and the
/// [`Bf16Path::Amx`] path need.
pub fn amx_bf16_usable() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        amx::amx_bf16_usable()
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The path [`BF16_GEMM_ENV`] selects on this CPU, if any (read once per process).
pub fn configured_path() -> Option<Bf16Path> {
    static PATH: OnceLock<Option<Bf16Path>> = OnceLock::new();
    *PATH.get_or_init(|| {
        let wanted = match std::env::var(BF16_GEMM_ENV).as_deref() {
            Ok("amx") => Bf16Path::Amx,
            Ok("native") => Bf16Path::Native,
            Ok("emulated") => Bf16Path::Emulated,
            _ => return None,
        };
        wanted.available().then_some(wanted)
    })
}

thread_local! {
    /// [`with_bf16_path`]'s override on this thread.
    static OVERRIDE: Cell<Option<Option<Bf16Path>>> = const { Cell::new(None) };
}

/// The bf16 product path for a product started on this thread: [`with_bf16_path`]'s while it
/// runs, else what [`BF16_GEMM_ENV`] selects on this CPU.
pub fn bf16_path() -> Option<Bf16Path> {
    OVERRIDE.with(Cell::get).unwrap_or_else(configured_path)
}

/// Runs `f` with `path` as this thread's bf16 product path (`None`: the f32 `gemm` on rounded
/// operands), whatever [`BF16_GEMM_ENV`] says; the previous choice is restored afterwards.
///
/// # Panics
/// When `path` is not available on this CPU ([`Bf16Path::available`]).
pub fn with_bf16_path<T>(path: Option<Bf16Path>, f: impl FnOnce() -> T) -> T {
    if let Some(p) = path {
        assert!(
            p.available(),
            "{p:?} bf16 products need AVX-512F (and AVX512-BF16 for Native)"
        );
    }
    crate::with_thread_value(&OVERRIDE, Some(path), f)
}

/// The packed weights still in use ([`packed_weight`]).
static PACKED: WeightCache<PackedB> = WeightCache::new();

/// `w` packed ([`PackedB::new`]), once for as long as the same view of the same storage is
/// held by someone other than the cache ([`WeightCache`]).
pub(super) fn packed_weight(w: &FlexTensor) -> Arc<PackedB> {
    PACKED.get(w, |w| PackedB::new(&Matrix::of(w)))
}

/// Empties [`packed_weight`]'s cache.
pub(super) fn release_packed_weights() {
    PACKED.clear();
}

/// The pair word of inner indices `2p` and `2p + 1` of a line of `k` values read by `get`:
/// each value's bfloat16 (its upper 16 bits: round first for a bf16 product) in the low and
/// high half, zeros past `k`.
#[inline(always)]
fn pair_word(k: usize, p: usize, get: impl Fn(usize) -> f32) -> u32 {
    let half = |i: usize| if i < k { get(i).to_bits() >> 16 } else { 0 };
    half(2 * p) | (half(2 * p + 1) << 16)
}

/// A right operand `[K, N]` in the pair layout of the module documentation, columns padded
/// with zeros to a multiple of 32 and the inner dimension to a multiple of 32 (16 pairs).
#[derive(Debug, Clone)]
pub struct PackedB {
    k: usize,
    n: usize,
    pairs: usize,
    panels: usize,
    /// `panels × pairs × 32` words.
    data: Vec<u32>,
}

impl PackedB {
    /// Packs `b` (any strides), each element's bfloat16 taken as its upper 16 bits (round
    /// first for a bf16 product).
    pub(super) fn new(b: &Matrix<'_>) -> Self {
        let (k, n) = (b.rows(), b.cols());
        let pairs = k.div_ceil(2).div_ceil(PAIR_BLOCK) * PAIR_BLOCK;
        let panels = n.div_ceil(NR);
        let mut data = vec![0u32; panels * pairs * NR];
        data.par_chunks_mut(pairs * NR)
            .enumerate()
            .for_each(|(panel, words)| {
                for (p, row) in words.chunks_mut(NR).enumerate() {
                    for (j, w) in row.iter_mut().enumerate() {
                        let col = panel * NR + j;
                        if col >= n {
                            break;
                        }
                        *w = pair_word(k, p, |i| b.get(i, col));
                    }
                }
            });
        Self {
            k,
            n,
            pairs,
            panels,
            data,
        }
    }

    /// `[K, N]`.
    pub fn dims(&self) -> [usize; 2] {
        [self.k, self.n]
    }
}

/// `dst ← dst + a·b` on the bf16 path `path`: `dst` row-major `[a.rows, b.n]`, `a` f32 values
/// already rounded to bfloat16 (any strides), `b` packed. Rows are split into parallel tasks.
///
/// # Panics
/// When the shapes disagree, or `path` is not available on this CPU.
pub(super) fn gemm_bf16_add(dst: &mut [f32], a: &Matrix<'_>, b: &PackedB, path: Bf16Path) {
    let (m, k, n) = (a.rows(), a.cols(), b.n);
    assert_eq!(
        b.k, k,
        "albert kernels: bf16 product inner dimensions differ"
    );
    assert_eq!(dst.len(), m * n, "albert kernels: bf16 product output size");
    assert!(
        path.available(),
        "albert kernels: {path:?} bf16 path not on this CPU"
    );
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    dst.par_chunks_mut(ROWS_PER_TASK * n)
        .enumerate()
        .for_each(|(task, out)| {
            let rows = out.len() / n;
            // AMX reads whole tiles: 32 rows, the missing ones zeros.
            let height = if path == Bf16Path::Amx {
                ROWS_PER_TASK
            } else {
                rows
            };
            let packed = pack_rows(a, task * ROWS_PER_TASK, rows, height, b.pairs);
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `path` is available on this CPU (asserted above); `packed` holds `height`
            // rows of `b.pairs` words, `out` `rows` rows of `n` values, `b` its panels.
            #[allow(unsafe_code)]
            unsafe {
                match path {
                    Bf16Path::Amx => amx::task_amx(out, n, &packed, rows, b),
                    Bf16Path::Native => avx512::task_native(out, n, &packed, rows, b),
                    Bf16Path::Emulated => avx512::task_emulated(out, n, &packed, rows, b),
                }
            }
        });
}

/// Rows `row0 .. row0 + rows` of `a` as pairs, `pairs` words per row (zeros past `a`'s
/// columns), followed by zero rows up to `height`.
fn pack_rows(a: &Matrix<'_>, row0: usize, rows: usize, height: usize, pairs: usize) -> Vec<u32> {
    let k = a.cols();
    let mut packed = vec![0u32; height * pairs];
    for (r, words) in packed.chunks_mut(pairs).take(rows).enumerate() {
        for (p, w) in words.iter_mut().enumerate() {
            *w = pair_word(k, p, |i| a.get(row0 + r, i));
        }
    }
    packed
}

#[cfg(target_arch = "x86_64")]
mod amx;
#[cfg(target_arch = "x86_64")]
pub use amx::amx_peak_loop;
#[cfg(target_arch = "x86_64")]
mod avx512;

#[cfg(test)]
mod tests {
    use super::*;
    use albert_core::precision::round_bf16;

    /// Deterministic values in [-2, 2), rounded to bfloat16.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        crate::matmul::test_values(n, seed)
            .into_iter()
            .map(round_bf16)
            .collect()
    }

    /// `got` (`m × n`) is `start + a·b` summed in f64, within f32 rounding of the sum of the
    /// products' magnitudes.
    fn assert_f64_sums(
        what: &str,
        got: &[f32],
        start: &[f32],
        a: &[f32],
        b: &[f32],
        [m, k, n]: [usize; 3],
    ) {
        for i in 0..m {
            for j in 0..n {
                let (mut sum, mut size) = (f64::from(start[i * n + j]), 0.0f64);
                for l in 0..k {
                    let p = f64::from(a[i * k + l]) * f64::from(b[l * n + j]);
                    sum += p;
                    size += p.abs();
                }
                let x = f64::from(got[i * n + j]);
                assert!(
                    (x - sum).abs() <= 1e-6 * (size + 1.0),
                    "{what} {m}×{k}×{n} [{i}, {j}]: {x} vs {sum}"
                );
            }
        }
    }

    /// Every available path against sums in f64 of the same bf16 values, over shapes with
    /// partial row blocks, partial panels, an odd inner dimension and a transposed right
    /// operand (the tied decoder's layout); the output starts from non-zero values
    /// (`dst + a·b`). Within f32 rounding of the sum of |products|.
    #[test]
    fn bf16_products_match_f64_sums() {
        let paths: Vec<Bf16Path> = [Bf16Path::Amx, Bf16Path::Native, Bf16Path::Emulated]
            .into_iter()
            .filter(|p| p.available())
            .collect();
        if paths.is_empty() {
            eprintln!("no AVX-512F: the bf16 product paths do not run on this CPU");
            return;
        }
        for (m, k, n) in [
            (1, 1, 1),
            (3, 7, 5),
            (9, 16, 33),
            (37, 33, 70),
            (64, 130, 32),
        ] {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let start = values(m * n, 3);
            for transposed in [false, true] {
                // b as stored: row-major [k, n], or column-major (the transpose of [n, k]).
                let b_store = crate::matmul::stored(&b, [k, n], transposed);
                let packed = PackedB::new(&Matrix::stored_view(&b_store, [k, n], transposed));
                assert_eq!(packed.dims(), [k, n]);
                for &path in &paths {
                    let mut dst = start.clone();
                    gemm_bf16_add(&mut dst, &Matrix::block(&a, 0, m, k, k), &packed, path);
                    let what = format!("{path:?} (transposed {transposed})");
                    assert_f64_sums(&what, &dst, &start, &a, &b, [m, k, n]);
                }
            }
        }
    }

    /// A weight is packed once while it is held elsewhere (its layer's other applications get
    /// the same packing), a different view of it is packed on its own, and the cache lets go
    /// of a weight nobody else holds (its storage is freed).
    #[test]
    fn packed_weights_live_as_long_as_their_weight() {
        use burn::tensor::TensorData;
        let (k, n) = (6, 5);
        let w = FlexTensor::from_data(TensorData::new(values(k * n, 6), [k, n]));
        let first = packed_weight(&w);
        assert!(Arc::ptr_eq(&first, &packed_weight(&w)));
        let t = w.transpose(0, 1);
        let transposed = packed_weight(&t);
        assert!(!Arc::ptr_eq(&first, &transposed));
        assert_eq!(transposed.dims(), [n, k]);
        let storage = Arc::downgrade(&w.data_arc());
        drop((w, t));
        // The next packing drops the entries only the cache still holds.
        let other = FlexTensor::from_data(TensorData::new(values(4, 7), [2, 2]));
        let _ = packed_weight(&other);
        assert!(
            storage.upgrade().is_none(),
            "the cache kept a weight nobody holds"
        );
    }

    /// The AMX kernel on the software model of the tile instructions: every tile access
    /// inside the buffers the driver gives it (the packed rows padded to 32, the packed weight,
    /// the 32 × 32 scratch), and the sums of the f64 reference, over partial row blocks,
    /// partial panels and inner dimensions that are not a multiple of 32.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn amx_kernel_on_the_tile_model_matches_f64_sums() {
        for (m, k, n) in [(1, 1, 1), (5, 33, 40), (32, 64, 32), (29, 100, 65)] {
            let (a, bv, start) = (values(m * k, 8), values(k * n, 9), values(m * n, 10));
            let am = Matrix::block(&a, 0, m, k, k);
            let b = PackedB::new(&Matrix::block(&bv, 0, k, n, n));
            let mut out = start.clone();
            for (task, chunk) in out.chunks_mut(ROWS_PER_TASK * n).enumerate() {
                let rows = chunk.len() / n;
                let packed = pack_rows(&am, task * ROWS_PER_TASK, rows, ROWS_PER_TASK, b.pairs);
                let mut block = vec![0.0f32; amx::ROWS * NR];
                let mut model = amx::TileModel::new();
                model.allow(packed.as_ptr().cast(), packed.len() * 4, false);
                model.allow(b.data.as_ptr().cast(), b.data.len() * 4, false);
                model.allow(block.as_ptr().cast(), block.len() * 4, true);
                // SAFETY: the model runs anywhere.
                #[allow(unsafe_code)]
                unsafe {
                    amx::task(&mut model, chunk, n, &packed, rows, &b, &mut block);
                }
            }
            assert_f64_sums("AMX tile model", &out, &start, &a, &bv, [m, k, n]);
        }
    }

    /// The peak's tile loop on the tile model: the sums it claims, every access in bounds.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn amx_peak_loop_on_the_tile_model() {
        // The loop's own buffers are on its stack: let the model accept any address.
        let mut model = amx::TileModel::new();
        model.allow(std::ptr::null(), usize::MAX, true);
        // SAFETY: the model runs anywhere.
        #[allow(unsafe_code)]
        let got = unsafe { amx::peak_loop(&mut model, 3) };
        assert_eq!(got, 24.0);
        if amx_bf16_usable() {
            assert_eq!(amx_peak_loop(1000), 8000.0);
        }
    }

    /// Where the CPU has AVX512-BF16 or AMX, the instructions and the emulation give the same
    /// sums up to the order of the additions (normal values: no denormal flushing).
    #[test]
    fn native_and_emulated_agree() {
        let native: Vec<Bf16Path> = [Bf16Path::Amx, Bf16Path::Native]
            .into_iter()
            .filter(|p| p.available())
            .collect();
        if native.is_empty() || !Bf16Path::Emulated.available() {
            eprintln!("no AVX512-BF16 or AMX here: only the emulation was tested");
            return;
        }
        let (m, k, n) = (19, 77, 45);
        let (a, b) = (values(m * k, 4), values(k * n, 5));
        let packed = PackedB::new(&Matrix::block(&b, 0, k, n, n));
        let run = |path| {
            let mut dst = vec![0.0f32; m * n];
            gemm_bf16_add(&mut dst, &Matrix::block(&a, 0, m, k, k), &packed, path);
            dst
        };
        let emulated = run(Bf16Path::Emulated);
        for path in native {
            for (x, y) in run(path).iter().zip(&emulated) {
                assert!(
                    (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                    "{path:?}: {x} vs {y}"
                );
            }
        }
    }
}
