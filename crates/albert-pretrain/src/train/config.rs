//! [`PretrainConfig`]: one TOML file holds the model, the data, the optimiser and the schedule
//! of a pretraining run. Unknown keys and out-of-range values are errors naming the file.
//!
//! ```toml
//! [model]            # ALBERT hyper-parameters; vocab_size comes from the tokenizer
//! embedding_size = 128
//! hidden_size = 768
//! num_hidden_layers = 12
//! num_attention_heads = 12
//! intermediate_size = 3072
//!
//! [data]
//! corpus = ["corpus.txt.gz"]   # relative paths are relative to this file
//! tokenizer = "tokenizer"      # a spiece.model, tokenizer.json, or a directory with one
//!
//! [instances]        # create_pretraining_data.py's settings
//! max_seq_length = 128
//!
//! [optimizer]        # LAMB (ALBERT's defaults)
//! weight_decay = 0.01
//!
//! [schedule]
//! peak = 0.00176
//! warmup_steps = 3125
//!
//! [run]
//! steps = 125000
//! batch_size = 64
//! ```

use std::path::{Path, PathBuf};

use albert_core::{AlbertConfig, HiddenAct, SharingMode};
use serde::{Deserialize, Serialize};

use crate::data::DataConfig;
use crate::error::{PretrainError, Result};
use crate::lamb::LambConfig;
use albert_core::Schedule;

/// The `[model]` table: ALBERT's hyper-parameters except the vocabulary size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSection {
    /// Factorised embedding size `E`.
    pub embedding_size: usize,
    /// Hidden size `H`.
    pub hidden_size: usize,
    /// Layer applications `L`.
    pub num_hidden_layers: usize,
    /// Parameter groups `G`.
    pub num_hidden_groups: usize,
    /// Inner layers per group.
    pub inner_group_num: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// FFN inner size.
    pub intermediate_size: usize,
    /// Longest sequence the model accepts (≥ `data.max_seq_length`).
    pub max_position_embeddings: usize,
    /// `all`, `attention`, `ffn` or `none`.
    pub sharing: String,
    /// Dropout after embeddings/attention/FFN (ALBERT v2: 0). Dropout draws from the
    /// backend's generator, which checkpoints do not capture: resume is exact only at 0.
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities.
    pub attention_probs_dropout_prob: f64,
    /// Truncated-normal standard deviation.
    pub initializer_range: f64,
}

impl Default for ModelSection {
    fn default() -> Self {
        let c = AlbertConfig::new();
        Self {
            embedding_size: c.embedding_size,
            hidden_size: c.hidden_size,
            num_hidden_layers: c.num_hidden_layers,
            num_hidden_groups: c.num_hidden_groups,
            inner_group_num: c.inner_group_num,
            num_attention_heads: c.num_attention_heads,
            intermediate_size: c.intermediate_size,
            max_position_embeddings: c.max_position_embeddings,
            sharing: "all".into(),
            hidden_dropout_prob: 0.0,
            attention_probs_dropout_prob: 0.0,
            initializer_range: c.initializer_range,
        }
    }
}

/// The `[data]` table: corpus and tokenizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataSection {
    /// Corpus files (plain or .gz).
    pub corpus: Vec<PathBuf>,
    /// Tokenizer: a spiece.model, tokenizer.json or a directory holding one.
    pub tokenizer: PathBuf,
    /// Hold out every `held_out_every`-th document for evaluation (at least 2).
    pub held_out_every: usize,
    /// Seed of the held-out evaluation instances (their pairs and masks); default: the
    /// `[instances] seed`. A continued run that draws fresh training instances with a new
    /// `[instances] seed` sets this to the old one to score on the same held-out instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_seed: Option<u64>,
    /// Tokens per held-out evaluation instance (periodic and final); default: the `[instances]
    /// max_seq_length`. Runs trained at different lengths (or a 64-then-128 schedule) set the
    /// same value to be scored on the same held-out instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_max_seq_length: Option<usize>,
}

