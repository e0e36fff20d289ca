//! [`AlbertConfig`]: one config that drives every module, plus ALBERT's published presets.
//!
//! The config is plain data in our own vocabulary (enums, not strings). Hugging Face's
//! `config.json` is a foreign format and goes through the adapter in [`crate::hf_config`], which
//! is where HF's quirks (the `"gelu"` of v1 configs, `id2label`) are mapped.

use burn::config::Config;
use serde::{Deserialize, Serialize};

use crate::error::{AlbertError, Result};

/// The activation of the feed-forward block (and of the MLM head's transform).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HiddenAct {
    /// The tanh approximation of GELU: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    /// What ALBERT uses (original `modeling.py` `gelu`, HF `gelu_new`).
    GeluTanh,
    /// The exact GELU, `x·Φ(x)` with the erf.
    GeluErf,
    /// `max(0, x)`.
    Relu,
}

/// What is shared across layers (the paper's Table 4 ablation).
///
/// The forward computation is the same in every mode; only the number of distinct parameter
/// sets changes. With `num_hidden_groups = G`, a shared component has `G` copies (one per group,
/// applied to the layers that map to that group, exactly as HF maps layers to groups); an
/// unshared component has one copy per layer application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SharingMode {
    /// Attention and feed-forward shared (ALBERT's default; HF's only mode).
    All,
    /// Only the attention block is shared; every layer has its own feed-forward block.
    AttentionOnly,
    /// Only the feed-forward block is shared; every layer has its own attention block.
    FfnOnly,
    /// Nothing shared: a BERT-style stack with factorised embeddings.
    None,
}

impl SharingMode {
    /// All modes, in the order of the paper's Table 4.
    pub const ALL: [SharingMode; 4] = [
        SharingMode::All,
        SharingMode::AttentionOnly,
        SharingMode::FfnOnly,
        SharingMode::None,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            SharingMode::All => "all",
            SharingMode::AttentionOnly => "attention",
            SharingMode::FfnOnly => "ffn",
            SharingMode::None => "none",
        }
    }

    /// Parses [`SharingMode::name`].
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                AlbertError::config(format!(
                    "unknown sharing mode {s:?} (expected one of: all, attention, ffn, none)"
                ))
            })
    }
}

/// The model's hyper-parameters. Defaults are `albert-base-v2`.
#[derive(Config, Debug, PartialEq)]
pub struct AlbertConfig {
    /// Vocabulary size `V`.
    #[config(default = 30000)]
    pub vocab_size: usize,
    /// Factorised embedding size `E`.
    #[config(default = 128)]
    pub embedding_size: usize,
    /// Hidden size `H`.
    #[config(default = 768)]
    pub hidden_size: usize,
    /// Number of layer applications `L`.
    #[config(default = 12)]
    pub num_hidden_layers: usize,
    /// Number of parameter groups `G` (layer `i` uses group `int(i / (L / G))`).
    #[config(default = 1)]
    pub num_hidden_groups: usize,
    /// Layers per group, applied in order each time the group is used.
    #[config(default = 1)]
    pub inner_group_num: usize,
    /// Attention heads `A` (`H` must be divisible by `A`).
    #[config(default = 12)]
    pub num_attention_heads: usize,
    /// Feed-forward inner size `I`.
    #[config(default = 3072)]
    pub intermediate_size: usize,
    /// Feed-forward activation.
    #[config(default = "HiddenAct::GeluTanh")]
    pub hidden_act: HiddenAct,
    /// Dropout after the embeddings, the attention output and the feed-forward output.
    #[config(default = 0.0)]
    pub hidden_dropout_prob: f64,
    /// Dropout on the attention probabilities.
    #[config(default = 0.0)]
    pub attention_probs_dropout_prob: f64,
    /// Dropout before downstream classifiers.
    #[config(default = 0.1)]
    pub classifier_dropout_prob: f64,
    /// Number of position embeddings (the longest sequence).
    #[config(default = 512)]
    pub max_position_embeddings: usize,
    /// Number of token types (segments).
    #[config(default = 2)]
    pub type_vocab_size: usize,
    /// Standard deviation of the truncated-normal initialiser.
    #[config(default = 0.02)]
    pub initializer_range: f64,
    /// LayerNorm epsilon.
    #[config(default = 1e-12)]
    pub layer_norm_eps: f64,
    /// Id of `<pad>`.
    #[config(default = 0)]
    pub pad_token_id: usize,
    /// Id of `[CLS]`.
    #[config(default = 2)]
    pub bos_token_id: usize,
    /// Id of `[SEP]`.
    #[config(default = 3)]
    pub eos_token_id: usize,
    /// Cross-layer sharing (not an HF setting: HF always shares everything).
    #[config(default = "SharingMode::All")]
    pub sharing: SharingMode,
    /// Names of a downstream head's labels, in id order (HF `id2label`), when known.
    pub labels: Option<Vec<String>>,
}

