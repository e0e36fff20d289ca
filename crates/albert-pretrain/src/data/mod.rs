//! The pretraining data pipeline: corpus → tokenized documents → segment pairs (SOP/NSP) →
//! masked instances, per epoch, in parallel and deterministic for a seed whatever the thread
//! count.

mod config;
mod corpus;
mod instances;
mod masking;
mod rng;
mod sentences;
mod sop;

use rand::seq::SliceRandom;
use rayon::prelude::*;

pub use config::{DataConfig, Masking, SentenceTask, SingleChunkPolicy};
pub use corpus::{
    CorpusStats, Document, TextDocuments, TokenizedCorpus, is_start_piece, read_documents,
};
pub use instances::{Pair, pairs_from_document};
pub use masking::{MaskVocab, Masked, mask_tokens};
pub use rng::derived;
pub use sentences::split_sentences;

/// One pretraining example, unpadded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// `[CLS] A [SEP] B [SEP]` after masking.
    pub input_ids: Vec<u32>,
    /// 0 through the first `[SEP]`, then 1.
    pub segment_ids: Vec<u32>,
    /// Masked positions, ascending.
    pub masked_positions: Vec<usize>,
    /// Original ids at the masked positions.
    pub masked_labels: Vec<u32>,
    /// Sentence-level label (SOP: 1 = swapped; NSP: 1 = random next).
    pub sentence_label: u8,
}

const PAIRS_STREAM: u64 = 1;
const SHUFFLE_STREAM: u64 = 2;

/// Builds and masks one pair.
pub fn instance_from_pair(
    pair: &Pair,
    corpus: &TokenizedCorpus,
    config: &DataConfig,
    rng: &mut impl rand::Rng,
) -> (Instance, Masked) {
    let s = corpus.specials;
    let mut tokens = Vec::with_capacity(pair.tokens_a.len() + pair.tokens_b.len() + 3);
    tokens.push(s.cls);
    tokens.extend_from_slice(&pair.tokens_a);
    tokens.push(s.sep);
    let a_len = tokens.len();
    tokens.extend_from_slice(&pair.tokens_b);
    tokens.push(s.sep);
    let segment_ids = (0..tokens.len()).map(|i| u32::from(i >= a_len)).collect();
    let vocab = MaskVocab {
        word_start: &corpus.word_start,
        mask_id: s.mask,
        cls_id: s.cls,
        sep_id: s.sep,
    };
    let masked = mask_tokens(&tokens, vocab, config, rng);
    let instance = Instance {
        input_ids: masked.input_ids.clone(),
        segment_ids,
        masked_positions: masked.positions.clone(),
        masked_labels: masked.labels.clone(),
        sentence_label: pair.label,
    };
    (instance, masked)
}

/// All instances of `epoch`, shuffled. Dynamic masking draws fresh pairs and masks every
/// epoch; static masking cycles through `dupe_factor` fixed versions (the instance order is
/// still reshuffled every epoch). Deterministic in `(config.seed, epoch)`.
pub fn epoch_instances(corpus: &TokenizedCorpus, config: &DataConfig, epoch: u64) -> Vec<Instance> {
    let data_epoch = match config.masking {
        Masking::Dynamic => epoch,
        Masking::Static { dupe_factor } => epoch % u64::from(dupe_factor.max(1)),
    };
    let mut instances: Vec<Instance> = (0..corpus.documents.len())
        .into_par_iter()
        .flat_map_iter(|d| {
            let mut rng = derived(config.seed, PAIRS_STREAM ^ (data_epoch << 8), d as u64);
            pairs_from_document(&corpus.documents, d, config, &mut rng)
                .into_iter()
                .map(|p| instance_from_pair(&p, corpus, config, &mut rng).0)
                .collect::<Vec<_>>()
        })
        .collect();
    instances.shuffle(&mut derived(config.seed, SHUFFLE_STREAM, epoch));
    instances
}