impl Default for DataSection {
    fn default() -> Self {
        Self {
            corpus: Vec::new(),
            tokenizer: PathBuf::new(),
            held_out_every: 20,
            eval_seed: None,
            eval_max_seq_length: None,
        }
    }
}

/// The `[run]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSection {
    /// Optimisation steps.
    pub steps: u64,
    /// Sequences per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimisation step (effective batch = batch_size × this).
    pub gradient_accumulation: usize,
    /// Global-norm gradient clipping (ALBERT: 1.0; 0 disables).
    pub clip_norm: f64,
    /// Append training metrics to the log every this many steps.
    pub log_every: u64,
    /// Evaluate on held-out documents every this many steps (0 = only at the end).
    pub eval_every: u64,
    /// Held-out batches per evaluation.
    pub eval_batches: usize,
    /// Write a checkpoint every this many steps (0 = only at the end).
    pub checkpoint_every: u64,
    /// Checkpoints kept (the best by masked-LM accuracy is kept in addition).
    pub keep_last: usize,
    /// Seed of the model initialisation.
    pub seed: u64,
    /// `cpu`, `wgpu[:N]` or `cuda[:N]` (the binary must be built with it); a comma-separated
    /// list (`cuda:0,cuda:1`) trains data-parallel with `batch_size` sequences per device.
    pub device: String,
    /// The matrix products' precision, `fp32`, `bf16` or `fp16` (autocast: bf16/half operands, f32
    /// accumulation; weights, gradients, optimiser state and checkpoints stay f32; see
    /// `albert_core::precision`). Not `int8`, which is for inference only.
    pub precision: albert_core::precision::Precision,
    /// Start from this HF-layout model directory's weights (`config.json` +
    /// `model.safetensors`, e.g. an earlier run's `model/`) instead of a random initialisation:
    /// continued or domain-adaptive pretraining. `[model]` and the tokenizer must match it;
    /// pretraining heads it lacks are initialised fresh. Ignored when resuming (the checkpoint
    /// has the weights).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
}

impl Default for RunSection {
    fn default() -> Self {
        Self {
            steps: 1000,
            batch_size: 32,
            gradient_accumulation: 1,
            clip_norm: 1.0,
            log_every: 10,
            eval_every: 200,
            eval_batches: 8,
            checkpoint_every: 200,
            keep_last: 2,
            seed: 42,
            device: "cpu".into(),
            precision: albert_core::precision::Precision::Fp32,
            init: None,
        }
    }
}

/// A whole pretraining configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PretrainConfig {
    /// Model hyper-parameters.
    pub model: ModelSection,
    /// Corpus and tokenizer.
    pub data: DataSection,
    /// Instance creation.
    pub instances: DataConfig,
    /// LAMB.
    pub optimizer: LambConfig,
    /// Learning rate.
    pub schedule: Schedule,
    /// Run control.
    pub run: RunSection,
}

impl PretrainConfig {
    /// The instance settings of the held-out evaluation sets: `[instances]` with
    /// `[data] eval_seed` and `eval_max_seq_length` when set.
    pub fn eval_instances(&self) -> DataConfig {
        let mut cfg = self.instances.clone();
        if let Some(seed) = self.data.eval_seed {
            cfg.seed = seed;
        }
        if let Some(len) = self.data.eval_max_seq_length {
            cfg.max_seq_length = len;
        }
        cfg
    }

