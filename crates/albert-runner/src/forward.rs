//! `albert forward`: runs a model over every batch of a reference inputs file and names each
//! output as `../shared/fixtures/hf-albert/*/expected.safetensors` does.
//!
//! Per batch `b` (every head but `mc`): `b/embedding_output`, `b/hidden_states/{k}`,
//! `b/attentions/{k}` (every layer application and inner layer, in order; HF's fixture keeps
//! `0`), `b/inner_layer_outputs/{i}.{j}` (only when `inner_group_num > 1`),
//! `b/last_hidden_state`, `b/pooler_output` (heads with a pooler), then per head:
//! - `pretraining`: `b/prediction_logits`, `b/prediction_logits_at_labels` (rows where
//!   `mlm_labels != -100`, row-major), `b/sop_logits`, `b/mlm_loss`, `b/sop_loss`,
//!   `b/pretraining_loss`;
//! - `seqcls`: `b/seqcls/logits`, `b/seqcls/loss`; `tokcls`: `b/tokcls/logits`, `b/tokcls/loss`;
//!   `qa`: `b/qa/start_logits`, `b/qa/end_logits`, `b/qa/loss`;
//! - `mc` reads the `multiple_choice` batches: `{name}/logits`, `{name}/loss`.
//!
//! Losses appear only when the batch has the labels. A batch named in `light` skips the
//! per-layer tensors and the full `prediction_logits` (the fixture does this for `long`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use albert_core::HfConfig;
use albert_core::checkpoint::{MissingPolicy, OutTensor, write_safetensors};
use albert_core::loss::IGNORE_INDEX;
use albert_core::{AlbertConfig, AlbertOutput, EncoderOutputs, TokenBatch, int_tensor};
use albert_heads::{HeadKind, MultipleChoiceInput, qa_loss};
use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::Args;

use crate::device::{device, probe};
use crate::error::{Result, RunnerError};
use crate::inputs::{ChoiceBatch, InputBatch, ReferenceInputs};
use crate::models::AnyModel;

/// `albert forward`: run a model over an `albert-reference-inputs/1` file and write every
/// output as float32 safetensors, named as the HF reference fixtures name them.
#[derive(Debug, Clone, Args)]
pub struct ForwardArgs {
    /// HF `config.json`, or the original code's `albert_config.json`.
    #[arg(long)]
    pub config: PathBuf,
    /// Weights: `.safetensors`, `pytorch_model.bin`, or a TF1 checkpoint by its prefix
    /// (`model.ckpt-N`); repeat to combine (later files add to or replace earlier ones).
    #[arg(long, required = true)]
    pub weights: Vec<PathBuf>,
    /// Which model: pretraining, sequence-classification, token-classification,
    /// question-answering or multiple-choice.
    #[arg(long, value_parser = crate::models::head_parser())]
    pub head: String,
    /// The inputs file.
    #[arg(long)]
    pub inputs: PathBuf,
    /// Where to write the outputs.
    #[arg(long)]
    pub out: PathBuf,
    /// Where and in which precision the model runs.
    #[command(flatten)]
    pub on: crate::device::DeviceArgs,
    /// Batches to run light: no per-layer tensors, no full MLM logits. Repeatable.
    #[arg(long)]
    pub light: Vec<String>,
}

impl ForwardArgs {
    /// Runs `albert forward`.
    pub fn run(self) -> Result<()> {
        let _precision = albert_core::precision::autocast(self.on.precision);
        let hf = HfConfig::from_file(&self.config)?;
        let kind = HeadKind::parse(&self.head)?;
        let device = device(&self.on.device)?;
        probe(&device, &self.on.device)?;
        let inputs = ReferenceInputs::from_file(&self.inputs)?;
        let (model, report) =
            AnyModel::load(kind, &hf, &self.weights, MissingPolicy::Error, &device)?;
        eprint!("{report}");
        let options = ForwardOptions {
            light: self.light.into_iter().collect(),
        };
        let tensors = run(&model, &hf.config, &inputs, &options, &device)?;
        write_safetensors(&self.out, &tensors, None)?;
        eprintln!("wrote {} tensors to {}", tensors.len(), self.out.display());
        Ok(())
    }
}

/// Which optional tensors to write.
#[derive(Debug, Clone, Default)]
pub struct ForwardOptions {
    /// Batches for which only the light outputs are written.
    pub light: BTreeSet<String>,
}

fn out<const D: usize>(name: String, t: Tensor<D>) -> Result<OutTensor> {
    let shape = t.dims().to_vec();
    let values = t.try_into_vec_as::<f32>().map_err(|e| {
        RunnerError::Device(format!("cannot read {name} back from the device: {e:?}"))
    })?;
    Ok(OutTensor {
        name,
        shape,
        values,
    })
}

fn scalar(name: String, t: Tensor<1>) -> Result<OutTensor> {
    let mut o = out(name, t)?;
    o.shape = vec![];
    Ok(o)
}

