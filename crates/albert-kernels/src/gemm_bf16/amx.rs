//! The AMX micro-kernel of [`super::gemm_bf16_add`] (`tdpbf16ps`: a 16 × 16 f32 tile += a
//! 16 × 32 bf16 tile times a 32 × 16 bf16 tile in pair layout), written against [`Tiles`], the
//! six tile instructions it issues, so that the same kernel runs on the CPU's tiles ([`Amx`])
//! and, in the tests, on [`TileModel`], a software model of those instructions that checks every
//! tile access against the buffers the kernel was given.
//!
//! Per task of 32 rows (the packed rows padded with zeros to 32, the pairs to a multiple of 16)
//! and per 32-column panel of the packed weight, four accumulator tiles hold the 32 × 32 output
//! block; for every 16 pairs (32 inner indices) two tiles of the left operand (rows 0–15 and
//! 16–31, `4·pairs` bytes apart) and two of the panel (columns 0–15 and 16–31: the two halves of
//! its 128-byte rows) are loaded and multiplied into them. The block then goes through a
//! scratch buffer onto the output rows and columns that exist.
#![allow(unsafe_code)]

use super::{NR, PackedB};

/// Rows of one task's block (two tiles of 16).
pub(super) const ROWS: usize = 32;
/// Pairs per tile row (64 bytes).
pub(super) const PAIRS_PER_TILE: usize = 16;
/// Bytes per tile row.
const ROW_BYTES: usize = 64;

/// The tile instructions the kernel uses, tile numbers as constants. Every tile is configured
/// as 16 rows of 64 bytes.
pub(super) trait Tiles {
    /// `ldtilecfg`: palette 1, tiles 0–7 16 rows × 64 bytes.
    ///
    /// # Safety
    /// The CPU must run tile instructions (AMX, permission granted) for [`Amx`].
    unsafe fn configure(&mut self);
    /// `tilezero tmmT`.
    ///
    /// # Safety
    /// As [`Tiles::configure`], after it.
    unsafe fn zero<const T: u8>(&mut self);
    /// `tileloadd tmmT, [base + r·stride]`: 16 rows of 64 bytes.
    ///
    /// # Safety
    /// As [`Tiles::configure`]; `base + r·stride .. + 64` readable for `r < 16`.
    unsafe fn load<const T: u8>(&mut self, base: *const u8, stride: usize);
    /// `tdpbf16ps tmmC, tmmA, tmmB`.
    ///
    /// # Safety
    /// As [`Tiles::configure`].
    unsafe fn dot<const C: u8, const A: u8, const B: u8>(&mut self);
    /// `tilestored [base + r·stride], tmmT`.
    ///
    /// # Safety
    /// As [`Tiles::configure`]; `base + r·stride .. + 64` writable for `r < 16`.
    unsafe fn store<const T: u8>(&mut self, base: *mut u8, stride: usize);
    /// `tilerelease`.
    ///
    /// # Safety
    /// As [`Tiles::configure`].
    unsafe fn release(&mut self);
}

/// The CPU's tiles.
pub(super) struct Amx;

/// `ldtilecfg`'s 64 bytes: palette 1, tiles 0–7 of 16 rows × 64 bytes, the rest zero (as the
/// format requires).
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

impl TileConfig {
    const FULL: TileConfig = {
        let mut c = [0u8; 64];
        c[0] = 1;
        let mut t = 0;
        while t < 8 {
            c[16 + 2 * t] = ROW_BYTES as u8; // bytes per row (u16, little-endian)
            c[48 + t] = 16; // rows
            t += 1;
        }
        TileConfig(c)
    };
}

impl Tiles for Amx {
    #[inline(always)]
    unsafe fn configure(&mut self) {
        let config = TileConfig::FULL;
        // SAFETY: the caller runs on a CPU with AMX and the tile permission; the configuration
        // is a valid palette-1 layout.
        unsafe {
            std::arch::asm!("ldtilecfg [{}]", in(reg) config.0.as_ptr(), options(nostack));
        }
    }

