//! The fine-tuning tasks, each described once: how its files are read and encoded, which head
//! it trains, how its labels are chosen, its metrics and main metric, and the Hugging Face
//! architecture its model is saved as. `albert finetune` and `albert evaluate` call
//! [`Task::finetune`] and [`Task::evaluate`] and never match on the task themselves.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use albert_core::checkpoint::{MissingPolicy, load_hf};
use albert_core::init::ParamInit;
use albert_core::{AlbertConfig, HfConfig};
use albert_tokenizer::AlbertTokenizer;
use burn::module::Module;
use burn::tensor::Device;

use super::choice::{self, MultipleChoice};
use super::qa::{QaData, SpanQa};
use super::seqcls::{self, SeqCls};
use super::tagging::{self, Tagging};
use super::{FinetuneConfig, FinetuneSummary, FinetuneTask, RunFiles, finetune};
use crate::error::{HeadsError, Result};
use crate::features::qa::{QaDecodeConfig, QaWindowConfig, qa_features};
use crate::progress::Progress;
use crate::tasks::conll::read_conll;
use crate::tasks::race::read_race;
use crate::tasks::squad::{SquadExample, read_squad};
use crate::tasks::table::read_examples;
use crate::{
    AlbertForMultipleChoice, AlbertForQuestionAnswering, AlbertForSequenceClassification,
    AlbertForTokenClassification,
};

/// A fine-tuning task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// Where the weights of a fine-tuning run start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start<'a> {
    /// From this checkpoint (a new head where it has none; the load report goes to stderr).
    Pretrained(&'a Path),
    /// Fresh random weights of the same shape (the baseline of a results table).
    Random,
}

/// A fine-tuning run of a [`Task`].
#[derive(Debug, Clone)]
pub struct TaskRun<'a> {
    /// The model directory's config (its labels and architecture are reused where they fit).
    pub hf: &'a HfConfig,
    /// The model directory's tokenizer.
    pub tokenizer: &'a AlbertTokenizer,
    /// Where the weights start.
    pub start: Start<'a>,
    /// Training file.
    pub train: &'a Path,
    /// Dev file, scored after every epoch (or every `config.eval_steps`).
    pub dev: &'a Path,
    /// Training settings (`max_seq_length` already capped by the model's positions).
    pub config: &'a FinetuneConfig,
    /// The metric that picks the best evaluation ([`Task::main_metric`] unless chosen otherwise).
    pub main_metric: &'a str,
    /// Where the run's files go.
    pub files: RunFiles<'a>,
    /// The device to train on (its autodiff twin is used for training).
    pub device: &'a Device,
}

/// A fine-tuned model to score with [`Task::evaluate`].
#[derive(Debug, Clone)]
pub struct TaskModel<'a> {
    /// Its config (with the label names of a classifier or tagger).
    pub hf: &'a HfConfig,
    /// Its weights (every tensor of the task's head required).
    pub weights: &'a [PathBuf],
    /// Its tokenizer.
    pub tokenizer: &'a AlbertTokenizer,
    /// The config file, named in errors about the labels.
    pub config_path: &'a Path,
}

impl Task {
    /// Every task, in the order of [`Task::NAMES`].
    pub const ALL: [Task; 6] = [
        Task::Classification,
        Task::Regression,
        Task::Tagging,
        Task::MultipleChoice,
        Task::Squad1,
        Task::Squad2,
    ];
    /// The tasks' names, as the command line spells them.
    pub const NAMES: [&'static str; 6] = [
        "classification",
        "regression",
        "tagging",
        "multiple-choice",
        "squad1",
        "squad2",
    ];

