//! The one seeded generator of the workspace: parameter initialisation, instance creation, data
//! order and fine-tuning draw from [`seeded`] generators, so the same seed gives the same run.
//!
//! It is ChaCha12 from `rand_chacha`, whose output is fixed by the algorithm; `rand`'s `StdRng`
//! (the same generator today) is documented as free to change between `rand` versions, which
//! would change runs silently. A test pins the first values of a seed.

use rand::SeedableRng;

/// The generator type.
pub type SeededRng = rand_chacha::ChaCha12Rng;

/// A generator seeded with `seed` (`SeedableRng::seed_from_u64`: the seed expanded by PCG32).
pub fn seeded(seed: u64) -> SeededRng {
    SeededRng::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// The first draws of seed 42, pinned: a dependency update that changed them would change
    /// every seeded run. (They are also what `rand` 0.9's `StdRng` draws, checked when the
    /// workspace switched to ChaCha12 by name: earlier runs are unchanged.)
    #[test]
    fn seed_42_draws_are_pinned() {
        let mut rng = seeded(42);
        let draws: Vec<u64> = (0..3).map(|_| rng.random()).collect();
        assert_eq!(draws, PINNED);
    }

    const PINNED: [u64; 3] = [
        9_713_269_763_989_775_522,
        10_011_513_049_433_592_189,
        11_740_708_795_755_607_249,
    ];
}
