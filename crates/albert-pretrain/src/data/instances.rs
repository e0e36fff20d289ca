//! Segment pairs as `create_pretraining_data.py` `create_instances_from_document` builds them:
//! a target length (`max_seq_length − 3`, or for `short_seq_prob` of documents a uniform draw
//! from `2..=max−3`), segments accumulated to it into a chunk, the chunk made a sentence-level
//! pair ([`super::sop`]: SOP, NSP, single chunks), and the pair truncated to
//! `max_seq_length − 3`, one token at a time from the longer side, from the front or the back at
//! random.

use rand::Rng;

use super::config::DataConfig;
use super::corpus::Document;
use super::sop::sentence_pair;

/// Two segments and the sentence-level label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// Segment A.
    pub tokens_a: Vec<u32>,
    /// Segment B.
    pub tokens_b: Vec<u32>,
    /// 1 = swapped (SOP) or random next (NSP); 0 = in order.
    pub label: u8,
    /// The length the chunking aimed for (shorter than the maximum for `short_seq_prob` of
    /// documents).
    pub target_length: usize,
}

fn truncate_pair(a: &mut Vec<u32>, b: &mut Vec<u32>, max_tokens: usize, rng: &mut impl Rng) {
    while a.len() + b.len() > max_tokens {
        let longer = if a.len() > b.len() { &mut *a } else { &mut *b };
        if rng.random::<f64>() < 0.5 {
            longer.remove(0);
        } else {
            longer.pop();
        }
    }
}

/// The pairs of document `index` of `documents`.
pub fn pairs_from_document(
    documents: &[Document],
    index: usize,
    config: &DataConfig,
    rng: &mut impl Rng,
) -> Vec<Pair> {
    let document = &documents[index];
    let max_tokens = config.max_seq_length - 3;
    let mut target = max_tokens;
    if rng.random::<f64>() < config.short_seq_prob {
        target = rng.random_range(2..=max_tokens.max(2));
    }
    let mut pairs = Vec::new();
    let mut chunk: Vec<&Vec<u32>> = Vec::new();
    let mut length = 0;
    let mut i = 0usize;
    while i < document.len() {
        chunk.push(&document[i]);
        length += document[i].len();
        if i == document.len() - 1 || length >= target {
            if let Some(pair) = sentence_pair(documents, index, &chunk, target, config, rng) {
                // NSP took B from another document: its own unused segments go back.
                i -= pair.unused;
                let (mut a, mut b) = (pair.tokens_a, pair.tokens_b);
                truncate_pair(&mut a, &mut b, max_tokens, rng);
                if !a.is_empty() && !b.is_empty() {
                    pairs.push(Pair {
                        tokens_a: a,
                        tokens_b: b,
                        label: pair.label,
                        target_length: target,
                    });
                }
            }
            chunk.clear();
            length = 0;
        }
        i += 1;
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SingleChunkPolicy;
    use crate::data::rng::derived;

    fn doc(lens: &[usize], base: u32) -> Document {
        lens.iter()
            .enumerate()
            .map(|(k, &n)| (0..n as u32).map(|t| base + 100 * k as u32 + t).collect())
            .collect()
    }

    #[test]
    fn pairs_fit_and_keep_order_unless_swapped() {
        let docs = vec![doc(&[30, 40, 25, 60, 10], 1000), doc(&[50, 50], 5000)];
        let config = DataConfig {
            max_seq_length: 64,
            ..DataConfig::default()
        };
        for seed in 0..50 {
            for p in pairs_from_document(&docs, 0, &config, &mut derived(seed, 0, 0)) {
                assert!(p.tokens_a.len() + p.tokens_b.len() <= 61);
                assert!(!p.tokens_a.is_empty() && !p.tokens_b.is_empty());
                if p.tokens_b.iter().all(|&t| t >= 5000) {
                    // B from the other document: a single-segment chunk, labelled 1.
                    assert_eq!(p.label, 1, "seed {seed}: {p:?}");
                    continue;
                }
                // Ids grow along the document: in order means A's ids < B's ids.
                let in_order = p.tokens_a.iter().max() < p.tokens_b.iter().min();
                assert_eq!(p.label == 0, in_order, "seed {seed}: {p:?}");
            }
        }
    }

    #[test]
    fn single_chunk_policy() {
        let docs = vec![doc(&[20], 1000), doc(&[20, 20], 5000)];
        let config = DataConfig {
            max_seq_length: 64,
            ..DataConfig::default()
        };
        let pairs = pairs_from_document(&docs, 0, &config, &mut derived(1, 0, 0));
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].label, 1);
        assert!(
            pairs[0].tokens_b.iter().all(|&t| t >= 5000),
            "B comes from the other document"
        );
        let skip = DataConfig {
            single_chunk: SingleChunkPolicy::Skip,
            ..config
        };
        assert!(pairs_from_document(&docs, 0, &skip, &mut derived(1, 0, 0)).is_empty());
    }
}
