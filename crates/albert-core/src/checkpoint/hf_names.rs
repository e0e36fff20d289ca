//! The one table between our module paths and Hugging Face checkpoint names.
//!
//! | burn module path (this crate)                            | HF name                                                                 | original TF name (`modeling.py`)                                   |
//! |----------------------------------------------------------|-------------------------------------------------------------------------|--------------------------------------------------------------------|
//! | `albert.embeddings.word_embeddings.weight`               | same                                                                    | `bert/embeddings/word_embeddings`                                  |
//! | `albert.embeddings.position_embeddings.weight`           | same                                                                    | `bert/embeddings/position_embeddings`                              |
//! | `albert.embeddings.token_type_embeddings.weight`         | same                                                                    | `bert/embeddings/token_type_embeddings`                            |
//! | `albert.embeddings.layer_norm.{gamma,beta}`              | `albert.embeddings.LayerNorm.{weight,bias}`                             | `bert/embeddings/LayerNorm/{gamma,beta}`                           |
//! | `albert.encoder.embedding_hidden_mapping_in.{weight,bias}` | same                                                                  | `bert/encoder/embedding_hidden_mapping_in/{kernel,bias}`           |
//! | `albert.encoder.attention_groups.{g}.{j}.{query,key,value}.*` | `albert.encoder.albert_layer_groups.{g}.albert_layers.{j}.attention.{query,key,value}.*` | `bert/encoder/transformer/group_{g}/inner_group_{j}/attention_1/self/{query,key,value}/*` |
//! | `albert.encoder.attention_groups.{g}.{j}.dense.*`        | `….albert_layers.{j}.attention.dense.*`                                 | `…/inner_group_{j}/attention_1/output/dense/*`                     |
//! | `albert.encoder.attention_groups.{g}.{j}.layer_norm.*`   | `….albert_layers.{j}.attention.LayerNorm.*`                             | `…/inner_group_{j}/LayerNorm/*`                                    |
//! | `albert.encoder.ffn_groups.{g}.{j}.ffn.*`                | `….albert_layers.{j}.ffn.*`                                             | `…/inner_group_{j}/ffn_1/intermediate/dense/*`                     |
//! | `albert.encoder.ffn_groups.{g}.{j}.ffn_output.*`         | `….albert_layers.{j}.ffn_output.*`                                      | `…/inner_group_{j}/ffn_1/intermediate/output/dense/*`              |
//! | `albert.encoder.ffn_groups.{g}.{j}.full_layer_layer_norm.*` | `….albert_layers.{j}.full_layer_layer_norm.*`                        | `…/inner_group_{j}/LayerNorm_1/*`                                  |
//! | `albert.pooler.*`                                        | same                                                                    | `bert/pooler/dense/*`                                              |
//! | `predictions.dense.*`                                    | same                                                                    | `cls/predictions/transform/dense/*`                                |
//! | `predictions.layer_norm.*`                               | `predictions.LayerNorm.*`                                               | `cls/predictions/transform/LayerNorm/*`                            |
//! | `predictions.bias`                                       | `predictions.bias` (= `predictions.decoder.bias`)                       | `cls/predictions/output_bias`                                      |
//! | — (tied: the word embeddings)                            | `predictions.decoder.weight` (absent in HF saves)                       | — (tied)                                                           |
//! | `sop_classifier.classifier.*`                            | same                                                                    | `cls/seq_relationship/output_{weights,bias}`                       |
//! | `classifier.*`, `qa_outputs.*` (downstream heads)        | same                                                                    | task-specific                                                      |
//!
//! Leaf rules: LayerNorm `gamma`/`beta` are HF `weight`/`bias`; every `Linear` weight is stored
//! `[in, out]` here and `[out, in]` in HF (transposed on the way in and out). Embedding tables
//! have the same layout in both.
//!
//! With [`crate::SharingMode::All`], attention group `g` and feed-forward group `g` together are
//! HF's layer group `g`. The partial-sharing modes have different group counts per half; they are
//! written to HF by expanding to one group per layer (see [`super::export_hf`]).

