//! Masked-LM targets as `create_pretraining_data.py` `create_masked_lm_predictions` makes
//! them: whole words (a word-start piece and the pieces after it) grouped into n-grams of
//! `n ≤ 3` words with `p(n) ∝ 1/n`, `round(0.15 · length)` targets at most
//! `max_predictions_per_seq`, and each target replaced by `[MASK]` (80%), left as it is (10%) or
//! replaced by a random vocabulary id (10%).
//!
//! Differences from the original, on purpose: the n-gram length comes from the seeded
//! generator (the original used NumPy's global one), and a no-op loop of the original (a
//! `continue` that only skipped an inner loop) is left out.

use rand::Rng;
use rand::seq::SliceRandom;

use super::config::DataConfig;

/// A sequence with its masked-LM targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked {
    /// The input ids after replacement.
    pub input_ids: Vec<u32>,
    /// Masked positions, ascending.
    pub positions: Vec<usize>,
    /// The original ids at those positions.
    pub labels: Vec<u32>,
    /// The n-gram length (in words) drawn for each candidate considered, before any shortening
    /// to fit the budget (for statistics: these follow `p(n) ∝ 1/n`).
    pub ngram_draws: Vec<usize>,
}

/// What a masking pass needs to know about the vocabulary.
#[derive(Debug, Clone, Copy)]
pub struct MaskVocab<'a> {
    /// Per id: starts a word?
    pub word_start: &'a [bool],
    /// `[MASK]`.
    pub mask_id: u32,
    /// `[CLS]`.
    pub cls_id: u32,
    /// `[SEP]`.
    pub sep_id: u32,
}

/// Python's `round` (half to even) of a non-negative float.
fn py_round(x: f64) -> usize {
    x.round_ties_even().max(0.0) as usize
}

/// Masks `tokens` (with `[CLS]`/`[SEP]` in place).
pub fn mask_tokens(
    tokens: &[u32],
    vocab: MaskVocab<'_>,
    config: &DataConfig,
    rng: &mut impl Rng,
) -> Masked {
    // Candidate words: lists of positions; [CLS]/[SEP] are never candidates.
    let mut words: Vec<Vec<usize>> = Vec::new();
    for (i, &t) in tokens.iter().enumerate() {
        if t == vocab.cls_id || t == vocab.sep_id {
            continue;
        }
        let starts = vocab.word_start.get(t as usize).copied().unwrap_or(true);
        match words.last_mut() {
            Some(last) if config.whole_word_mask && !starts => last.push(i),
            _ => words.push(vec![i]),
        }
    }
    let mut out = Masked {
        input_ids: tokens.to_vec(),
        positions: Vec::new(),
        labels: Vec::new(),
        ngram_draws: Vec::new(),
    };
    if config.masked_lm_prob == 0.0 || words.is_empty() {
        return out;
    }
    let num_to_predict = config
        .max_predictions_per_seq
        .min(py_round(tokens.len() as f64 * config.masked_lm_prob).max(1));
    let n_max = config.ngram;
    let mut pvals: Vec<f64> = (1..=n_max).map(|n| 1.0 / n as f64).collect();
    if !config.favor_shorter_ngram {
        pvals.reverse();
    }
    let total: f64 = pvals.iter().sum();

    let mut starts: Vec<usize> = (0..words.len()).collect();
    starts.shuffle(rng);
    let mut covered = vec![false; tokens.len()];
    let mut masked: Vec<(usize, u32)> = Vec::new();
    let ngram_positions = |start: usize, n: usize| -> Vec<usize> {
        words[start..(start + n).min(words.len())]
            .iter()
            .flatten()
            .copied()
            .collect()
    };
    for start in starts {
        if masked.len() >= num_to_predict {
            break;
        }
        // Draw n with p(n) ∝ pvals[n-1].
        let mut u = rng.random::<f64>() * total;
        let mut n = n_max;
        for (k, p) in pvals.iter().enumerate() {
            if u < *p {
                n = k + 1;
                break;
            }
            u -= p;
        }
        out.ngram_draws.push(n);
        let mut index_set = ngram_positions(start, n);
        // Shorter n-grams while this one would exceed the budget.
        while masked.len() + index_set.len() > num_to_predict && n > 1 {
            n -= 1;
            index_set = ngram_positions(start, n);
        }
        if masked.len() + index_set.len() > num_to_predict || index_set.iter().any(|&i| covered[i])
        {
            continue;
        }
        for i in index_set {
            covered[i] = true;
            let replacement = if rng.random::<f64>() < 0.8 {
                vocab.mask_id
            } else if rng.random::<f64>() < 0.5 {
                tokens[i]
            } else {
                rng.random_range(0..vocab.word_start.len() as u32)
            };
            out.input_ids[i] = replacement;
            masked.push((i, tokens[i]));
        }
    }
    masked.sort_unstable();
    out.positions = masked.iter().map(|m| m.0).collect();
    out.labels = masked.iter().map(|m| m.1).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::rng::derived;

    fn vocab(word_start: &[bool]) -> MaskVocab<'_> {
        MaskVocab {
            word_start,
            mask_id: 4,
            cls_id: 2,
            sep_id: 3,
        }
    }

    #[test]
    fn budget_specials_and_whole_words() {
        // ids >= 10 start words when even; odd ids continue the previous word.
        let word_start: Vec<bool> = (0..100u32).map(|i| i < 10 || i % 2 == 0).collect();
        let config = DataConfig::default();
        let mut tokens = vec![2u32];
        tokens.extend((0..60).map(|i| 10 + i as u32));
        tokens.push(3);
        for seed in 0..200 {
            let m = mask_tokens(
                &tokens,
                vocab(&word_start),
                &config,
                &mut derived(seed, 0, 0),
            );
            // round(62 * 0.15) = round(9.3) = 9 targets at most.
            assert!(m.positions.len() <= 9 && !m.positions.is_empty());
            assert!(m.positions.windows(2).all(|w| w[0] < w[1]));
            assert!(!m.positions.contains(&0) && !m.positions.contains(&61));
            for &p in &m.positions {
                // Whole words: a continuation piece is masked only with its word start.
                if tokens[p] % 2 == 1 {
                    assert!(
                        m.positions.contains(&(p - 1)),
                        "seed {seed}: {p} without its word start"
                    );
                }
            }
            assert_eq!(
                m.labels,
                m.positions.iter().map(|&p| tokens[p]).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn python_rounding_is_half_to_even() {
        assert_eq!(py_round(2.5), 2);
        assert_eq!(py_round(3.5), 4);
        assert_eq!(py_round(9.3), 9);
    }
}