/// ALBERT model sizes published with the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlbertSize {
    /// H 768, 12 layers, 12 heads.
    Base,
    /// H 1024, 24 layers, 16 heads.
    Large,
    /// H 2048, 24 layers, 16 heads.
    XLarge,
    /// H 4096, 12 layers, 64 heads.
    XXLarge,
}

/// Release of the published checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlbertVersion {
    /// The first release: dropout 0.1 (except xxlarge).
    V1,
    /// The second release: no dropout, longer training.
    V2,
}

impl AlbertConfig {
    /// A published size and release, as in the `albert-{size}-{version}` hub configs.
    pub fn preset(size: AlbertSize, version: AlbertVersion) -> Self {
        let (h, layers, heads) = match size {
            AlbertSize::Base => (768, 12, 12),
            AlbertSize::Large => (1024, 24, 16),
            AlbertSize::XLarge => (2048, 24, 16),
            AlbertSize::XXLarge => (4096, 12, 64),
        };
        // v1 configs of base/large/xlarge have dropout 0.1; xxlarge and every v2 have none.
        let dropout = match (version, size) {
            (AlbertVersion::V1, AlbertSize::XXLarge) | (AlbertVersion::V2, _) => 0.0,
            (AlbertVersion::V1, _) => 0.1,
        };
        AlbertConfig::new()
            .with_hidden_size(h)
            .with_num_hidden_layers(layers)
            .with_num_attention_heads(heads)
            .with_intermediate_size(4 * h)
            .with_hidden_dropout_prob(dropout)
            .with_attention_probs_dropout_prob(dropout)
    }

    /// A preset by its hub name: `albert-base-v2`, `albert-xxlarge-v1`, ...
    pub fn preset_by_name(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("albert-")?;
        let (size, version) = rest.rsplit_once('-')?;
        let size = match size {
            "base" => AlbertSize::Base,
            "large" => AlbertSize::Large,
            "xlarge" => AlbertSize::XLarge,
            "xxlarge" => AlbertSize::XXLarge,
            _ => return None,
        };
        let version = match version {
            "v1" => AlbertVersion::V1,
            "v2" => AlbertVersion::V2,
            _ => return None,
        };
        Some(Self::preset(size, version))
    }

    /// The names accepted by [`AlbertConfig::preset_by_name`].
    pub const PRESET_NAMES: [&'static str; 8] = [
        "albert-base-v1",
        "albert-large-v1",
        "albert-xlarge-v1",
        "albert-xxlarge-v1",
        "albert-base-v2",
        "albert-large-v2",
        "albert-xlarge-v2",
        "albert-xxlarge-v2",
    ];

