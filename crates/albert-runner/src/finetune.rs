//! `albert finetune` and `albert evaluate` for sequence classification and regression on
//! GLUE-style TSV files. A model directory holds `config.json`, `model.safetensors` and the
//! tokenizer (`spiece.model` or `tokenizer.json`): the pretraining run's `model/`, a Hugging
//! Face checkpoint, or a fine-tuned model written by `albert finetune`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use albert_core::HfConfig;
use albert_core::checkpoint::{MissingPolicy, load_hf};
use albert_core::init::ParamInit;
use albert_heads::AlbertForSequenceClassification;
use albert_heads::finetune::seqcls::{self, SeqCls};
use albert_heads::finetune::{FinetuneConfig, table14, write_json};
use albert_heads::finetune::{RunFiles, finetune as run_finetune};
use albert_heads::tasks::tsv::read_tsv;
use albert_tokenizer::AlbertTokenizer;
use clap::ValueEnum;

use crate::device::devices;
use crate::error::{Result, RunnerError};

/// The tasks `finetune` / `evaluate` handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Task {
    /// Text or text-pair classification (GLUE-style TSV with a class label).
    Classification,
    /// Text-pair regression (STS-B-style TSV with a `score`).
    Regression,
}

/// How the weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Init {
    /// From the model directory's weights (a new head where it has none).
    Pretrained,
    /// Fresh random weights of the same shape (the baseline of the results table).
    Random,
}

/// Command-line settings of `albert finetune`.
#[derive(Debug, Clone)]
pub struct FinetuneArgs {
    /// The task.
    pub task: Task,
    /// Model directory.
    pub model: PathBuf,
    /// Training file.
    pub train: PathBuf,
    /// Dev file.
    pub dev: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// A Table 14 row (`sst-2`, `mrpc`, …) for the defaults.
    pub preset: Option<String>,
    /// Overrides.
    pub epochs: Option<usize>,
    /// Overrides.
    pub batch_size: Option<usize>,
    /// Overrides.
    pub learning_rate: Option<f64>,
    /// Overrides.
    pub max_seq_length: Option<usize>,
    /// Weights.
    pub init: Init,
    /// Device.
    pub device: String,
    /// Seed.
    pub seed: Option<u64>,
}

/// The files of a model directory.
struct ModelDir {
    hf: HfConfig,
    weights: PathBuf,
    tokenizer: AlbertTokenizer,
    tokenizer_files: Vec<PathBuf>,
}

fn model_dir(dir: &Path) -> Result<ModelDir> {
    let config = dir.join("config.json");
    let weights = dir.join("model.safetensors");
    for f in [&config, &weights] {
        if !f.is_file() {
            return Err(RunnerError::BadFile {
                path: dir.to_path_buf(),
                message: format!(
                    "not a model directory: {} is missing",
                    f.file_name().and_then(|n| n.to_str()).unwrap_or("?")
                ),
            });
        }
    }
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
        weights,
        tokenizer,
        tokenizer_files,
    })
}

fn is_seqcls(hf: &HfConfig) -> bool {
    hf.architectures
        .iter()
        .any(|a| a == "AlbertForSequenceClassification")
}

