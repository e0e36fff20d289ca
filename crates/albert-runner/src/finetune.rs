//! `albert finetune` and `albert evaluate` for sequence classification and regression on
//! GLUE-style TSV files, token tagging on CoNLL-style files, multiple choice on RACE-style JSON
//! and SQuAD v1.1/v2.0 span extraction. A model directory holds `config.json`,
//! `model.safetensors` and the tokenizer (`spiece.model` or `tokenizer.json`): the pretraining
//! run's `model/`, a Hugging Face checkpoint, or a fine-tuned model written by `albert finetune`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use albert_core::checkpoint::{MissingPolicy, load_hf};
use albert_core::init::ParamInit;
use albert_core::{AlbertConfig, HfConfig};
use albert_heads::features::qa::{QaDecodeConfig, QaWindowConfig, qa_features};
use albert_heads::finetune::choice::{self, MultipleChoice};
use albert_heads::finetune::qa::{QaData, SpanQa};
use albert_heads::finetune::seqcls::{self, SeqCls};
use albert_heads::finetune::tagging::{self, Tagging};
use albert_heads::finetune::{
    FinetuneConfig, FinetuneTask, RunFiles, finetune as run_finetune, table14, write_json,
};
use albert_heads::tasks::conll::read_conll;
use albert_heads::tasks::race::read_race;
use albert_heads::tasks::squad::read_squad;
use albert_heads::tasks::tsv::read_tsv;
use albert_heads::{
    AlbertForMultipleChoice, AlbertForQuestionAnswering, AlbertForSequenceClassification,
    AlbertForTokenClassification,
};
use albert_tokenizer::AlbertTokenizer;
use burn::module::Module;
use burn::tensor::Device;
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
    /// Token tagging (CoNLL-style `token<TAB>tag` files).
    Tagging,
    /// Multiple choice (RACE-style JSON, any number of options).
    MultipleChoice,
    /// SQuAD v1.1 span extraction.
    Squad1,
    /// SQuAD v2.0 span extraction with unanswerable questions.
    Squad2,
}

/// SQuAD windows for `max_len` tokens: the paper's stride 128 and question cap 64, scaled down
/// for short sequences.
pub(crate) fn qa_data(
    tokenizer: &AlbertTokenizer,
    path: &Path,
    max_len: usize,
    version_2: bool,
) -> Result<QaData> {
    let examples = read_squad(path)?;
    let window = QaWindowConfig {
        max_seq_length: max_len,
        doc_stride: 128.min(max_len / 3).max(1),
        max_query_length: 64.min(max_len / 3).max(1),
    };
    let features = qa_features(tokenizer, &examples, &window)?;
    Ok(QaData {
        examples,
        features,
        decode: QaDecodeConfig {
            version_2,
            ..QaDecodeConfig::default()
        },
    })
}

const SEQCLS: &str = "AlbertForSequenceClassification";
const TOKCLS: &str = "AlbertForTokenClassification";
const CHOICE: &str = "AlbertForMultipleChoice";
const QA: &str = "AlbertForQuestionAnswering";

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
pub(crate) struct ModelDir {
    pub(crate) hf: HfConfig,
    pub(crate) weights: PathBuf,
    pub(crate) tokenizer: AlbertTokenizer,
    pub(crate) tokenizer_files: Vec<PathBuf>,
}

pub(crate) fn model_dir(dir: &Path) -> Result<ModelDir> {
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

fn has_architecture(hf: &HfConfig, name: &str) -> bool {
    hf.architectures.iter().any(|a| a == name)
}

/// The model `build` makes from the directory's config, with the directory's weights loaded
/// (every tensor required).
pub(crate) fn load_model<M: Module>(
    dir: &ModelDir,
    device: &Device,
    build: impl FnOnce(&AlbertConfig, &mut ParamInit, &Device) -> M,
) -> Result<M> {
    let config = &dir.hf.config;
    let fresh = build(
        config,
        &mut ParamInit::new(0, config.initializer_range),
        device,
    );
    let (model, _) = load_hf(
        fresh,
        std::slice::from_ref(&dir.weights),
        MissingPolicy::Error,
    )?;
    Ok(model)
}

/// Loads `T`'s model from `dir`, predicts over `data` and scores it.
fn score_with<T: FinetuneTask>(
    model: T::Model,
    dir: &ModelDir,
    data: &T::Data,
    labels: &[String],
    batch_size: usize,
    device: &Device,
) -> Result<BTreeMap<String, f64>> {
    let pad = dir.tokenizer.special_ids().pad;
    let preds = T::predict(&model, &dir.hf.config, data, batch_size, pad, device)?;
    Ok(T::score(data, &preds, labels))
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
    if let Some(v) = args.max_seq_length {
        config.max_seq_length = v;
    }
    if let Some(v) = args.seed {
        config.seed = v;
    }
    config.max_seq_length = config.max_seq_length.min(max_positions);
    Ok(config)
}

/// `fresh` as it is (random init) or with the directory's weights loaded over it (a new head
/// where the checkpoint has none).
fn initial<M: Module>(fresh: M, init: Init, weights: &Path) -> Result<M> {
    Ok(match init {
        Init::Random => fresh,
        Init::Pretrained => {
            let (m, report) = load_hf(
                fresh,
                &[weights.to_path_buf()],
                MissingPolicy::InitializeHeads,
            )?;
            eprint!("{report}");
            m
        }
    })
}

/// What every task's fine-tuning run shares.
struct RunContext<'a> {
    args: &'a FinetuneArgs,
    dir: &'a ModelDir,
    config: &'a FinetuneConfig,
    device: &'a Device,
}

