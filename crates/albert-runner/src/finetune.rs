//! `albert finetune` and `albert evaluate`: sequence classification and regression on
//! GLUE-style TSV files, token tagging on CoNLL-style files, multiple choice on RACE-style JSON
//! and SQuAD v1.1/v2.0 span extraction, each described once in albert-heads
//! ([`albert_heads::finetune::Task`]). A model directory holds `config.json`,
//! `model.safetensors` and the tokenizer (`spiece.model` or `tokenizer.json`): the pretraining
//! run's `model/`, a Hugging Face checkpoint, or a fine-tuned model written by `albert finetune`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use albert_core::checkpoint::MissingPolicy;
use albert_core::init::ParamInit;
use albert_core::{AlbertConfig, HfConfig};
use albert_heads::finetune::{
    self, FinetuneConfig, RunFiles, Start, Task, TaskModel, TaskRun, table14, write_json,
};
use albert_tokenizer::AlbertTokenizer;
use burn::module::Module;
use burn::tensor::Device;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, ValueEnum};

use crate::device::devices;
use crate::error::{Result, RunnerError};

/// `--task`: one of [`Task::NAMES`] (transformers' `sequence-classification` and
/// `token-classification` as aliases of classification and tagging).
pub(crate) fn task_parser() -> impl TypedValueParser<Value = Task> {
    PossibleValuesParser::new(Task::NAMES.map(|name| {
        let value = clap::builder::PossibleValue::new(name);
        match name {
            "classification" => value.alias("sequence-classification"),
            "tagging" => value.alias("token-classification"),
            _ => value,
        }
    }))
    .try_map(|name| name.parse::<Task>())
}

/// `--preset`: a row of the paper's Table 14 ([`finetune::PRESETS`]; `stsb`, `sst2` as aliases).
fn preset_parser() -> PossibleValuesParser {
    PossibleValuesParser::new(finetune::PRESETS.map(|p| {
        let value = clap::builder::PossibleValue::new(p);
        match p {
            "sts-b" => value.alias("stsb"),
            "sst-2" => value.alias("sst2"),
            _ => value,
        }
    }))
}

/// How the weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Init {
    /// From the model directory's weights (a new head where it has none).
    Pretrained,
    /// Fresh random weights of the same shape (the baseline of the results table).
    Random,
}

/// `albert finetune`: fine-tune a model directory on a task; writes the best model (HF
/// layout), metrics.jsonl, dev_predictions.jsonl and eval.json under --out.
#[derive(Debug, Clone, Args)]
pub struct FinetuneArgs {
    /// classification, regression, tagging, multiple-choice, squad1 or squad2.
    #[arg(long, value_parser = task_parser())]
    pub task: Task,
    /// Model directory: config.json (or albert_config.json), model.safetensors (or
    /// pytorch_model.bin, or a TF checkpoint model.ckpt-N), spiece.model / tokenizer.json.
    #[arg(long)]
    pub model: PathBuf,
    /// Training file: for classification/regression GLUE-style TSV, CSV (`.csv`) or JSON lines
    /// (`.jsonl`); CoNLL for tagging; RACE-style JSON for multiple-choice; SQuAD JSON for
    /// squad1/squad2.
    #[arg(long)]
    pub train: PathBuf,
    /// Dev file, evaluated after every epoch (or every --eval-steps steps).
    #[arg(long)]
    pub dev: PathBuf,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Defaults from the paper's Table 14 row: cola, sst-2, mrpc, sts-b, qqp, mnli, qnli, rte,
    /// wnli, squad1, squad2, race.
    #[arg(long, value_parser = preset_parser())]
    pub preset: Option<String>,
    /// Epochs (default 3).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Sequences per step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Peak learning rate of the task head (the layers outside the ALBERT body), on the same
    /// warmup and decay (default: --learning-rate). A fresh head on a pretrained body learns
    /// slowly at a body's rate.
    #[arg(long)]
    pub head_learning_rate: Option<f64>,
    /// Tokens per sequence (default 128; presets use the paper's 512).
    #[arg(long)]
    pub max_seq_length: Option<usize>,
    /// pretrained (the directory's weights) or random (same shapes, fresh weights).
    #[arg(long, value_enum, default_value = "pretrained")]
    pub init: Init,
    /// Share of the steps spent warming the learning rate up (then linear decay to 0).
    #[arg(long)]
    pub warmup_ratio: Option<f64>,
    /// AdamW weight decay (never on LayerNorm parameters and biases).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Clip the gradients' global norm to this (0 disables).
    #[arg(long)]
    pub max_grad_norm: Option<f64>,
    /// Dropout before the classifier / span / tagging head.
    #[arg(long)]
    pub classifier_dropout: Option<f64>,
    /// Batches of --batch-size whose gradients are summed before each optimiser step.
    #[arg(long)]
    pub gradient_accumulation_steps: Option<usize>,
    /// Evaluate on --dev (keeping the best model and writing a checkpoint) every N optimiser
    /// steps and at the end, instead of after every epoch.
    #[arg(long)]
    pub eval_steps: Option<u64>,
    /// Stop after N evaluations in a row without a better main metric.
    #[arg(long)]
    pub early_stopping_patience: Option<usize>,
    /// Continue the run in --out from its newest checkpoint that verifies (same settings).
    #[arg(long)]
    pub resume: bool,
    /// Seed of the data order, dropout and fresh parameters.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where and in which precision the model runs.
    #[command(flatten)]
    pub on: crate::device::DeviceArgs,
}