/// Runs `model` on every batch the head reads; returns the named outputs.
pub fn run(
    model: &AnyModel,
    config: &AlbertConfig,
    inputs: &ReferenceInputs,
    options: &ForwardOptions,
    device: &Device,
) -> Result<Vec<OutTensor>> {
    let mut outputs = Vec::new();
    if let AnyModel::MultipleChoice(m) = model {
        if inputs.multiple_choice.is_empty() {
            return Err(RunnerError::Usage(
                "the mc head reads `multiple_choice` batches; the inputs have none".into(),
            ));
        }
        for (name, batch) in &inputs.multiple_choice {
            outputs.extend(choice_batch(m, config, name, batch, device)?);
        }
        return Ok(outputs);
    }
    if inputs.batches.is_empty() {
        return Err(RunnerError::Usage("the inputs have no `batches`".into()));
    }
    // A bar over the batches on a terminal (a long reference run), nothing in logs.
    let progress = albert_heads::progress::Progress::new(
        true,
        Some(inputs.batches.len() as u64),
        0,
        "batches",
        0,
    );
    for (name, batch) in &inputs.batches {
        progress.inc(1);
        let light = options.light.contains(name);
        outputs.extend(
            one_batch(model, config, name, batch, light, device).map_err(|e| match e {
                RunnerError::Core(e) => RunnerError::Usage(format!("batch {name}: {e}")),
                other => other,
            })?,
        );
    }
    Ok(outputs)
}

fn record(config: &AlbertConfig, light: bool) -> EncoderOutputs {
    EncoderOutputs {
        hidden_states: !light,
        attentions: !light,
        inner_layer_outputs: !light && config.inner_group_num > 1,
    }
}

fn body_outputs(b: &str, body: AlbertOutput) -> Result<Vec<OutTensor>> {
    let mut v = vec![
        out(format!("{b}/embedding_output"), body.embedding_output)?,
        out(format!("{b}/last_hidden_state"), body.last_hidden_state)?,
    ];
    if let Some(p) = body.pooler_output {
        v.push(out(format!("{b}/pooler_output"), p)?);
    }
    for (k, h) in body.hidden_states.into_iter().flatten().enumerate() {
        v.push(out(format!("{b}/hidden_states/{k}"), h)?);
    }
    for (k, a) in body.attentions.into_iter().flatten().enumerate() {
        v.push(out(format!("{b}/attentions/{k}"), a)?);
    }
    for ((i, j), h) in body.inner_layer_outputs.into_iter().flatten() {
        v.push(out(format!("{b}/inner_layer_outputs/{i}.{j}"), h)?);
    }
    Ok(v)
}

fn check_labels(name: &str, labels: &[i64], classes: i64, allow_ignore: bool) -> Result<()> {
    match labels
        .iter()
        .position(|&l| !((0..classes).contains(&l) || (allow_ignore && l == IGNORE_INDEX)))
    {
        Some(i) => Err(RunnerError::Usage(format!(
            "{name}[{i}] = {} is not a label in 0..{classes}{}",
            labels[i],
            if allow_ignore { " or -100" } else { "" }
        ))),
        None => Ok(()),
    }
}

fn check_rows(name: &str, rows: &[Vec<i64>], [b, n]: [usize; 2]) -> Result<()> {
    if rows.len() != b || rows.iter().any(|r| r.len() != n) {
        return Err(RunnerError::Usage(format!(
            "{name} is not [{b}, {n}] like input_ids"
        )));
    }
    Ok(())
}

fn check_len<T>(name: &str, values: &[T], b: usize) -> Result<()> {
    if values.len() != b {
        return Err(RunnerError::Usage(format!(
            "{name} has {} values for {b} rows",
            values.len()
        )));
    }
    Ok(())
}