/// Builds `T`'s model with `build` (from `hf`, seeded by the run), loads the directory's
/// weights unless `--init random`, runs the loop and reports where everything went.
fn train<T: FinetuneTask>(
    ctx: &RunContext<'_>,
    hf: &HfConfig,
    build: impl FnOnce(&AlbertConfig, &mut ParamInit, &Device) -> T::Model,
    train: &T::Data,
    dev: &T::Data,
    main_metric: &str,
) -> Result<()> {
    let RunContext {
        args,
        dir,
        config,
        device,
    } = *ctx;
    let out = args.out.as_path();
    let mut init = ParamInit::new(config.seed, hf.config.initializer_range);
    let model = initial(
        build(&hf.config, &mut init, device),
        args.init,
        &dir.weights,
    )?;
    eprintln!(
        "fine-tuning on {} examples ({} dev), {} epochs of batch {}, lr {:e}, max {} tokens",
        T::len(train),
        T::len(dev),
        config.epochs,
        config.batch_size,
        config.learning_rate,
        config.max_seq_length
    );
    let files = RunFiles {
        out,
        tokenizer_files: &dir.tokenizer_files,
        progress: true,
    };
    let pad = dir.tokenizer.special_ids().pad;
    let summary = run_finetune::<T>(
        model,
        hf,
        train,
        dev,
        pad,
        config,
        main_metric,
        &files,
        device,
    )?;
    eprintln!(
        "best epoch {} ({main_metric} {:.4}); model: {}; metrics: {}",
        summary.best.0,
        summary.best.1.get(main_metric).copied().unwrap_or(f64::NAN),
        summary.model_dir.display(),
        out.join("metrics.jsonl").display()
    );
    Ok(())
}

