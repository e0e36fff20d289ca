//! `albert info`: the architecture and where its parameters are.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use albert_core::checkpoint::MissingPolicy;
use albert_core::{AlbertConfig, HfConfig, SharingMode};
use clap::Args;

use crate::device::device;
use crate::error::{Result, RunnerError};
use crate::models::{AnyModel, counts, num_labels, resolve_head};

/// `albert info`: architecture summary and parameter counts.
#[derive(Debug, Clone, Args)]
pub struct InfoArgs {
    /// HF `config.json`, or a preset name (albert-base-v2, albert-xxlarge-v1, ...).
    #[arg(long)]
    pub config: String,
    /// Weights to check against the config (optional).
    #[arg(long)]
    pub weights: Vec<PathBuf>,
    /// Which model (default: the config's `architectures`, else pretraining).
    #[arg(long, value_parser = crate::models::head_parser())]
    pub head: Option<String>,
    /// Cross-layer sharing: all, attention, ffn or none (the paper's Table 4).
    #[arg(long, value_parser = ["all", "attention", "ffn", "none"])]
    pub sharing: Option<String>,
}

impl InfoArgs {
    /// Runs `albert info`: prints the summary.
    pub fn run(&self) -> Result<()> {
        let text = info(
            &self.config,
            &self.weights,
            self.head.as_deref(),
            self.sharing.as_deref(),
        )?;
        print!("{text}");
        Ok(())
    }
}

/// Reads `config` as a file, or as a preset name when no such file exists.
pub fn load_config(config: &str) -> Result<HfConfig> {
    let path = Path::new(config);
    if path.exists() {
        return Ok(HfConfig::from_file(path)?);
    }
    AlbertConfig::preset_by_name(config)
        .map(HfConfig::new)
        .ok_or_else(|| {
            RunnerError::Usage(format!(
                "--config {config}: no such file, and not a preset ({})",
                AlbertConfig::PRESET_NAMES.join(", ")
            ))
        })
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Renders the summary; with `weights`, also loads them and reports the result.
pub fn info(
    config: &str,
    weights: &[PathBuf],
    head: Option<&str>,
    sharing: Option<&str>,
) -> Result<String> {
    let mut hf = load_config(config)?;
    if let Some(s) = sharing {
        hf.config.sharing = SharingMode::parse(s)?;
    }
    let kind = resolve_head(head, &hf)?;
    let labels = if weights.is_empty() {
        num_labels(&hf, kind, weights).unwrap_or(2)
    } else {
        num_labels(&hf, kind, weights)?
    };
    let c = &hf.config;
    let (body, head_params) = counts(&hf, kind, labels);
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "{} ({})", kind.hf_architecture(), config);
    let _ = writeln!(
        w,
        "  vocab {}  embedding E={}  hidden H={}  intermediate {}  heads {} (size {})",
        c.vocab_size,
        c.embedding_size,
        c.hidden_size,
        c.intermediate_size,
        c.num_attention_heads,
        c.head_size()
    );
    let _ = writeln!(
        w,
        "  layers {} over {} group(s) of {} inner layer(s); sharing: {} ({} attention group(s), {} feed-forward group(s))",
        c.num_hidden_layers,
        c.num_hidden_groups,
        c.inner_group_num,
        c.sharing.name(),
        c.attention_groups(),
        c.ffn_groups()
    );
    if c.num_hidden_groups > 1 {
        let map: Vec<String> = (0..c.num_hidden_layers)
            .map(|i| c.group_of_layer(i).to_string())
            .collect();
        let _ = writeln!(w, "  layer -> group: {}", map.join(" "));
    }
    let _ = writeln!(
        w,
        "  activation {:?}  positions {}  token types {}  LayerNorm eps {:e}  dropout hidden {} attention {} classifier {}",
        c.hidden_act,
        c.max_position_embeddings,
        c.type_vocab_size,
        c.layer_norm_eps,
        c.hidden_dropout_prob,
        c.attention_probs_dropout_prob,
        c.classifier_dropout_prob
    );
    let _ = writeln!(
        w,
        "\n  {:<34} {:>16} {:>16}",
        "parameters", "unique", "per token"
    );
    let row = |w: &mut String, name: &str, unique: usize, per_token: usize| {
        let _ = writeln!(
            w,
            "  {:<34} {:>16} {:>16}",
            name,
            thousands(unique),
            thousands(per_token)
        );
    };
    let apps = body.applications;
    row(w, "embeddings (in E)", body.embeddings, body.embeddings);
    row(w, "projection E -> H", body.projection, body.projection);
    row(
        w,
        &format!(
            "attention: {} stored, {apps} applied",
            body.attention_blocks
        ),
        body.attention_blocks * body.attention_block,
        apps * body.attention_block,
    );
    row(
        w,
        &format!("feed-forward: {} stored, {apps} applied", body.ffn_blocks),
        body.ffn_blocks * body.ffn_block,
        apps * body.ffn_block,
    );
    row(w, "pooler", body.pooler, body.pooler);
    row(
        w,
        &format!("{} head(s)", kind.cli_name()),
        head_params,
        head_params,
    );
    row(
        w,
        "total",
        body.unique() + head_params,
        body.per_token() + head_params,
    );
    let _ = writeln!(
        w,
        "  (\"per token\": every layer application counted, i.e. the unshared model with the same compute)"
    );

    if !weights.is_empty() {
        let device = device("cpu")?;
        let (model, report) = AnyModel::load(kind, &hf, weights, MissingPolicy::Error, &device)?;
        let _ = writeln!(w, "\nweights: {report}");
        let counted = model.num_params();
        if counted != body.unique() + head_params {
            return Err(RunnerError::Usage(format!(
                "internal: the loaded model has {counted} parameters, the count says {}",
                body.unique() + head_params
            )));
        }
    }
    Ok(s)
}
