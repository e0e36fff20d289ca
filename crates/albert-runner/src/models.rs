//! Building a model of any [`HeadKind`] from an HF config and safetensors files.

use std::path::{Path, PathBuf};

use albert_core::checkpoint::{
    LoadReport, MissingPolicy, StoreDtype, export_hf_as, load_hf, tensor_shapes,
};
use albert_core::init::ParamInit;
use albert_core::{AlbertForPreTraining, HfConfig, ParamCounts, pretraining_heads};
use albert_heads::{
    AlbertForMultipleChoice, AlbertForQuestionAnswering, AlbertForSequenceClassification,
    AlbertForTokenClassification, HeadKind,
};
use burn::module::Module;
use burn::tensor::Device;
use clap::Args;

use crate::device::device;
use crate::error::{Result, RunnerError};

/// `albert export`: write an HF-layout directory (config.json + model.safetensors) that
/// `transformers` loads; also the way to convert `pytorch_model.bin` and TF1 checkpoints.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// HF `config.json`, or the original code's `albert_config.json`.
    #[arg(long)]
    pub config: PathBuf,
    /// Weights: `.safetensors`, `pytorch_model.bin`, or a TF1 checkpoint by its prefix
    /// (`model.ckpt-N`); repeat to combine.
    #[arg(long, required = true)]
    pub weights: Vec<PathBuf>,
    /// The output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Which model (default: the config's `architectures`, else pretraining).
    #[arg(long, value_parser = crate::models::head_parser())]
    pub head: Option<String>,
    /// How the weights are stored: fp32 (exact), or bf16 / fp16 (half the size, each value
    /// rounded to the nearest; every loader here and transformers read them).
    #[arg(long, default_value = "fp32", value_parser = dtype_parser())]
    pub dtype: StoreDtype,
}

/// `--dtype`: one of [`StoreDtype::ALL`] by name.
fn dtype_parser() -> impl clap::builder::TypedValueParser<Value = StoreDtype> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(StoreDtype::ALL.map(StoreDtype::name))
        .map(|s| s.parse::<StoreDtype>().expect("a listed dtype"))
}

impl ExportArgs {
    /// Runs `albert export`.
    pub fn run(&self) -> Result<()> {
        let hf = HfConfig::from_file(&self.config)?;
        let kind = resolve_head(self.head.as_deref(), &hf)?;
        let device = device("cpu")?;
        let (model, report) =
            AnyModel::load(kind, &hf, &self.weights, MissingPolicy::Error, &device)?;
        eprint!("{report}");
        let n = model.export_as(&hf, &self.out, self.dtype)?;
        eprintln!(
            "wrote {} ({n} tensors, {}) and config.json to {}",
            kind.hf_architecture(),
            self.dtype.name(),
            self.out.display()
        );
        Ok(())
    }
}

/// `--head`: one of [`HeadKind::NAMES`] (the short names of earlier versions, `seqcls`, `tokcls`,
/// `qa`, `mc`, as hidden aliases); the value is the full name.
pub fn head_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(HeadKind::ALL.map(|k| {
        let short = HeadKind::SHORT_NAMES[k as usize];
        let value = clap::builder::PossibleValue::new(k.cli_name());
        if short == k.cli_name() {
            value
        } else {
            value.alias(short)
        }
    }))
}

/// The head named by `--head`, else by the config's `architectures`, else pretraining.
pub fn resolve_head(head: Option<&str>, hf: &HfConfig) -> Result<HeadKind> {
    if let Some(h) = head {
        return Ok(HeadKind::parse(h)?);
    }
    Ok(hf
        .architectures
        .iter()
        .find_map(|a| HeadKind::from_architecture(a))
        .unwrap_or(HeadKind::Pretraining))
}

/// A model of one of the five kinds. (One lives per process, so the size difference between
/// variants does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum AnyModel {
    /// MLM + SOP.
    Pretraining(AlbertForPreTraining),
    /// Sequence classification / regression.
    SequenceClassification(AlbertForSequenceClassification),
    /// Token classification.
    TokenClassification(AlbertForTokenClassification),
    /// Span extraction.
    QuestionAnswering(AlbertForQuestionAnswering),
    /// Multiple choice.
    MultipleChoice(AlbertForMultipleChoice),
}

/// The seed of fresh parameters (used only for what no checkpoint provides).
pub const INIT_SEED: u64 = 42;

/// The label count of a classifier head: the config's `id2label`, else the shape of the last
/// `classifier.weight` among `weights`, else an error.
pub fn num_labels(hf: &HfConfig, kind: HeadKind, weights: &[PathBuf]) -> Result<usize> {
    match kind {
        HeadKind::Pretraining => return Ok(2),
        HeadKind::QuestionAnswering => return Ok(2),
        HeadKind::MultipleChoice => return Ok(1),
        HeadKind::SequenceClassification | HeadKind::TokenClassification => {}
    }
    if let Some(n) = hf.config.num_labels() {
        return Ok(n);
    }
    for file in weights.iter().rev() {
        if let Some(shape) = tensor_shapes(file)?.get("classifier.weight") {
            return match shape.as_slice() {
                [n, _] => Ok(*n),
                other => Err(RunnerError::BadFile {
                    path: file.clone(),
                    message: format!(
                        "classifier.weight has shape {other:?}, expected [num_labels, hidden]"
                    ),
                }),
            };
        }
    }
    Err(RunnerError::Usage(format!(
        "the {} head needs its label count: give the config an id2label or a checkpoint with classifier.weight",
        kind.cli_name()
    )))
}