/// Runs `albert finetune`.
pub fn finetune(args: &FinetuneArgs) -> Result<()> {
    let dir = model_dir(&args.model)?;
    let device = first_device(&args.device)?;
    let config = settings(args, dir.hf.config.max_position_embeddings)?;
    let max_len = config.max_seq_length;
    let mut hf = dir.hf.clone();
    hf.config.classifier_dropout_prob = config.classifier_dropout;
    let ctx = RunContext {
        args,
        dir: &dir,
        config: &config,
        device: &device,
    };
    match args.task {
        Task::Classification | Task::Regression => {
            let train_rows = read_tsv(&args.train)?;
            let dev_rows = read_tsv(&args.dev)?;
            let labels: Vec<String> = match args.task {
                Task::Classification => match &hf.config.labels {
                    Some(l) if has_architecture(&hf, SEQCLS) => l.clone(),
                    _ => seqcls::label_set(&train_rows),
                },
                _ => Vec::new(),
            };
            if args.task == Task::Classification && labels.len() < 2 {
                return Err(RunnerError::BadFile {
                    path: args.train.clone(),
                    message: format!("classification needs at least 2 labels, found {labels:?}"),
                });
            }
            hf.config.labels = Some(if labels.is_empty() {
                vec!["LABEL_0".into()]
            } else {
                labels.clone()
            });
            hf.architectures = vec![SEQCLS.into()];
            let train_data =
                seqcls::encode(&dir.tokenizer, &train_rows, &labels, max_len, &args.train)?;
            let dev_data = seqcls::encode(&dir.tokenizer, &dev_rows, &labels, max_len, &args.dev)?;
            let n = labels.len().max(1);
            let main_metric = match args.task {
                Task::Regression => "pearson",
                _ if args.preset.as_deref() == Some("cola") => "mcc",
                _ => "accuracy",
            };
            train::<SeqCls>(
                &ctx,
                &hf,
                |c, i, d| AlbertForSequenceClassification::new(c, n, i, d),
                &train_data,
                &dev_data,
                main_metric,
            )
        }
        Task::Tagging => {
            let train_sentences = read_conll(&args.train)?;
            let dev_sentences = read_conll(&args.dev)?;
            let (mut tags, most) = tagging::tag_set(&train_sentences);
            if let Some(l) = &hf.config.labels
                && has_architecture(&hf, TOKCLS)
            {
                tags = l.clone();
            }
            hf.config.labels = Some(tags.clone());
            hf.architectures = vec![TOKCLS.into()];
            let train_data = tagging::encode(
                &dir.tokenizer,
                &train_sentences,
                &tags,
                &most,
                max_len,
                &args.train,
            )?;
            let dev_data = tagging::encode(
                &dir.tokenizer,
                &dev_sentences,
                &tags,
                &most,
                max_len,
                &args.dev,
            )?;
            let n = tags.len();
            train::<Tagging>(
                &ctx,
                &hf,
                |c, i, d| AlbertForTokenClassification::new(c, n, i, d),
                &train_data,
                &dev_data,
                "accuracy",
            )
        }
        Task::MultipleChoice => {
            let train_data = choice::encode(
                &dir.tokenizer,
                &read_race(&args.train)?,
                max_len,
                &args.train,
            )?;
            let dev_data =
                choice::encode(&dir.tokenizer, &read_race(&args.dev)?, max_len, &args.dev)?;
            hf.config.labels = None;
            hf.architectures = vec![CHOICE.into()];
            train::<MultipleChoice>(
                &ctx,
                &hf,
                AlbertForMultipleChoice::new,
                &train_data,
                &dev_data,
                "accuracy",
            )
        }
        Task::Squad1 | Task::Squad2 => {
            let v2 = args.task == Task::Squad2;
            let train_data = qa_data(&dir.tokenizer, &args.train, max_len, v2)?;
            let dev_data = qa_data(&dir.tokenizer, &args.dev, max_len, v2)?;
            hf.config.labels = None;
            hf.architectures = vec![QA.into()];
            train::<SpanQa>(
                &ctx,
                &hf,
                AlbertForQuestionAnswering::new,
                &train_data,
                &dev_data,
                "f1",
            )
        }
    }
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
    let device = first_device(device_name)?;
    let config = &dir.hf.config;
    let labels = match (task, &config.labels) {
        (Task::Regression | Task::MultipleChoice | Task::Squad1 | Task::Squad2, _) => Vec::new(),
        (_, Some(l)) if l.len() >= 2 => l.clone(),
        _ => {
            return Err(RunnerError::BadFile {
                path: model.join("config.json"),
                message: "a classifier needs its label names (id2label) in config.json".into(),
            });
        }
    };
    let max_len = max_seq_length.min(config.max_position_embeddings);
    let (tok, n) = (&dir.tokenizer, labels.len());
    let metrics = match task {
        Task::Classification | Task::Regression => {
            let m = load_model(&dir, &device, |c, i, d| {
                AlbertForSequenceClassification::new(c, n.max(1), i, d)
            })?;
            let encoded = seqcls::encode(tok, &read_tsv(data)?, &labels, max_len, data)?;
            score_with::<SeqCls>(m, &dir, &encoded, &labels, batch_size, &device)?
        }
        Task::Tagging => {
            let m = load_model(&dir, &device, |c, i, d| {
                AlbertForTokenClassification::new(c, n, i, d)
            })?;
            let fallback = labels.first().cloned().unwrap_or_default();
            let sentences = read_conll(data)?;
            let encoded = tagging::encode(tok, &sentences, &labels, &fallback, max_len, data)?;
            score_with::<Tagging>(m, &dir, &encoded, &labels, batch_size, &device)?
        }
        Task::MultipleChoice => {
            let m = load_model(&dir, &device, AlbertForMultipleChoice::new)?;
            let encoded = choice::encode(tok, &read_race(data)?, max_len, data)?;
            score_with::<MultipleChoice>(m, &dir, &encoded, &labels, batch_size, &device)?
        }
        Task::Squad1 | Task::Squad2 => {
            let m = load_model(&dir, &device, AlbertForQuestionAnswering::new)?;
            let encoded = qa_data(tok, data, max_len, task == Task::Squad2)?;
            score_with::<SpanQa>(m, &dir, &encoded, &labels, batch_size, &device)?
        }
    };
    for (k, v) in &metrics {
        println!("{k}: {v:.4}");
    }
    if let Some(path) = out {
        write_json(path, &serde_json::to_value(&metrics).unwrap_or_default())?;
    }
    Ok(metrics)
}