/// `albert evaluate`: score a fine-tuned model directory on a labelled file; prints the metrics
/// and writes them as one flat JSON object to --out.
#[derive(Debug, Clone, Args)]
pub struct EvaluateArgs {
    /// classification, regression, tagging, multiple-choice, squad1 or squad2.
    #[arg(long, value_parser = task_parser())]
    pub task: Task,
    /// Model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Labelled data (as --train of `albert finetune`: TSV, CSV or JSON lines for
    /// classification/regression; CoNLL; RACE-style JSON; SQuAD JSON).
    #[arg(long)]
    pub data: PathBuf,
    /// Metrics JSON to write.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Sequences per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 128)]
    pub max_seq_length: usize,
    /// Where and in which precision the model runs.
    #[command(flatten)]
    pub on: crate::device::DeviceArgs,
}

/// The files of a model directory.
pub(crate) struct ModelDir {
    pub(crate) hf: HfConfig,
    pub(crate) config_path: PathBuf,
    pub(crate) weights: PathBuf,
    pub(crate) tokenizer: AlbertTokenizer,
    pub(crate) tokenizer_files: Vec<PathBuf>,
}

/// A model directory's files: `config.json` (or the original `albert_config.json`), the
/// weights as `model.safetensors`, `pytorch_model.bin` or a TF1 checkpoint
/// ([`albert_core::checkpoint::model_files`]), and the tokenizer. `dir` may be a hub name
/// ([`crate::hub::resolve_model`]).
pub(crate) fn model_dir(dir: &Path) -> Result<ModelDir> {
    // A hub name (ORG/NAME[@REVISION]) becomes its snapshot directory in the cache.
    let resolved = crate::hub::resolve_model(dir)?;
    let dir = resolved.as_path();
    let (config, weights) =
        albert_core::checkpoint::model_files(dir).map_err(|e| RunnerError::BadFile {
            path: dir.to_path_buf(),
            message: match e {
                albert_core::AlbertError::CorruptCheckpoint { message, .. } => message,
                other => other.to_string(),
            },
        })?;
    let hf = HfConfig::from_file(&config)?;
    let tokenizer = AlbertTokenizer::from_path(dir).map_err(|e| RunnerError::BadFile {
        path: dir.to_path_buf(),
        message: format!("no usable tokenizer (spiece.model or tokenizer.json): {e}"),
    })?;
    let tokenizer_files = ["spiece.model", "tokenizer.json", "tokenizer_config.json"]
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect();
    Ok(ModelDir {
        hf,
        config_path: config,
        weights,
        tokenizer,
        tokenizer_files,
    })
}

/// The model `build` makes from the directory's config, with the directory's weights loaded
/// (`policy`: which parameters may be missing; [`albert_heads::finetune::load_model`]).
pub(crate) fn load_model<M: Module>(
    dir: &ModelDir,
    device: &Device,
    build: impl FnOnce(&AlbertConfig, &mut ParamInit, &Device) -> M,
    policy: MissingPolicy,
) -> Result<M> {
    let weights = std::slice::from_ref(&dir.weights);
    Ok(finetune::load_model(
        &dir.hf.config,
        weights,
        device,
        build,
        policy,
    )?)
}

pub(crate) fn first_device(name: &str) -> Result<Device> {
    devices(name)?
        .into_iter()
        .next()
        .ok_or_else(|| RunnerError::Usage("no device".into()))
}