    /// Parses TOML text; `path` names it in errors and anchors relative paths.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let mut config: PretrainConfig = toml::from_str(text)
            .map_err(|e| PretrainError::Config(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for f in &mut config.data.corpus {
            if f.is_relative() {
                *f = base.join(&f);
            }
        }
        if config.data.tokenizer.as_os_str().is_empty() {
            return Err(PretrainError::Config(format!(
                "{}: [data] tokenizer is required",
                path.display()
            )));
        }
        if config.data.tokenizer.is_relative() {
            config.data.tokenizer = base.join(&config.data.tokenizer);
        }
        if let Some(init) = config.run.init.as_mut().filter(|i| i.is_relative()) {
            *init = base.join(&*init);
        }
        config.validate().map_err(|e| match e {
            PretrainError::Config(m) => PretrainError::Config(format!("{}: {m}", path.display())),
            other => other,
        })?;
        Ok(config)
    }

    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| PretrainError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// TOML text of this configuration.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self)
            .map_err(|e| PretrainError::Config(format!("cannot render config: {e}")))
    }

    /// Checks ranges and consistency.
    pub fn validate(&self) -> Result<()> {
        let err = |m: String| Err(PretrainError::Config(m));
        if self.data.corpus.is_empty() {
            return err("[data] corpus lists no file".into());
        }
        if self.data.held_out_every < 2 {
            return err(format!(
                "[data] held_out_every {} must be at least 2",
                self.data.held_out_every
            ));
        }
        self.instances.validate()?;
        let r = &self.run;
        if r.steps == 0 || r.batch_size == 0 || r.gradient_accumulation == 0 {
            return err(
                "[run] steps, batch_size and gradient_accumulation must be positive".into(),
            );
        }
        if r.log_every == 0 {
            return err("[run] log_every must be positive".into());
        }
        if r.precision.inference_only() {
            return err(format!(
                "[run] precision {} is for inference only (its quantisation has no gradient): \
                 pretrain in fp32, bf16 or fp16",
                r.precision
            ));
        }
        if !(r.clip_norm >= 0.0 && r.clip_norm.is_finite()) {
            return err(format!("[run] clip_norm {} must be >= 0", r.clip_norm));
        }
        let s = &self.schedule;
        if !(s.peak > 0.0 && s.peak.is_finite()) || s.total_steps == 0 {
            return err("[schedule] peak must be positive and total_steps at least 1".into());
        }
        if self.instances.max_seq_length > self.model.max_position_embeddings {
            return err(format!(
                "[instances] max_seq_length {} exceeds [model] max_position_embeddings {}",
                self.instances.max_seq_length, self.model.max_position_embeddings
            ));
        }
        if let Some(len) = self.data.eval_max_seq_length
            && !(5..=self.model.max_position_embeddings).contains(&len)
        {
            return err(format!(
                "[data] eval_max_seq_length {len} must be between 5 and [model] \
                 max_position_embeddings {}",
                self.model.max_position_embeddings
            ));
        }
        let o = &self.optimizer;
        if !(0.0..1.0).contains(&o.beta_1)
            || !(0.0..1.0).contains(&o.beta_2)
            || o.epsilon <= 0.0
            || o.weight_decay < 0.0
        {
            return err(
                "[optimizer] betas must be in [0, 1), epsilon positive, weight_decay >= 0".into(),
            );
        }
        SharingMode::parse(&self.model.sharing)
            .map_err(|e| PretrainError::Config(format!("[model] {e}")))?;
        Ok(())
    }