    #[inline(always)]
    unsafe fn zero<const T: u8>(&mut self) {
        // SAFETY: as `configure`.
        unsafe { std::arch::asm!("tilezero tmm{t}", t = const T, options(nostack, nomem)) }
    }

    #[inline(always)]
    unsafe fn load<const T: u8>(&mut self, base: *const u8, stride: usize) {
        // SAFETY: the caller guarantees the 16 rows are readable.
        unsafe {
            std::arch::asm!(
                "tileloadd tmm{t}, [{base} + {stride}*1]",
                t = const T,
                base = in(reg) base,
                stride = in(reg) stride,
                options(nostack, readonly),
            )
        }
    }

    #[inline(always)]
    unsafe fn dot<const C: u8, const A: u8, const B: u8>(&mut self) {
        // SAFETY: as `configure`: registers only.
        unsafe {
            std::arch::asm!(
                "tdpbf16ps tmm{c}, tmm{a}, tmm{b}",
                c = const C,
                a = const A,
                b = const B,
                options(nostack, nomem),
            )
        }
    }

    #[inline(always)]
    unsafe fn store<const T: u8>(&mut self, base: *mut u8, stride: usize) {
        // SAFETY: the caller guarantees the 16 rows are writable.
        unsafe {
            std::arch::asm!(
                "tilestored [{base} + {stride}*1], tmm{t}",
                t = const T,
                base = in(reg) base,
                stride = in(reg) stride,
                options(nostack),
            )
        }
    }

    #[inline(always)]
    unsafe fn release(&mut self) {
        // SAFETY: as `configure`.
        unsafe { std::arch::asm!("tilerelease", options(nostack, nomem)) }
    }
}

/// Whether this CPU has AMX-BF16 tiles (CPUID leaf 7: EDX bits 22 and 24) and Linux grants
/// this process the tile data state (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`,
/// asked once; the permission holds for every thread of the process).
pub fn amx_bf16_usable() -> bool {
    static GRANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *GRANTED.get_or_init(|| {
        // CPUID leaf 7 reads as zeros (no AMX) on CPUs that predate it.
        let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
        let has = leaf7.edx & (1 << 22) != 0 && leaf7.edx & (1 << 24) != 0;
        has && cfg!(target_os = "linux") && request_tile_data()
    })
}

/// `arch_prctl(ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18)` (system call 158);
/// whether it returned 0.
fn request_tile_data() -> bool {
    let ret: i64;
    // SAFETY: a Linux system call that only changes this process's permission to use the
    // AMX tile state; it reads and writes no memory of ours.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") 158i64 => ret,
            in("rdi") 0x1023i64,
            in("rsi") 18i64,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret == 0
}

