//! Seeded randomness: every random decision of instance creation draws from a generator
//! derived from `(seed, epoch, document)`, so results do not depend on thread count or order
//! of work (the original drew n-gram lengths from NumPy's global generator).

use albert_core::rng::{SeededRng, seeded};

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The generator for one `(seed, stream, index)` triple.
pub fn derived(seed: u64, stream: u64, index: u64) -> SeededRng {
    seeded(splitmix(splitmix(splitmix(seed) ^ stream) ^ index))
}