    /// The model's [`AlbertConfig`] for a vocabulary of `vocab_size`.
    pub fn albert_config(&self, vocab_size: usize) -> Result<AlbertConfig> {
        let m = &self.model;
        let config = AlbertConfig::new()
            .with_vocab_size(vocab_size)
            .with_embedding_size(m.embedding_size)
            .with_hidden_size(m.hidden_size)
            .with_num_hidden_layers(m.num_hidden_layers)
            .with_num_hidden_groups(m.num_hidden_groups)
            .with_inner_group_num(m.inner_group_num)
            .with_num_attention_heads(m.num_attention_heads)
            .with_intermediate_size(m.intermediate_size)
            .with_max_position_embeddings(m.max_position_embeddings)
            .with_sharing(SharingMode::parse(&m.sharing)?)
            .with_hidden_act(HiddenAct::GeluTanh)
            .with_hidden_dropout_prob(m.hidden_dropout_prob)
            .with_attention_probs_dropout_prob(m.attention_probs_dropout_prob)
            // The original's SOP output layer has no dropout (HF's head applies
            // classifier_dropout_prob; downstream heads keep HF's 0.1 default).
            .with_classifier_dropout_prob(0.0)
            .with_initializer_range(m.initializer_range);
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults_resolves_paths_and_rejects_bad_keys() {
        let p = Path::new("/runs/x/config.toml");
        let c = PretrainConfig::from_toml(
            "[data]\ncorpus = [\"c.txt\"]\ntokenizer = \"tok\"\neval_seed = 7\neval_max_seq_length = 32\n[instances]\nmax_seq_length = 64\n[run]\nsteps = 5\ninit = \"../m\"\n",
            p,
        )
        .expect("parse");
        assert_eq!(c.data.corpus, vec![PathBuf::from("/runs/x/c.txt")]);
        assert_eq!(c.run.init, Some(PathBuf::from("/runs/x/../m")));
        assert_eq!(c.instances.max_seq_length, 64);
        assert_eq!(c.run.steps, 5);
        assert_eq!(c.optimizer, LambConfig::default());
        assert_eq!(c.eval_instances().seed, 7);
        assert_eq!(c.eval_instances().max_seq_length, 32);
        assert_eq!(c.instances.seed, DataConfig::default().seed);
        let again = PretrainConfig::from_toml(
            &c.to_toml().expect("render"),
            Path::new("/elsewhere/c.toml"),
        )
        .expect("re-parse");
        assert_eq!(again.data.corpus, c.data.corpus, "absolute paths stay");
        assert_eq!(again.run.init, c.run.init);
        assert_eq!(again.data.eval_seed, Some(7));
        assert_eq!(again.data.eval_max_seq_length, Some(32));

        for (text, needle) in [
            (
                "[data]\ncorpus = [\"c\"]\ntokenizer = \"t\"\n[model]\nhiden_size = 3\n",
                "hiden_size",
            ),
            (
                "[data]\ncorpus = [\"c\"]\ntokenizer = \"t\"\n[run]\nsteps = 0\n",
                "steps",
            ),
            (
                "[data]\ncorpus = [\"c\"]\ntokenizer = \"t\"\n[instances]\nmasked_lm_prob = 1.5\n",
                "masked_lm_prob",
            ),
            (
                "[data]\ncorpus = [\"c\"]\ntokenizer = \"t\"\n[instances]\nngrams = 2\n",
                "ngrams",
            ),
            ("[data]\ncorpus = []\ntokenizer = \"t\"\n", "corpus"),
            ("[data]\ncorpus = [\"c\"]\n", "tokenizer is required"),
            (
                "[data]\ncorpus = [\"c\"]\ntokenizer = \"t\"\n[instances]\nmax_seq_length = 1024\n",
                "max_position_embeddings",
            ),
            (
                "[data]\ncorpus = [\"c\"]\ntokenizer = \"t\"\neval_max_seq_length = 4\n",
                "eval_max_seq_length",
            ),
            (
                "[data]\ncorpus = [\"c\"]\ntokenizer = \"t\"\neval_max_seq_length = 600\n",
                "eval_max_seq_length",
            ),
            (
                "[data]\ncorpus = [\"c\"]\ntokenizer = \"t\"\n[model]\nsharing = \"half\"\n",
                "sharing",
            ),
            (
                "[data]\ncorpus = [\"c\"]\ntokenizer = \"t\"\n[run]\nprecision = \"int8\"\n",
                "inference only",
            ),
            ("not toml [", "config.toml"),
        ] {
            let e = PretrainConfig::from_toml(text, p).unwrap_err().to_string();
            assert!(
                e.contains(needle) && e.contains("config.toml"),
                "{text}: {e}"
            );
        }
    }
}