/// `out += a·b` for one task on the tiles `t`: `out` `rows × n` row-major (`rows ≤ 32`), `a`
/// the task's rows packed as pairs and padded with zeros to 32 rows of `b.pairs` words,
/// `block` a 32 × 32 scratch.
///
/// # Safety
/// `t`'s instructions must run on this CPU ([`Amx`]: [`amx_bf16_usable`]).
///
/// # Panics
/// When the sizes disagree, or `b.pairs` is not a multiple of 16.
pub(super) unsafe fn task<T: Tiles>(
    t: &mut T,
    out: &mut [f32],
    n: usize,
    a: &[u32],
    rows: usize,
    b: &PackedB,
    block: &mut [f32],
) {
    let pairs = b.pairs;
    assert!(rows <= ROWS && out.len() == rows * n && n == b.n);
    assert!(a.len() == ROWS * pairs && pairs.is_multiple_of(PAIRS_PER_TILE));
    assert_eq!(b.data.len(), b.panels * pairs * NR);
    // One panel's 32 × 32 output block, row-major (128 bytes per row).
    assert_eq!(block.len(), ROWS * NR);
    let a_stride = pairs * 4;
    // SAFETY: every tile load reads 16 rows of 64 bytes inside `a` (rows 0–15 or 16–31 of 32,
    // the 16 pairs from `p`, `p + 16 ≤ pairs`) or inside the panel (pair rows `p..p + 16` of
    // `pairs`, 16 of its 32 columns); every store writes 16 rows of 64 bytes inside `block`
    // (one quarter of it); the caller guarantees the instructions run.
    unsafe {
        t.configure();
        for panel in 0..b.panels {
            let words = &b.data[panel * pairs * NR..(panel + 1) * pairs * NR];
            t.zero::<0>();
            t.zero::<1>();
            t.zero::<2>();
            t.zero::<3>();
            for p in (0..pairs).step_by(PAIRS_PER_TILE) {
                let a0 = a.as_ptr().add(p).cast::<u8>();
                let a1 = a.as_ptr().add(PAIRS_PER_TILE * pairs + p).cast::<u8>();
                let b0 = words.as_ptr().add(p * NR).cast::<u8>();
                let b1 = words.as_ptr().add(p * NR + 16).cast::<u8>();
                t.load::<4>(a0, a_stride);
                t.load::<5>(a1, a_stride);
                t.load::<6>(b0, NR * 4);
                t.load::<7>(b1, NR * 4);
                t.dot::<0, 4, 6>();
                t.dot::<1, 4, 7>();
                t.dot::<2, 5, 6>();
                t.dot::<3, 5, 7>();
            }
            let c = block.as_mut_ptr();
            t.store::<0>(c.cast(), NR * 4);
            t.store::<1>(c.add(16).cast(), NR * 4);
            t.store::<2>(c.add(16 * NR).cast(), NR * 4);
            t.store::<3>(c.add(16 * NR + 16).cast(), NR * 4);
            let cols = (n - panel * NR).min(NR);
            for (r, row) in out.chunks_mut(n).enumerate() {
                let dst = &mut row[panel * NR..panel * NR + cols];
                for (d, s) in dst.iter_mut().zip(&block[r * NR..]) {
                    *d += s;
                }
            }
        }
        t.release();
    }
}

/// `iters` rounds of four independent `tdpbf16ps` on tiles of bfloat16 0.5 (the loop that
/// `albert-bench peak --precision bf16` times: 4 · 16,384 FLOP per round): every element of the
/// first accumulator ends at `32 · 0.25 · iters = 8 · iters`; returns its element 0.
///
/// # Safety
/// As [`task`].
pub(super) unsafe fn peak_loop<T: Tiles>(t: &mut T, iters: u64) -> f32 {
    // Two bfloat16 0.5 (0x3f00) per word: one tile's 16 rows of 64 bytes.
    let a = [0x3f00_3f00u32; 256];
    let mut c = [0.0f32; 256];
    // SAFETY: every load reads the 1,024 bytes of `a`, the store writes the 1,024 of `c`; the
    // caller guarantees the instructions run.
    unsafe {
        t.configure();
        t.zero::<0>();
        t.zero::<1>();
        t.zero::<2>();
        t.zero::<3>();
        t.load::<4>(a.as_ptr().cast(), ROW_BYTES);
        t.load::<5>(a.as_ptr().cast(), ROW_BYTES);
        t.load::<6>(a.as_ptr().cast(), ROW_BYTES);
        t.load::<7>(a.as_ptr().cast(), ROW_BYTES);
        for _ in 0..iters {
            t.dot::<0, 4, 6>();
            t.dot::<1, 4, 7>();
            t.dot::<2, 5, 6>();
            t.dot::<3, 5, 7>();
        }
        t.store::<0>(c.as_mut_ptr().cast(), ROW_BYTES);
        t.release();
    }
    c[0]
}

/// [`peak_loop`] on the CPU's tiles.
///
/// # Panics
/// Unless [`amx_bf16_usable`].
pub fn amx_peak_loop(iters: u64) -> f32 {
    assert!(amx_bf16_usable(), "AMX-BF16 tiles are not usable here");
    // SAFETY: checked just above.
    unsafe { peak_loop(&mut Amx, iters) }
}

/// [`task`] on the CPU's tiles.
///
/// # Safety
/// [`amx_bf16_usable`] must have returned true.
pub(super) unsafe fn task_amx(out: &mut [f32], n: usize, a: &[u32], rows: usize, b: &PackedB) {
    let mut block = [0.0f32; ROWS * NR];
    // SAFETY: passed on.
    unsafe { task(&mut Amx, out, n, a, rows, b, &mut block) }
}

