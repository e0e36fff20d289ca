//! The Hugging Face `config.json` adapter: HF's keys and quirks on one side, [`AlbertConfig`] on
//! the other.
//!
//! Quirks mapped here, and only here:
//! - `hidden_act: "gelu"` — the original TF code's `gelu` and HF's v1 hub configs mean the tanh
//!   approximation (HF `gelu_new`), so `"gelu"` reads as [`HiddenAct::GeluTanh`]. (HF itself
//!   computes the erf GELU for `"gelu"`; the ALBERT checkpoints were trained with tanh.)
//!   The erf form is written as `"gelu_python"`, which both HF and this reader take as erf.
//! - Missing keys take the defaults of HF's `AlbertConfig` class (xxlarge shapes), as
//!   `transformers` would.
//! - Labels: `id2label` (a JSON object keyed by stringified ids) or, failing that, `num_labels`.
//! - Unknown keys are ignored.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{AlbertConfig, HiddenAct, SharingMode};
use crate::error::{AlbertError, Result};

/// HF's `AlbertConfig` keys, with HF's defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HfConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    architectures: Option<Vec<String>>,
    #[serde(default = "d_attention_dropout")]
    attention_probs_dropout_prob: f64,
    #[serde(default = "d_bos")]
    bos_token_id: usize,
    #[serde(default = "d_classifier_dropout")]
    classifier_dropout_prob: f64,
    #[serde(default = "d_embedding_size")]
    embedding_size: usize,
    #[serde(default = "d_eos")]
    eos_token_id: usize,
    #[serde(default = "d_hidden_act")]
    hidden_act: String,
    #[serde(default = "d_hidden_dropout")]
    hidden_dropout_prob: f64,
    #[serde(default = "d_hidden_size")]
    hidden_size: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id2label: Option<BTreeMap<String, String>>,
    #[serde(default = "d_init_range")]
    initializer_range: f64,
    #[serde(default = "d_one")]
    inner_group_num: usize,
    #[serde(default = "d_intermediate_size")]
    intermediate_size: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label2id: Option<BTreeMap<String, usize>>,
    #[serde(default = "d_ln_eps")]
    layer_norm_eps: f64,
    #[serde(default = "d_max_positions")]
    max_position_embeddings: usize,
    #[serde(default = "d_model_type")]
    model_type: String,
    #[serde(default = "d_num_heads")]
    num_attention_heads: usize,
    #[serde(default = "d_one")]
    num_hidden_groups: usize,
    #[serde(default = "d_num_layers")]
    num_hidden_layers: usize,
    #[serde(default, skip_serializing)]
    num_labels: Option<usize>,
    #[serde(default = "d_zero")]
    pad_token_id: usize,
    #[serde(default = "d_position_embedding_type")]
    position_embedding_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    problem_type: Option<String>,
    #[serde(default = "d_type_vocab")]
    type_vocab_size: usize,
    #[serde(default = "d_vocab_size")]
    vocab_size: usize,
}

fn d_attention_dropout() -> f64 {
    0.0
}
fn d_hidden_dropout() -> f64 {
    0.0
}
fn d_classifier_dropout() -> f64 {
    0.1
}
fn d_bos() -> usize {
    2
}
fn d_eos() -> usize {
    3
}
fn d_embedding_size() -> usize {
    128
}
fn d_hidden_act() -> String {
    "gelu_new".into()
}
fn d_hidden_size() -> usize {
    4096
}
fn d_init_range() -> f64 {
    0.02
}
fn d_one() -> usize {
    1
}
fn d_zero() -> usize {
    0
}
fn d_intermediate_size() -> usize {
    16384
}
fn d_ln_eps() -> f64 {
    1e-12
}
fn d_max_positions() -> usize {
    512
}
fn d_model_type() -> String {
    "albert".into()
}
fn d_num_heads() -> usize {
    64
}
fn d_num_layers() -> usize {
    12
}
fn d_position_embedding_type() -> String {
    "absolute".into()
}
fn d_type_vocab() -> usize {
    2
}
fn d_vocab_size() -> usize {
    30000
}

/// An HF `config.json` read into our config, plus what else HF put there that we keep.
#[derive(Debug, Clone, PartialEq)]
pub struct HfConfig {
    /// The model's hyper-parameters.
    pub config: AlbertConfig,
    /// HF `architectures` (e.g. `["AlbertForSequenceClassification"]`), when present.
    pub architectures: Vec<String>,
    /// HF `problem_type` (`"regression"`, `"single_label_classification"`, ...), when present.
    pub problem_type: Option<String>,
}

fn parse_act(name: &str) -> Option<HiddenAct> {
    match name {
        // "gelu": tanh, as the original TF code and ALBERT v1 checkpoints mean it (see module doc).
        "gelu" | "gelu_new" | "gelu_pytorch_tanh" => Some(HiddenAct::GeluTanh),
        "gelu_python" => Some(HiddenAct::GeluErf),
        "relu" => Some(HiddenAct::Relu),
        _ => None,
    }
}