    /// The name the command line uses.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The Hugging Face architecture the fine-tuned model is saved as.
    pub fn architecture(self) -> &'static str {
        match self {
            Task::Classification | Task::Regression => "AlbertForSequenceClassification",
            Task::Tagging => "AlbertForTokenClassification",
            Task::MultipleChoice => "AlbertForMultipleChoice",
            Task::Squad1 | Task::Squad2 => "AlbertForQuestionAnswering",
        }
    }

    /// The dev metric that picks the best evaluation: Pearson's r for regression, F1 for SQuAD,
    /// Matthews' correlation for CoLA (`preset` `cola`, as GLUE scores it), accuracy otherwise.
    pub fn main_metric(self, preset: Option<&str>) -> &'static str {
        match self {
            Task::Regression => "pearson",
            Task::Squad1 | Task::Squad2 => "f1",
            Task::Classification if preset == Some("cola") => "mcc",
            _ => "accuracy",
        }
    }

    /// Reads `run.train` and `run.dev`, chooses the labels, builds the task's head on the body
    /// (loading the starting weights) and fine-tunes it ([`finetune`]).
    pub fn finetune(self, run: &TaskRun<'_>) -> Result<FinetuneSummary> {
        let max_len = run.config.max_seq_length;
        let tok = run.tokenizer;
        let mut hf = run.hf.clone();
        hf.config.classifier_dropout_prob = run.config.classifier_dropout;
        let reused_labels = hf
            .config
            .labels
            .clone()
            .filter(|_| hf.architectures.iter().any(|a| a == self.architecture()));
        hf.architectures = vec![self.architecture().into()];
        match self {
            Task::Classification | Task::Regression => {
                let (train_rows, dev_rows) = (read_examples(run.train)?, read_examples(run.dev)?);
                let labels = match self {
                    Task::Classification => {
                        reused_labels.unwrap_or_else(|| seqcls::label_set(&train_rows))
                    }
                    _ => Vec::new(),
                };
                if self == Task::Classification && labels.len() < 2 {
                    return Err(HeadsError::data(
                        run.train,
                        None,
                        format!("classification needs at least 2 labels, found {labels:?}"),
                    ));
                }
                hf.config.labels = Some(if labels.is_empty() {
                    vec!["LABEL_0".into()]
                } else {
                    labels.clone()
                });
                let train = seqcls::encode(tok, &train_rows, &labels, max_len, run.train)?;
                let dev = seqcls::encode(tok, &dev_rows, &labels, max_len, run.dev)?;
                let n = labels.len().max(1);
                train_task::<SeqCls>(run, &hf, &train, &dev, |c, i, d| {
                    AlbertForSequenceClassification::new(c, n, i, d)
                })
            }
            Task::Tagging => {
                let (train_sentences, dev_sentences) =
                    (read_conll(run.train)?, read_conll(run.dev)?);
                let (found, _) = tagging::tag_set(&train_sentences);
                let tags = reused_labels.unwrap_or(found);
                hf.config.labels = Some(tags.clone());
                let encode =
                    |sentences, path| tagging::encode(tok, sentences, &tags, max_len, path);
                let train = encode(&train_sentences, run.train)?;
                let dev = encode(&dev_sentences, run.dev)?;
                let n = tags.len();
                train_task::<Tagging>(run, &hf, &train, &dev, |c, i, d| {
                    AlbertForTokenClassification::new(c, n, i, d)
                })
            }
            Task::MultipleChoice => {
                let encode = |path| choice::encode(tok, &read_race(path)?, max_len, path);
                let (train, dev) = (encode(run.train)?, encode(run.dev)?);
                hf.config.labels = None;
                train_task::<MultipleChoice>(run, &hf, &train, &dev, AlbertForMultipleChoice::new)
            }
            Task::Squad1 | Task::Squad2 => {
                let v2 = self == Task::Squad2;
                let train = qa_data(tok, read_squad(run.train)?, max_len, v2)?;
                let dev = qa_data(tok, read_squad(run.dev)?, max_len, v2)?;
                hf.config.labels = None;
                train_task::<SpanQa>(run, &hf, &train, &dev, AlbertForQuestionAnswering::new)
            }
        }
    }

    /// Scores the fine-tuned `model` on the task file `data` (encoded with at most `max_len`
    /// tokens, the model's positions permitting): the task's metrics by name. `progress`: a bar
    /// on stderr while it predicts.
    pub fn evaluate(
        self,
        model: &TaskModel<'_>,
        data: &Path,
        batch_size: usize,
        max_len: usize,
        device: &Device,
        progress: bool,
    ) -> Result<BTreeMap<String, f64>> {
        let config = &model.hf.config;
        let labels = match (self, &config.labels) {
            (Task::Regression | Task::MultipleChoice | Task::Squad1 | Task::Squad2, _) => {
                Vec::new()
            }
            (_, Some(l)) if l.len() >= 2 => l.clone(),
            _ => {
                return Err(HeadsError::data(
                    model.config_path,
                    None,
                    format!("a {} model needs its label names (id2label)", self.name()),
                ));
            }
        };
        let max_len = max_len.min(config.max_position_embeddings);
        let (tok, n) = (model.tokenizer, labels.len());
        let scorer = Scorer {
            model,
            labels: &labels,
            batch_size,
            device,
            progress,
        };
        match self {
            Task::Classification | Task::Regression => {
                let encoded = seqcls::encode(tok, &read_examples(data)?, &labels, max_len, data)?;
                scorer.score::<SeqCls>(&encoded, |c, i, d| {
                    AlbertForSequenceClassification::new(c, n.max(1), i, d)
                })
            }
            Task::Tagging => {
                let sentences = read_conll(data)?;
                let encoded = tagging::encode(tok, &sentences, &labels, max_len, data)?;
                scorer.score::<Tagging>(&encoded, |c, i, d| {
                    AlbertForTokenClassification::new(c, n, i, d)
                })
            }
            Task::MultipleChoice => {
                let encoded = choice::encode(tok, &read_race(data)?, max_len, data)?;
                scorer.score::<MultipleChoice>(&encoded, AlbertForMultipleChoice::new)
            }
            Task::Squad1 | Task::Squad2 => {
                let encoded = qa_data(tok, read_squad(data)?, max_len, self == Task::Squad2)?;
                scorer.score::<SpanQa>(&encoded, AlbertForQuestionAnswering::new)
            }
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Task {
    type Err = HeadsError;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                HeadsError::Head(format!(
                    "unknown task {s:?} (expected one of: {})",
                    Self::NAMES.join(", ")
                ))
            })
    }
}