/// A software model of the eight tiles and the six instructions, for the tests: every load
/// and store must fall inside one of the buffers registered with [`TileModel::allow`], and a
/// tile used before `configure` or after `release` fails.
#[cfg(test)]
pub(super) struct TileModel {
    tiles: [[u8; 16 * ROW_BYTES]; 8],
    configured: bool,
    /// Readable and writable byte ranges.
    allowed: Vec<(usize, usize, bool)>,
}

#[cfg(test)]
impl TileModel {
    pub(super) fn new() -> Self {
        Self {
            tiles: [[0; 16 * ROW_BYTES]; 8],
            configured: false,
            allowed: Vec::new(),
        }
    }

    /// Lets the kernel read (`writable`: and write) `bytes` bytes from `base`.
    pub(super) fn allow(&mut self, base: *const u8, bytes: usize, writable: bool) {
        self.allowed
            .push((base as usize, base as usize + bytes, writable));
    }

    fn check(&self, base: usize, stride: usize, write: bool) {
        assert!(
            self.configured,
            "tile instruction outside configure … release"
        );
        for r in 0..16 {
            let (from, to) = (base + r * stride, base + r * stride + ROW_BYTES);
            assert!(
                self.allowed
                    .iter()
                    .any(|&(a, b, w)| from >= a && to <= b && (w || !write)),
                "tile row {r} at {from:#x}..{to:#x} outside the kernel's buffers"
            );
        }
    }

    fn word(tile: &[u8; 16 * ROW_BYTES], row: usize, col: usize) -> u32 {
        let at = row * ROW_BYTES + col * 4;
        u32::from_le_bytes(tile[at..at + 4].try_into().expect("4 bytes"))
    }
}

#[cfg(test)]
impl Tiles for TileModel {
    unsafe fn configure(&mut self) {
        self.configured = true;
    }

    unsafe fn zero<const T: u8>(&mut self) {
        assert!(self.configured);
        self.tiles[T as usize] = [0; 16 * ROW_BYTES];
    }

    unsafe fn load<const T: u8>(&mut self, base: *const u8, stride: usize) {
        self.check(base as usize, stride, false);
        for r in 0..16 {
            // SAFETY: checked above to lie inside a buffer the test registered.
            let row = unsafe { std::slice::from_raw_parts(base.add(r * stride), ROW_BYTES) };
            self.tiles[T as usize][r * ROW_BYTES..(r + 1) * ROW_BYTES].copy_from_slice(row);
        }
    }

    unsafe fn dot<const C: u8, const A: u8, const B: u8>(&mut self) {
        assert!(self.configured);
        let (a, b) = (self.tiles[A as usize], self.tiles[B as usize]);
        let c = &mut self.tiles[C as usize];
        for m in 0..16 {
            for col in 0..16 {
                let mut acc = f32::from_bits(Self::word(c, m, col));
                for k in 0..16 {
                    let (x, y) = (Self::word(&a, m, k), Self::word(&b, k, col));
                    let odd = f32::from_bits(x & 0xffff_0000) * f32::from_bits(y & 0xffff_0000);
                    let even = f32::from_bits(x << 16) * f32::from_bits(y << 16);
                    acc = acc + odd + even;
                }
                let at = m * ROW_BYTES + col * 4;
                c[at..at + 4].copy_from_slice(&acc.to_le_bytes());
            }
        }
    }

    unsafe fn store<const T: u8>(&mut self, base: *mut u8, stride: usize) {
        self.check(base as usize, stride, true);
        for r in 0..16 {
            // SAFETY: checked above to lie inside a writable buffer the test registered.
            let row = unsafe { std::slice::from_raw_parts_mut(base.add(r * stride), ROW_BYTES) };
            row.copy_from_slice(&self.tiles[T as usize][r * ROW_BYTES..(r + 1) * ROW_BYTES]);
        }
    }

    unsafe fn release(&mut self) {
        self.configured = false;
    }
}
