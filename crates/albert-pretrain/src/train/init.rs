//! Starting a run from an existing model's weights (`[run] init`): continued or
//! domain-adaptive pretraining from an HF-layout ALBERT directory (`config.json` +
//! `model.safetensors`, e.g. a finished run's `model/` or a converted `albert-base-v2`).

use std::path::Path;

use albert_core::checkpoint::{LoadReport, MissingPolicy, load_hf};
use albert_core::{AlbertConfig, AlbertForPreTraining, HfConfig};

use crate::error::{PretrainError, Result};

/// Checks that the directory's `config.json` describes the model this run builds, field by
/// field, so that a model that merely has the same tensor shapes (ALBERT shares layers: the
/// depth is not in the weights) is not silently continued as another architecture.
fn check_same_model(dir: &Path, ours: &AlbertConfig) -> Result<()> {
    let path = dir.join("config.json");
    let theirs = HfConfig::from_file(&path)?.config;
    // (name, theirs, ours) of every field that fixes the architecture.
    macro_rules! fields {
        ($($field:ident),*) => {
            [$((stringify!($field), theirs.$field.to_string(), ours.$field.to_string())),*]
        };
    }
    let sizes = fields!(
        vocab_size,
        embedding_size,
        hidden_size,
        num_hidden_layers,
        num_hidden_groups,
        inner_group_num,
        num_attention_heads,
        intermediate_size,
        max_position_embeddings,
        type_vocab_size
    );
    let act = (
        "hidden_act",
        format!("{:?}", theirs.hidden_act),
        format!("{:?}", ours.hidden_act),
    );
    let fields = sizes.into_iter().chain([act]);
    let differ: Vec<String> = fields
        .filter(|(_, t, o)| t != o)
        .map(|(name, t, o)| format!("{name} is {t} there but {o} in this run"))
        .collect();
    if differ.is_empty() {
        return Ok(());
    }
    let hint = if theirs.vocab_size != ours.vocab_size {
        " ([data] tokenizer must be the model's own, e.g. the init directory itself)"
    } else {
        " (make [model] match it)"
    };
    Err(PretrainError::Config(format!(
        "[run] init: {} describes another model: {}{hint}",
        path.display(),
        differ.join("; ")
    )))
}

/// Loads `dir`'s weights over the freshly initialised `model`. The encoder must be complete;
/// pretraining heads the directory lacks (a body-only checkpoint) keep their fresh
/// initialisation and are listed in the report.
pub(super) fn load_initial(
    model: AlbertForPreTraining,
    dir: &Path,
    ours: &AlbertConfig,
) -> Result<(AlbertForPreTraining, LoadReport)> {
    if !dir.is_dir() {
        return Err(PretrainError::Config(format!(
            "[run] init: {} is not a directory (expected an HF-layout model: config.json + model.safetensors)",
            dir.display()
        )));
    }
    check_same_model(dir, ours)?;
    let weights = dir.join("model.safetensors");
    if !weights.is_file() {
        return Err(PretrainError::Config(format!(
            "[run] init: {} not found",
            weights.display()
        )));
    }
    Ok(load_hf(model, &[weights], MissingPolicy::InitializeHeads)?)
}
