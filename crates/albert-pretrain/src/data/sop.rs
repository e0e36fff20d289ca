//! The sentence-level task of a chunk of consecutive segments (paper §3.1 and §4.1): split it
//! at a random point into A and B, then
//! - SOP (ALBERT's sentence-order prediction): B follows A, swapped half the time (label 1 =
//!   swapped), so the model must learn discourse order, not topic;
//! - NSP (BERT's next-sentence prediction, for the ablation of the paper's Table 5): half the
//!   time B is taken from another document (label 1 = random next), the chunk's unused segments
//!   being put back;
//! - a single-segment chunk has no order to predict: per [`SingleChunkPolicy`] it is skipped
//!   or paired with a random B (what the original code does).
//!
//! The draws are those of `create_pretraining_data.py`'s `create_instances_from_document`, in
//! its order.

use rand::Rng;

use super::config::{DataConfig, SentenceTask, SingleChunkPolicy};
use super::corpus::Document;

/// A chunk made a sentence-level pair (before truncation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SentencePair {
    /// Segment A.
    pub(super) tokens_a: Vec<u32>,
    /// Segment B.
    pub(super) tokens_b: Vec<u32>,
    /// 1 = swapped (SOP) or random next (NSP); 0 = in order.
    pub(super) label: u8,
    /// Segments at the end of the chunk that B did not use (a random next B): the caller puts
    /// them back for the next chunk.
    pub(super) unused: usize,
}

/// The pair of `chunk` (consecutive segments of document `index` of `documents`, aiming at
/// `target` tokens), or `None` when the chunk is skipped.
pub(super) fn sentence_pair(
    documents: &[Document],
    index: usize,
    chunk: &[&Vec<u32>],
    target: usize,
    config: &DataConfig,
    rng: &mut impl Rng,
) -> Option<SentencePair> {
    let a_end = if chunk.len() >= 2 {
        rng.random_range(1..=chunk.len() - 1)
    } else {
        1
    };
    let concat = |segments: &[&Vec<u32>]| -> Vec<u32> {
        segments.iter().flat_map(|s| s.iter().copied()).collect()
    };
    let a = concat(&chunk[..a_end]);
    let random_next = chunk.len() == 1
        || (config.sentence_task == SentenceTask::Nsp && rng.random::<f64>() < 0.5);
    if random_next {
        if chunk.len() == 1 && config.single_chunk == SingleChunkPolicy::Skip || documents.len() < 2
        {
            return None;
        }
        let target_b = target.saturating_sub(a.len());
        let mut other = index;
        for _ in 0..10 {
            other = rng.random_range(0..documents.len());
            if other != index {
                break;
            }
        }
        let random_doc = &documents[other];
        let start = rng.random_range(0..random_doc.len());
        let mut b = Vec::new();
        for seg in &random_doc[start..] {
            b.extend_from_slice(seg);
            if b.len() >= target_b {
                break;
            }
        }
        return Some(SentencePair {
            tokens_a: a,
            tokens_b: b,
            label: 1,
            unused: chunk.len() - a_end,
        });
    }
    let b = concat(&chunk[a_end..]);
    let swap = config.sentence_task == SentenceTask::Sop && rng.random::<f64>() < 0.5;
    let (tokens_a, tokens_b) = if swap { (b, a) } else { (a, b) };
    Some(SentencePair {
        tokens_a,
        tokens_b,
        label: u8::from(swap),
        unused: 0,
    })
}