fn act_name(act: HiddenAct) -> &'static str {
    match act {
        HiddenAct::GeluTanh => "gelu_new",
        HiddenAct::GeluErf => "gelu_python",
        HiddenAct::Relu => "relu",
    }
}

impl HfConfig {
    /// Parses HF `config.json` text. `path` only labels error messages.
    pub fn from_json_str(text: &str, path: Option<&Path>) -> Result<Self> {
        let err = |message: String| AlbertError::Config {
            path: path.map(Path::to_path_buf),
            message,
        };
        let file: HfConfigFile =
            serde_json::from_str(text).map_err(|e| err(format!("malformed JSON: {e}")))?;
        if file.model_type != "albert" {
            return Err(err(format!(
                "model_type is {:?}, expected \"albert\"",
                file.model_type
            )));
        }
        if file.position_embedding_type != "absolute" {
            return Err(err(format!(
                "position_embedding_type {:?} is not supported (ALBERT uses \"absolute\")",
                file.position_embedding_type
            )));
        }
        let hidden_act = parse_act(&file.hidden_act).ok_or_else(|| {
            err(format!(
                "hidden_act {:?} is not supported (expected gelu, gelu_new, gelu_pytorch_tanh, gelu_python or relu)",
                file.hidden_act
            ))
        })?;
        let labels = match (&file.id2label, file.num_labels) {
            (Some(map), _) => Some(labels_from_id2label(map).map_err(err)?),
            (None, Some(n)) => Some((0..n).map(|i| format!("LABEL_{i}")).collect()),
            (None, None) => None,
        };
        let config = AlbertConfig {
            vocab_size: file.vocab_size,
            embedding_size: file.embedding_size,
            hidden_size: file.hidden_size,
            num_hidden_layers: file.num_hidden_layers,
            num_hidden_groups: file.num_hidden_groups,
            inner_group_num: file.inner_group_num,
            num_attention_heads: file.num_attention_heads,
            intermediate_size: file.intermediate_size,
            hidden_act,
            hidden_dropout_prob: file.hidden_dropout_prob,
            attention_probs_dropout_prob: file.attention_probs_dropout_prob,
            classifier_dropout_prob: file.classifier_dropout_prob,
            max_position_embeddings: file.max_position_embeddings,
            type_vocab_size: file.type_vocab_size,
            initializer_range: file.initializer_range,
            layer_norm_eps: file.layer_norm_eps,
            pad_token_id: file.pad_token_id,
            bos_token_id: file.bos_token_id,
            eos_token_id: file.eos_token_id,
            sharing: SharingMode::All,
            labels,
        };
        config.validate().map_err(|e| match e {
            AlbertError::Config { message, .. } => err(message),
            other => other,
        })?;
        Ok(HfConfig {
            config,
            architectures: file.architectures.unwrap_or_default(),
            problem_type: file.problem_type,
        })
    }

    /// Reads an HF `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|e| AlbertError::io(path, e))?;
        let text = String::from_utf8(text).map_err(|e| AlbertError::Config {
            path: Some(path.to_path_buf()),
            message: format!("not UTF-8 text: {e}"),
        })?;
        Self::from_json_str(&text, Some(path))
    }

    /// Wraps a config with no HF extras.
    pub fn new(config: AlbertConfig) -> Self {
        Self {
            config,
            architectures: Vec::new(),
            problem_type: None,
        }
    }

    /// Renders HF `config.json` text. Only [`SharingMode::All`] exists in HF: other modes must be
    /// expanded (see [`crate::checkpoint::export_hf`]) before they can be written.
    pub fn to_json_string(&self) -> Result<String> {
        let c = &self.config;
        if c.sharing != SharingMode::All {
            return Err(AlbertError::Export(format!(
                "sharing mode {:?} has no HF config equivalent; expand it to unshared groups first",
                c.sharing
            )));
        }
        let id2label = c.labels.as_ref().map(|labels| {
            labels
                .iter()
                .enumerate()
                .map(|(i, l)| (i.to_string(), l.clone()))
                .collect::<BTreeMap<_, _>>()
        });
        let label2id = c.labels.as_ref().map(|labels| {
            labels
                .iter()
                .enumerate()
                .map(|(i, l)| (l.clone(), i))
                .collect::<BTreeMap<_, _>>()
        });
        let file = HfConfigFile {
            architectures: (!self.architectures.is_empty()).then(|| self.architectures.clone()),
            attention_probs_dropout_prob: c.attention_probs_dropout_prob,
            bos_token_id: c.bos_token_id,
            classifier_dropout_prob: c.classifier_dropout_prob,
            embedding_size: c.embedding_size,
            eos_token_id: c.eos_token_id,
            hidden_act: act_name(c.hidden_act).to_string(),
            hidden_dropout_prob: c.hidden_dropout_prob,
            hidden_size: c.hidden_size,
            id2label,
            initializer_range: c.initializer_range,
            inner_group_num: c.inner_group_num,
            intermediate_size: c.intermediate_size,
            label2id,
            layer_norm_eps: c.layer_norm_eps,
            max_position_embeddings: c.max_position_embeddings,
            model_type: "albert".into(),
            num_attention_heads: c.num_attention_heads,
            num_hidden_groups: c.num_hidden_groups,
            num_hidden_layers: c.num_hidden_layers,
            num_labels: None,
            pad_token_id: c.pad_token_id,
            position_embedding_type: "absolute".into(),
            problem_type: self.problem_type.clone(),
            type_vocab_size: c.type_vocab_size,
            vocab_size: c.vocab_size,
        };
        let mut text = serde_json::to_string_pretty(&file)
            .map_err(|e| AlbertError::Export(format!("cannot render config.json: {e}")))?;
        text.push('\n');
        Ok(text)
    }
}