impl AnyModel {
    /// A freshly initialised model of `kind`.
    pub fn init(kind: HeadKind, hf: &HfConfig, num_labels: usize, device: &Device) -> Self {
        let config = &hf.config;
        let mut init = ParamInit::new(INIT_SEED, config.initializer_range);
        let init = &mut init;
        match kind {
            HeadKind::Pretraining => {
                AnyModel::Pretraining(AlbertForPreTraining::new(config, init, device))
            }
            HeadKind::SequenceClassification => AnyModel::SequenceClassification(
                AlbertForSequenceClassification::new(config, num_labels, init, device),
            ),
            HeadKind::TokenClassification => AnyModel::TokenClassification(
                AlbertForTokenClassification::new(config, num_labels, init, device),
            ),
            HeadKind::QuestionAnswering => {
                AnyModel::QuestionAnswering(AlbertForQuestionAnswering::new(config, init, device))
            }
            HeadKind::MultipleChoice => {
                AnyModel::MultipleChoice(AlbertForMultipleChoice::new(config, init, device))
            }
        }
    }

    /// Builds a model of `kind` and loads `weights` (later files add to or replace earlier ones).
    pub fn load(
        kind: HeadKind,
        hf: &HfConfig,
        weights: &[PathBuf],
        policy: MissingPolicy,
        device: &Device,
    ) -> Result<(Self, LoadReport)> {
        let n = num_labels(hf, kind, weights)?;
        let model = Self::init(kind, hf, n, device);
        Ok(match model {
            AnyModel::Pretraining(m) => wrap(load_hf(m, weights, policy)?, AnyModel::Pretraining),
            AnyModel::SequenceClassification(m) => wrap(
                load_hf(m, weights, policy)?,
                AnyModel::SequenceClassification,
            ),
            AnyModel::TokenClassification(m) => {
                wrap(load_hf(m, weights, policy)?, AnyModel::TokenClassification)
            }
            AnyModel::QuestionAnswering(m) => {
                wrap(load_hf(m, weights, policy)?, AnyModel::QuestionAnswering)
            }
            AnyModel::MultipleChoice(m) => {
                wrap(load_hf(m, weights, policy)?, AnyModel::MultipleChoice)
            }
        })
    }

    /// The kind.
    pub fn kind(&self) -> HeadKind {
        match self {
            AnyModel::Pretraining(_) => HeadKind::Pretraining,
            AnyModel::SequenceClassification(_) => HeadKind::SequenceClassification,
            AnyModel::TokenClassification(_) => HeadKind::TokenClassification,
            AnyModel::QuestionAnswering(_) => HeadKind::QuestionAnswering,
            AnyModel::MultipleChoice(_) => HeadKind::MultipleChoice,
        }
    }

    /// Total number of (unique) parameters, counted on the module.
    pub fn num_params(&self) -> usize {
        match self {
            AnyModel::Pretraining(m) => m.num_params(),
            AnyModel::SequenceClassification(m) => m.num_params(),
            AnyModel::TokenClassification(m) => m.num_params(),
            AnyModel::QuestionAnswering(m) => m.num_params(),
            AnyModel::MultipleChoice(m) => m.num_params(),
        }
    }

    /// Writes the model as an HF directory with `architectures = [kind's HF class]`.
    pub fn export(&self, hf: &HfConfig, dir: &Path) -> Result<usize> {
        self.export_as(hf, dir, StoreDtype::F32)
    }

    /// [`AnyModel::export`] with the weights stored as `dtype`.
    pub fn export_as(&self, hf: &HfConfig, dir: &Path, dtype: StoreDtype) -> Result<usize> {
        let mut hf = hf.clone();
        hf.architectures = vec![self.kind().hf_architecture().to_string()];
        // HF sizes a head from `len(id2label)` (2 when absent): write the count the weights
        // have, which may have come from the checkpoint's shape rather than the config.
        let labels = match self {
            AnyModel::SequenceClassification(m) => Some(m.num_labels()),
            AnyModel::TokenClassification(m) => Some(m.num_labels()),
            AnyModel::Pretraining(_) | AnyModel::QuestionAnswering(_) => Some(2),
            AnyModel::MultipleChoice(_) => None,
        };
        if let Some(n) = labels
            && hf.config.num_labels() != Some(n)
        {
            hf.config.labels = (n != 2 || hf.config.labels.is_some())
                .then(|| (0..n).map(|i| format!("LABEL_{i}")).collect());
        }
        if let AnyModel::SequenceClassification(m) = self
            && m.num_labels() == 1
        {
            hf.problem_type = Some("regression".into());
        }
        let written = match self {
            AnyModel::Pretraining(m) => export_hf_as(m, &hf, dir, dtype)?,
            AnyModel::SequenceClassification(m) => export_hf_as(m, &hf, dir, dtype)?,
            AnyModel::TokenClassification(m) => export_hf_as(m, &hf, dir, dtype)?,
            AnyModel::QuestionAnswering(m) => export_hf_as(m, &hf, dir, dtype)?,
            AnyModel::MultipleChoice(m) => export_hf_as(m, &hf, dir, dtype)?,
        };
        Ok(written.len())
    }
}

fn wrap<M>((m, report): (M, LoadReport), f: impl FnOnce(M) -> AnyModel) -> (AnyModel, LoadReport) {
    (f(m), report)
}

/// The analytic body counts and the head's own parameters for a kind.
pub fn counts(hf: &HfConfig, kind: HeadKind, num_labels: usize) -> (ParamCounts, usize) {
    let config = &hf.config;
    let body = ParamCounts::new(config, kind.has_pooler());
    let h = config.hidden_size;
    let head = match kind {
        HeadKind::Pretraining => pretraining_heads(config),
        HeadKind::SequenceClassification | HeadKind::TokenClassification => {
            h * num_labels + num_labels
        }
        HeadKind::QuestionAnswering => 2 * h + 2,
        HeadKind::MultipleChoice => h + 1,
    };
    (body, head)
}
