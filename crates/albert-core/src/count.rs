//! Parameter counts by part, computed from the config (no weights needed), and what sharing
//! saves: unique parameters versus the parameters a token passes through.

use crate::config::AlbertConfig;

/// Parameter counts of an ALBERT body (HF `AlbertModel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamCounts {
    /// Word, position and token-type tables plus their LayerNorm.
    pub embeddings: usize,
    /// The `E → H` projection.
    pub projection: usize,
    /// One attention block (Q, K, V, output projection, LayerNorm).
    pub attention_block: usize,
    /// One feed-forward block (two projections, LayerNorm).
    pub ffn_block: usize,
    /// Distinct attention blocks stored.
    pub attention_blocks: usize,
    /// Distinct feed-forward blocks stored.
    pub ffn_blocks: usize,
    /// The pooler, when present.
    pub pooler: usize,
    /// Block applications per forward pass (`L · inner_group_num`).
    pub applications: usize,
}

impl ParamCounts {
    /// Counts for `config`, with or without the pooler.
    pub fn new(config: &AlbertConfig, with_pooler: bool) -> Self {
        let (v, e, h, i) = (
            config.vocab_size,
            config.embedding_size,
            config.hidden_size,
            config.intermediate_size,
        );
        let inner = config.inner_group_num;
        Self {
            embeddings: (v + config.max_position_embeddings + config.type_vocab_size) * e + 2 * e,
            projection: e * h + h,
            attention_block: 4 * (h * h + h) + 2 * h,
            ffn_block: (h * i + i) + (i * h + h) + 2 * h,
            attention_blocks: config.attention_groups() * inner,
            ffn_blocks: config.ffn_groups() * inner,
            pooler: if with_pooler { h * h + h } else { 0 },
            applications: config.num_hidden_layers * inner,
        }
    }

    /// The encoder's stored parameters.
    pub fn encoder(&self) -> usize {
        self.projection
            + self.attention_blocks * self.attention_block
            + self.ffn_blocks * self.ffn_block
    }

    /// Unique (stored) parameters of the body.
    pub fn unique(&self) -> usize {
        self.embeddings + self.encoder() + self.pooler
    }

    /// Parameters a token passes through: every layer application counted, as if unshared
    /// (the size of the BERT-style model with the same compute).
    pub fn per_token(&self) -> usize {
        self.embeddings
            + self.projection
            + self.applications * (self.attention_block + self.ffn_block)
            + self.pooler
    }
}

/// Parameters of the two pretraining heads: the MLM transform and bias (decoder tied) and the
/// SOP classifier.
pub fn pretraining_heads(config: &AlbertConfig) -> usize {
    let (v, e, h) = (config.vocab_size, config.embedding_size, config.hidden_size);
    (h * e + e) + 2 * e + v + (2 * h + 2)
}