/// Runs `albert finetune`.
pub fn finetune(args: &FinetuneArgs) -> Result<()> {
    let dir = model_dir(&args.model)?;
    let device = devices(&args.device)?
        .into_iter()
        .next()
        .ok_or_else(|| RunnerError::Usage("no device".into()))?;
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
    if let Some(v) = args.max_seq_length {
        config.max_seq_length = v;
    }
    if let Some(v) = args.seed {
        config.seed = v;
    }
    let max_len = config
        .max_seq_length
        .min(dir.hf.config.max_position_embeddings);
    config.max_seq_length = max_len;

    let train_rows = read_tsv(&args.train)?;
    let dev_rows = read_tsv(&args.dev)?;
    let mut hf = dir.hf.clone();
    let labels: Vec<String> = match args.task {
        Task::Regression => Vec::new(),
        Task::Classification => match (&hf.config.labels, is_seqcls(&hf)) {
            (Some(l), true) => l.clone(),
            _ => seqcls::label_set(&train_rows),
        },
    };
    if args.task == Task::Classification && labels.len() < 2 {
        return Err(RunnerError::BadFile {
            path: args.train.clone(),
            message: format!("classification needs at least 2 labels, found {labels:?}"),
        });
    }
    let n_out = labels.len().max(1);
    hf.config.labels = Some(if labels.is_empty() {
        vec!["LABEL_0".into()]
    } else {
        labels.clone()
    });
    hf.config.classifier_dropout_prob = config.classifier_dropout;
    hf.architectures = vec!["AlbertForSequenceClassification".into()];
    let pad = dir.tokenizer.special_ids().pad;
    let train = seqcls::encode(&dir.tokenizer, &train_rows, &labels, max_len, &args.train)?;
    let dev = seqcls::encode(&dir.tokenizer, &dev_rows, &labels, max_len, &args.dev)?;
    let fresh = AlbertForSequenceClassification::new(
        &hf.config,
        n_out,
        &mut ParamInit::new(config.seed, hf.config.initializer_range),
        &device,
    );
    let model = match args.init {
        Init::Random => fresh,
        Init::Pretrained => {
            let (m, report) = load_hf(
                fresh,
                std::slice::from_ref(&dir.weights),
                MissingPolicy::InitializeHeads,
            )?;
            eprint!("{report}");
            m
        }
    };
    eprintln!(
        "fine-tuning on {} examples ({} dev), {} labels, {} epochs of batch {}, lr {:e}, max {} tokens",
        train.inputs.len(),
        dev.inputs.len(),
        n_out,
        config.epochs,
        config.batch_size,
        config.learning_rate,
        max_len
    );
    let main_metric = match args.task {
        Task::Classification if args.preset.as_deref() == Some("cola") => "mcc",
        Task::Classification => "accuracy",
        Task::Regression => "pearson",
    };
    let files = RunFiles {
        out: &args.out,
        tokenizer_files: &dir.tokenizer_files,
        progress: true,
    };
    let summary = run_finetune::<SeqCls>(
        model,
        &hf,
        &train,
        &dev,
        pad,
        &config,
        main_metric,
        &files,
        &device,
    )?;
    eprintln!(
        "best epoch {} ({main_metric} {:.4}); model: {}; metrics: {}",
        summary.best.0,
        summary.best.1.get(main_metric).copied().unwrap_or(f64::NAN),
        summary.model_dir.display(),
        args.out.join("metrics.jsonl").display()
    );
    Ok(())
}

/// Runs `albert evaluate`: prints the metrics and returns them (written as one flat JSON object
/// to `out` when given).
pub fn evaluate(
    task: Task,
    model: &Path,
    data: &Path,
    out: Option<&Path>,
    batch_size: usize,
    max_seq_length: usize,
    device_name: &str,
) -> Result<BTreeMap<String, f64>> {
    let dir = model_dir(model)?;
    let device = devices(device_name)?
        .into_iter()
        .next()
        .ok_or_else(|| RunnerError::Usage("no device".into()))?;
    let labels = match (task, &dir.hf.config.labels) {
        (Task::Regression, _) => Vec::new(),
        (Task::Classification, Some(l)) if l.len() >= 2 => l.clone(),
        (Task::Classification, _) => {
            return Err(RunnerError::BadFile {
                path: model.join("config.json"),
                message: "a classifier needs its label names (id2label) in config.json".into(),
            });
        }
    };
    let n_out = labels.len().max(1);
    let fresh = AlbertForSequenceClassification::new(
        &dir.hf.config,
        n_out,
        &mut ParamInit::new(0, dir.hf.config.initializer_range),
        &device,
    );
    let (m, _) = load_hf(
        fresh,
        std::slice::from_ref(&dir.weights),
        MissingPolicy::Error,
    )?;
    let rows = read_tsv(data)?;
    let max_len = max_seq_length.min(dir.hf.config.max_position_embeddings);
    let encoded = seqcls::encode(&dir.tokenizer, &rows, &labels, max_len, data)?;
    let pad = dir.tokenizer.special_ids().pad;
    let preds = seqcls::predict(&m, &dir.hf.config, &encoded, batch_size, pad, &device)?;
    let metrics = seqcls::score(&encoded.targets, &preds, &labels);
    for (k, v) in &metrics {
        println!("{k}: {v:.4}");
    }
    if let Some(path) = out {
        write_json(path, &serde_json::to_value(&metrics).unwrap_or_default())?;
    }
    Ok(metrics)
}