fn labels_from_id2label(
    map: &BTreeMap<String, String>,
) -> std::result::Result<Vec<String>, String> {
    let mut labels = vec![None; map.len()];
    for (id, label) in map {
        let i: usize = id
            .parse()
            .map_err(|_| format!("id2label key {id:?} is not a label id"))?;
        let slot = labels
            .get_mut(i)
            .ok_or_else(|| format!("id2label ids must be 0..{}, found {i}", map.len()))?;
        *slot = Some(label.clone());
    }
    Ok(labels.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"{
      "architectures": ["AlbertForSequenceClassification"], "attention_probs_dropout_prob": 0.0,
      "bos_token_id": 2, "classifier_dropout_prob": 0.0, "dtype": "float32", "embedding_size": 32,
      "eos_token_id": 3, "hidden_act": "gelu_new", "hidden_dropout_prob": 0.0, "hidden_size": 64,
      "id2label": {"0": "neg", "1": "neu", "2": "pos", "10": "x"},
      "initializer_range": 0.02, "inner_group_num": 1, "intermediate_size": 128,
      "layer_norm_eps": 1e-12, "max_position_embeddings": 128, "model_type": "albert",
      "num_attention_heads": 4, "num_hidden_groups": 1, "num_hidden_layers": 3, "pad_token_id": 0,
      "position_embedding_type": "absolute", "transformers_version": "4.57.6",
      "type_vocab_size": 2, "vocab_size": 1000, "some_future_key": {"nested": true}
    }"#;

    #[test]
    fn id2label_must_be_dense() {
        let err = HfConfig::from_json_str(TINY, None).unwrap_err().to_string();
        assert!(err.contains("id2label ids must be 0..4, found 10"), "{err}");
    }

    #[test]
    fn reads_keys_ignores_unknown_and_round_trips() {
        let text = TINY.replace(r#", "10": "x""#, "");
        let hf = HfConfig::from_json_str(&text, None).expect("parse");
        assert_eq!(hf.config.hidden_size, 64);
        assert_eq!(
            hf.config.labels.as_deref(),
            Some(&["neg".to_string(), "neu".into(), "pos".into()][..])
        );
        assert_eq!(hf.architectures, vec!["AlbertForSequenceClassification"]);
        let again =
            HfConfig::from_json_str(&hf.to_json_string().expect("render"), None).expect("re-parse");
        assert_eq!(again, hf);
    }

    #[test]
    fn v1_gelu_means_tanh_and_missing_keys_take_hf_defaults() {
        let hf = HfConfig::from_json_str(r#"{"hidden_act": "gelu", "num_labels": 2}"#, None)
            .expect("parse");
        assert_eq!(hf.config.hidden_act, HiddenAct::GeluTanh);
        assert_eq!(hf.config.hidden_size, 4096); // HF's class default: xxlarge
        assert_eq!(hf.config.num_labels(), Some(2));
        let erf = HfConfig::from_json_str(r#"{"hidden_act": "gelu_python"}"#, None).expect("parse");
        assert_eq!(erf.config.hidden_act, HiddenAct::GeluErf);
    }

    #[test]
    fn malformed_configs_are_clear_errors() {
        let p = Path::new("cfg.json");
        for (text, needle) in [
            ("{not json", "malformed JSON"),
            (r#"{"model_type": "bert"}"#, "model_type"),
            (r#"{"hidden_act": "swishy"}"#, "hidden_act"),
            (r#"{"hidden_size": "big"}"#, "malformed JSON"),
            (
                r#"{"hidden_size": 100, "num_attention_heads": 3}"#,
                "multiple",
            ),
            (
                r#"{"position_embedding_type": "relative_key"}"#,
                "position_embedding_type",
            ),
        ] {
            let err = HfConfig::from_json_str(text, Some(p))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(needle) && err.contains("cfg.json"),
                "{text}: {err}"
            );
        }
    }
}