    /// Checks that the sizes are consistent. Every `init` calls it.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("embedding_size", self.embedding_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_hidden_groups", self.num_hidden_groups),
            ("inner_group_num", self.inner_group_num),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(AlbertError::config(format!("{name} must be positive")));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(AlbertError::config(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            )));
        }
        if self.num_hidden_groups > self.num_hidden_layers {
            return Err(AlbertError::config(format!(
                "num_hidden_groups {} exceeds num_hidden_layers {}: some groups would never be used",
                self.num_hidden_groups, self.num_hidden_layers
            )));
        }
        for (name, p) in [
            ("hidden_dropout_prob", self.hidden_dropout_prob),
            (
                "attention_probs_dropout_prob",
                self.attention_probs_dropout_prob,
            ),
            ("classifier_dropout_prob", self.classifier_dropout_prob),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(AlbertError::config(format!(
                    "{name} must be in [0, 1), got {p}"
                )));
            }
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps.is_finite()) {
            return Err(AlbertError::config("layer_norm_eps must be positive"));
        }
        if !(self.initializer_range > 0.0 && self.initializer_range.is_finite()) {
            return Err(AlbertError::config("initializer_range must be positive"));
        }
        if let Some(labels) = &self.labels
            && labels.is_empty()
        {
            return Err(AlbertError::config("id2label is empty"));
        }
        Ok(())
    }

    /// Size of one attention head, `H / A`.
    pub fn head_size(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// The parameter group used by layer application `layer` (`0..num_hidden_layers`),
    /// computed as HF does: `int(i / (num_hidden_layers / num_hidden_groups))` in floating point.
    pub fn group_of_layer(&self, layer: usize) -> usize {
        group_index(layer, self.num_hidden_layers, self.num_hidden_groups)
    }

    /// Number of distinct attention parameter groups under [`AlbertConfig::sharing`].
    pub fn attention_groups(&self) -> usize {
        match self.sharing {
            SharingMode::All | SharingMode::AttentionOnly => self.num_hidden_groups,
            SharingMode::FfnOnly | SharingMode::None => self.num_hidden_layers,
        }
    }

    /// Number of distinct feed-forward parameter groups under [`AlbertConfig::sharing`].
    pub fn ffn_groups(&self) -> usize {
        match self.sharing {
            SharingMode::All | SharingMode::FfnOnly => self.num_hidden_groups,
            SharingMode::AttentionOnly | SharingMode::None => self.num_hidden_layers,
        }
    }

    /// Number of labels of a downstream head, when the config names them.
    pub fn num_labels(&self) -> Option<usize> {
        self.labels.as_ref().map(Vec::len)
    }
}

/// `int(i / (layers / groups))` as Python computes it (float division, truncation).
pub(crate) fn group_index(layer: usize, layers: usize, groups: usize) -> usize {
    let per_group = layers as f64 / groups as f64;
    ((layer as f64 / per_group) as usize).min(groups - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_map_matches_hf_formula() {
        // L=4, G=2 (the tiny-groups fixture): layers 0,1 -> group 0; 2,3 -> group 1.
        let groups: Vec<usize> = (0..4).map(|i| group_index(i, 4, 2)).collect();
        assert_eq!(groups, vec![0, 0, 1, 1]);
        // Non-divisible: L=12, G=5, Python: [int(i / 2.4) for i in range(12)].
        let groups: Vec<usize> = (0..12).map(|i| group_index(i, 12, 5)).collect();
        assert_eq!(groups, vec![0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4]);
        // One group: everything shares group 0.
        assert!((0..24).all(|i| group_index(i, 24, 1) == 0));
    }

    #[test]
    fn presets_have_published_shapes() {
        let xxl = AlbertConfig::preset(AlbertSize::XXLarge, AlbertVersion::V2);
        assert_eq!(
            (
                xxl.hidden_size,
                xxl.num_attention_heads,
                xxl.intermediate_size
            ),
            (4096, 64, 16384)
        );
        let base_v1 = AlbertConfig::preset_by_name("albert-base-v1").expect("preset");
        assert_eq!(base_v1.hidden_dropout_prob, 0.1);
        assert_eq!(base_v1.hidden_act, HiddenAct::GeluTanh);
        assert!(AlbertConfig::preset_by_name("albert-huge-v2").is_none());
        for name in AlbertConfig::PRESET_NAMES {
            AlbertConfig::preset_by_name(name)
                .expect("listed preset")
                .validate()
                .expect("valid");
        }
    }

    #[test]
    fn validation_rejects_inconsistent_sizes() {
        let bad = AlbertConfig::new().with_num_attention_heads(7);
        assert!(bad.validate().unwrap_err().to_string().contains("multiple"));
        let bad = AlbertConfig::new().with_num_hidden_groups(13);
        assert!(bad.validate().is_err());
        let bad = AlbertConfig::new().with_vocab_size(0);
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("vocab_size")
        );
    }

    #[test]
    fn sharing_modes_set_group_counts() {
        let c = AlbertConfig::new();
        let counts: Vec<(usize, usize)> = SharingMode::ALL
            .into_iter()
            .map(|m| {
                let c = c.clone().with_sharing(m);
                (c.attention_groups(), c.ffn_groups())
            })
            .collect();
        assert_eq!(counts, vec![(1, 1), (1, 12), (12, 1), (12, 12)]);
        assert_eq!(
            SharingMode::parse("ffn").expect("parse"),
            SharingMode::FfnOnly
        );
        assert!(SharingMode::parse("some").is_err());
    }
}