fn labels_1d(values: &[i64], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

fn one_batch(
    model: &AnyModel,
    config: &AlbertConfig,
    b: &str,
    batch: &InputBatch,
    light: bool,
    device: &Device,
) -> Result<Vec<OutTensor>> {
    let tokens: TokenBatch = batch.tokens();
    let input = tokens.to_input(config, device)?;
    let dims = tokens.dims();
    let record = record(config, light);
    let mut v = Vec::new();
    match model {
        AnyModel::Pretraining(m) => {
            let output = m.forward(input, record);
            let hidden = output.body.last_hidden_state.clone();
            if !light {
                v.push(out(
                    format!("{b}/prediction_logits"),
                    output.prediction_logits,
                )?);
            }
            v.push(out(format!("{b}/sop_logits"), output.sop_logits.clone())?);
            let mut mlm_loss = None;
            if let Some(labels) = &batch.mlm_labels {
                check_rows("mlm_labels", labels, dims)?;
                let flat: Vec<i64> = labels.iter().flatten().copied().collect();
                check_labels("mlm_labels", &flat, config.vocab_size as i64, true)?;
                let (positions, targets): (Vec<i64>, Vec<i64>) = flat
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| **l != IGNORE_INDEX)
                    .map(|(p, l)| (p as i64, *l))
                    .unzip();
                if !positions.is_empty() {
                    let logits = m.mlm_logits_at(hidden, labels_1d(&positions, device));
                    v.push(out(
                        format!("{b}/prediction_logits_at_labels"),
                        logits.clone(),
                    )?);
                    let loss = albert_core::loss::cross_entropy(
                        logits,
                        labels_1d(&targets, device),
                        IGNORE_INDEX,
                    );
                    v.push(scalar(format!("{b}/mlm_loss"), loss.clone())?);
                    mlm_loss = Some(loss);
                }
            }
            if let Some(labels) = &batch.sop_labels {
                check_len("sop_labels", labels, dims[0])?;
                check_labels("sop_labels", labels, 2, true)?;
                let loss = albert_core::loss::cross_entropy(
                    output.sop_logits,
                    labels_1d(labels, device),
                    IGNORE_INDEX,
                );
                v.push(scalar(format!("{b}/sop_loss"), loss.clone())?);
                if let Some(mlm) = mlm_loss {
                    v.push(scalar(format!("{b}/pretraining_loss"), mlm + loss)?);
                }
            }
            v.extend(body_outputs(b, output.body)?);
        }
        AnyModel::SequenceClassification(m) => {
            let (body, logits) = m.forward(input, record);
            v.push(out(format!("{b}/seqcls/logits"), logits.clone())?);
            if let Some(labels) = &batch.seqcls_labels {
                check_len("seqcls_labels", labels, dims[0])?;
                let loss = if m.num_labels() == 1 {
                    let targets = Tensor::<1>::from_data(
                        TensorData::new(
                            labels.iter().map(|&x| x as f32).collect::<Vec<_>>(),
                            [labels.len()],
                        ),
                        device,
                    );
                    m.regression_loss(logits, targets)
                } else {
                    let ids = integer_labels("seqcls_labels", labels)?;
                    check_labels("seqcls_labels", &ids, m.num_labels() as i64, true)?;
                    m.classification_loss(logits, labels_1d(&ids, device))
                };
                v.push(scalar(format!("{b}/seqcls/loss"), loss)?);
            }
            v.extend(body_outputs(b, body)?);
        }
        AnyModel::TokenClassification(m) => {
            let (body, logits) = m.forward(input, record);
            v.push(out(format!("{b}/tokcls/logits"), logits.clone())?);
            if let Some(labels) = &batch.tokcls_labels {
                check_rows("tokcls_labels", labels, dims)?;
                let flat: Vec<i64> = labels.iter().flatten().copied().collect();
                check_labels("tokcls_labels", &flat, m.num_labels() as i64, true)?;
                let loss = m.loss(logits, int_tensor(labels, dims, device));
                v.push(scalar(format!("{b}/tokcls/loss"), loss)?);
            }
            v.extend(body_outputs(b, body)?);
        }
        AnyModel::QuestionAnswering(m) => {
            let qa = m.forward(input, record);
            v.push(out(
                format!("{b}/qa/start_logits"),
                qa.start_logits.clone(),
            )?);
            v.push(out(format!("{b}/qa/end_logits"), qa.end_logits.clone())?);
            if let (Some(start), Some(end)) = (&batch.qa_start_positions, &batch.qa_end_positions) {
                check_len("qa_start_positions", start, dims[0])?;
                check_len("qa_end_positions", end, dims[0])?;
                let loss = qa_loss(
                    qa.start_logits,
                    qa.end_logits,
                    labels_1d(start, device),
                    labels_1d(end, device),
                );
                v.push(scalar(format!("{b}/qa/loss"), loss)?);
            }
            v.extend(body_outputs(b, qa.body)?);
        }
        AnyModel::MultipleChoice(_) => {
            unreachable!("multiple choice reads multiple_choice batches")
        }
    }
    Ok(v)
}

fn integer_labels(name: &str, labels: &[f64]) -> Result<Vec<i64>> {
    labels
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if x.fract() == 0.0 && x.is_finite() {
                Ok(x as i64)
            } else {
                Err(RunnerError::Usage(format!(
                    "{name}[{i}] = {x} is not a class id"
                )))
            }
        })
        .collect()
}

fn choice_batch(
    m: &albert_heads::AlbertForMultipleChoice,
    config: &AlbertConfig,
    name: &str,
    batch: &ChoiceBatch,
    device: &Device,
) -> Result<Vec<OutTensor>> {
    batch.check(name)?;
    let ((b, c), flat) = batch.flatten();
    let input = flat.to_input(config, device)?;
    let n = flat.dims()[1];
    let logits = m.forward(MultipleChoiceInput {
        input_ids: input.input_ids.reshape([b, c, n]),
        token_type_ids: input.token_type_ids.map(|t| t.reshape([b, c, n])),
        mask_pad: input.mask_pad.map(|t| t.reshape([b, c, n])),
    });
    let mut v = vec![out(format!("{name}/logits"), logits.clone())?];
    if let Some(labels) = &batch.labels {
        check_len("labels", labels, b)?;
        check_labels("labels", labels, c as i64, true)?;
        v.push(scalar(
            format!("{name}/loss"),
            m.loss(logits, labels_1d(labels, device)),
        )?);
    }
    Ok(v)
}