use std::sync::LazyLock;

use regex::Regex;

/// `(burn module-path pattern, HF replacement)`, first match wins.
const PREFIXES: &[(&str, &str)] = &[
    (
        r"^albert\.encoder\.attention_groups\.(\d+)\.(\d+)\.layer_norm\.",
        "albert.encoder.albert_layer_groups.$1.albert_layers.$2.attention.LayerNorm.",
    ),
    (
        r"^albert\.encoder\.attention_groups\.(\d+)\.(\d+)\.",
        "albert.encoder.albert_layer_groups.$1.albert_layers.$2.attention.",
    ),
    (
        r"^albert\.encoder\.ffn_groups\.(\d+)\.(\d+)\.",
        "albert.encoder.albert_layer_groups.$1.albert_layers.$2.",
    ),
    (r"\.layer_norm\.", ".LayerNorm."),
];

static TABLE: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    PREFIXES
        .iter()
        .map(|(pattern, replacement)| {
            #[allow(clippy::expect_used)]
            let re = Regex::new(pattern).expect("the name table's patterns are valid regexes");
            (re, *replacement)
        })
        .collect()
});

/// The HF name of the parameter at burn path `path`, whose innermost module is of type
/// `module_type` (burn's container name, e.g. `"Struct:LayerNorm"`).
pub fn hf_name(path: &str, module_type: &str) -> String {
    let (module, leaf) = path.rsplit_once('.').unwrap_or(("", path));
    let leaf = match (module_type, leaf) {
        ("Struct:LayerNorm", "gamma") => "weight",
        ("Struct:LayerNorm", "beta") => "bias",
        _ => leaf,
    };
    let dotted = format!("{module}.");
    let module = TABLE
        .iter()
        .find(|(re, _)| re.is_match(&dotted))
        .map(|(re, rep)| re.replace(&dotted, *rep).into_owned())
        .unwrap_or(dotted);
    format!("{module}{leaf}")
}

/// HF names tied to another tensor in ALBERT and absent from HF saves, with the name of the
/// tensor they are tied to.
pub const TIED: &[(&str, &str)] = &[
    (
        "predictions.decoder.weight",
        "albert.embeddings.word_embeddings.weight",
    ),
    ("predictions.decoder.bias", "predictions.bias"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_kind_of_path() {
        let cases = [
            (
                "albert.embeddings.word_embeddings.weight",
                "Struct:Embedding",
                "albert.embeddings.word_embeddings.weight",
            ),
            (
                "albert.embeddings.layer_norm.gamma",
                "Struct:LayerNorm",
                "albert.embeddings.LayerNorm.weight",
            ),
            (
                "albert.encoder.attention_groups.1.0.query.weight",
                "Struct:Linear",
                "albert.encoder.albert_layer_groups.1.albert_layers.0.attention.query.weight",
            ),
            (
                "albert.encoder.attention_groups.0.1.layer_norm.beta",
                "Struct:LayerNorm",
                "albert.encoder.albert_layer_groups.0.albert_layers.1.attention.LayerNorm.bias",
            ),
            (
                "albert.encoder.ffn_groups.10.0.ffn_output.bias",
                "Struct:Linear",
                "albert.encoder.albert_layer_groups.10.albert_layers.0.ffn_output.bias",
            ),
            (
                "albert.encoder.ffn_groups.0.0.full_layer_layer_norm.gamma",
                "Struct:LayerNorm",
                "albert.encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.weight",
            ),
            (
                "predictions.layer_norm.beta",
                "Struct:LayerNorm",
                "predictions.LayerNorm.bias",
            ),
            (
                "predictions.bias",
                "Struct:AlbertMlmHead",
                "predictions.bias",
            ),
            (
                "sop_classifier.classifier.weight",
                "Struct:Linear",
                "sop_classifier.classifier.weight",
            ),
            ("qa_outputs.bias", "Struct:Linear", "qa_outputs.bias"),
        ];
        for (path, ty, expected) in cases {
            assert_eq!(hf_name(path, ty), expected, "{path}");
        }
    }
}