/// The preset (or default) settings with the command line's overrides.
fn settings(args: &FinetuneArgs, max_positions: usize) -> Result<FinetuneConfig> {
    let mut config = match &args.preset {
        Some(p) => table14(p).ok_or_else(|| {
            RunnerError::Usage(format!(
                "unknown --preset {p:?} (a GLUE task, squad1/2 or race)"
            ))
        })?,
        None => FinetuneConfig::default(),
    };
    if let Some(v) = args.epochs {
        config.epochs = v;
    }
    if let Some(v) = args.batch_size {
        config.batch_size = v;
    }
    if let Some(v) = args.learning_rate {
        config.learning_rate = v;
    }
    if let Some(v) = args.head_learning_rate {
        config.head_learning_rate = Some(v);
    }
    if let Some(v) = args.max_seq_length {
        config.max_seq_length = v;
    }
    if let Some(v) = args.seed {
        config.seed = v;
    }
    if let Some(v) = args.warmup_ratio {
        config.warmup_ratio = v;
    }
    if let Some(v) = args.weight_decay {
        config.weight_decay = v;
    }
    if let Some(v) = args.max_grad_norm {
        config.max_grad_norm = v;
    }
    if let Some(v) = args.classifier_dropout {
        config.classifier_dropout = v;
    }
    if let Some(v) = args.gradient_accumulation_steps {
        config.gradient_accumulation_steps = v;
    }
    if let Some(v) = args.eval_steps {
        config.eval_steps = v;
    }
    if let Some(v) = args.early_stopping_patience {
        config.early_stopping_patience = v;
    }
    config.max_seq_length = config.max_seq_length.min(max_positions);
    Ok(config)
}

impl FinetuneArgs {
    /// Runs `albert finetune`.
    pub fn run(&self) -> Result<()> {
        if self.on.precision.inference_only() {
            return Err(RunnerError::Usage(format!(
                "--precision {} is for inference only (its quantisation has no gradient): \
                 fine-tune in fp32, bf16 or fp16, then run the fine-tuned model with \
                 --precision {}",
                self.on.precision, self.on.precision
            )));
        }
        let _precision = albert_core::precision::autocast(self.on.precision);
        let dir = model_dir(&self.model)?;
        let device = first_device(&self.on.device)?;
        let config = settings(self, dir.hf.config.max_position_embeddings)?;
        let main_metric = self.task.main_metric(self.preset.as_deref());
        let run = TaskRun {
            hf: &dir.hf,
            tokenizer: &dir.tokenizer,
            start: match self.init {
                Init::Pretrained => Start::Pretrained(&dir.weights),
                Init::Random => Start::Random,
            },
            train: &self.train,
            dev: &self.dev,
            config: &config,
            main_metric,
            files: RunFiles {
                out: &self.out,
                tokenizer_files: &dir.tokenizer_files,
                progress: true,
                resume: self.resume,
            },
            device: &device,
        };
        let summary = self.task.finetune(&run)?;
        eprintln!(
            "best at step {} (epoch {}, {main_metric} {:.4}){}; model: {}; metrics: {}",
            summary.best.step,
            summary.best.epoch,
            summary
                .best
                .metrics
                .get(main_metric)
                .copied()
                .unwrap_or(f64::NAN),
            if summary.stopped_early {
                ", stopped early"
            } else {
                ""
            },
            summary.model_dir.display(),
            self.out.join("metrics.jsonl").display()
        );
        Ok(())
    }
}

impl EvaluateArgs {
    /// Runs `albert evaluate`: prints the metrics and returns them (written as one flat JSON
    /// object to `--out` when given).
    pub fn run(&self) -> Result<BTreeMap<String, f64>> {
        let _precision = albert_core::precision::autocast(self.on.precision);
        let dir = model_dir(&self.model)?;
        let device = first_device(&self.on.device)?;
        let model = TaskModel {
            hf: &dir.hf,
            weights: std::slice::from_ref(&dir.weights),
            tokenizer: &dir.tokenizer,
            config_path: &dir.config_path,
        };
        let metrics = self.task.evaluate(
            &model,
            &self.data,
            self.batch_size,
            self.max_seq_length,
            &device,
            true,
        )?;
        for (k, v) in &metrics {
            println!("{k}: {v:.4}");
        }
        if let Some(path) = &self.out {
            write_json(path, &serde_json::to_value(&metrics).unwrap_or_default())?;
        }
        Ok(metrics)
    }
}