/// SQuAD features of `examples` for `max_len` tokens: the paper's document stride 128 and
/// question cap 64, scaled down for short sequences; v2.0 decoding (the null answer) when
/// `version_2`.
pub fn qa_data(
    tokenizer: &AlbertTokenizer,
    examples: Vec<SquadExample>,
    max_len: usize,
    version_2: bool,
) -> Result<QaData> {
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

/// Builds `T`'s model with `build` (seeded by the run), loads the starting weights and runs the
/// loop.
fn train_task<T: FinetuneTask>(
    run: &TaskRun<'_>,
    hf: &HfConfig,
    train: &T::Data,
    dev: &T::Data,
    build: impl FnOnce(&AlbertConfig, &mut ParamInit, &Device) -> T::Model,
) -> Result<FinetuneSummary> {
    let config = run.config;
    let mut init = ParamInit::new(config.seed, hf.config.initializer_range);
    let fresh = build(&hf.config, &mut init, run.device);
    let model = match run.start {
        Start::Random => fresh,
        Start::Pretrained(weights) => {
            let files = [weights.to_path_buf()];
            let (model, report) = load_hf(fresh, &files, MissingPolicy::InitializeHeads)?;
            if run.files.progress {
                eprint!("{report}");
            }
            model
        }
    };
    if run.files.progress {
        eprintln!(
            "fine-tuning on {} examples ({} dev), {} epochs of batch {}, lr {:e}{}, max {} tokens",
            T::len(train),
            T::len(dev),
            config.epochs,
            config.batch_size,
            config.learning_rate,
            config
                .head_learning_rate
                .map(|h| format!(" (head {h:e})"))
                .unwrap_or_default(),
            config.max_seq_length
        );
    }
    let pad = run.tokenizer.special_ids().pad;
    finetune::<T>(
        model,
        hf,
        train,
        dev,
        pad,
        config,
        run.main_metric,
        &run.files,
        run.device,
    )
}

/// The model `build` makes from `config`, with `weights` loaded over it; `policy` says which
/// parameters may be missing (`MissingPolicy::Error`: a fine-tuned model as `albert finetune`
/// saved it, or any complete checkpoint; `MissingPolicy::Unused`: heads the caller never runs).
pub fn load_model<M: Module>(
    config: &AlbertConfig,
    weights: &[PathBuf],
    device: &Device,
    build: impl FnOnce(&AlbertConfig, &mut ParamInit, &Device) -> M,
    policy: MissingPolicy,
) -> Result<M> {
    let fresh = build(
        config,
        &mut ParamInit::new(0, config.initializer_range),
        device,
    );
    let (model, _) = load_hf(fresh, weights, policy)?;
    Ok(model)
}

/// What scoring a fine-tuned model needs besides the task's data.
struct Scorer<'a> {
    model: &'a TaskModel<'a>,
    labels: &'a [String],
    batch_size: usize,
    device: &'a Device,
    progress: bool,
}

impl Scorer<'_> {
    /// Builds `T`'s model with `build`, loads the fine-tuned weights (all required), predicts
    /// over `data` and scores the predictions.
    fn score<T: FinetuneTask>(
        &self,
        data: &T::Data,
        build: impl FnOnce(&AlbertConfig, &mut ParamInit, &Device) -> T::Model,
    ) -> Result<BTreeMap<String, f64>> {
        let config = &self.model.hf.config;
        let model = load_model(
            config,
            self.model.weights,
            self.device,
            build,
            MissingPolicy::Error,
        )?;
        let pad = self.model.tokenizer.special_ids().pad;
        let total = T::len(data) as u64;
        let progress = Progress::new(self.progress, Some(total), 0, "examples", 0);
        let preds = T::predict(
            &model,
            config,
            data,
            self.batch_size,
            pad,
            self.device,
            &progress,
        )?;
        progress.finish();
        Ok(T::score(data, &preds, self.labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_describe_each_task() {
        for (task, name) in Task::ALL.into_iter().zip(Task::NAMES) {
            assert_eq!(task.name(), name);
            assert_eq!(name.parse::<Task>().ok(), Some(task));
        }
        assert!("squad3".parse::<Task>().is_err());
        assert_eq!(Task::Regression.main_metric(None), "pearson");
        assert_eq!(Task::Classification.main_metric(Some("cola")), "mcc");
        assert_eq!(Task::Classification.main_metric(Some("sst-2")), "accuracy");
        assert_eq!(Task::Squad2.main_metric(None), "f1");
        assert_eq!(Task::Tagging.architecture(), "AlbertForTokenClassification");
        assert_eq!(Task::Squad1.architecture(), "AlbertForQuestionAnswering");
    }
}
