//! Fine-tuning and evaluating [`AlbertForSequenceClassification`] on text or text-pair data
//! (GLUE-style TSV): classification (accuracy, F1, macro F1, MCC) or regression (Pearson,
//! Spearman, MSE).

use std::collections::BTreeMap;
use std::path::Path;

use albert_core::AlbertConfig;
use albert_tokenizer::{AlbertTokenizer, EncodeOptions, TruncationStrategy};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde_json::json;

use super::{FinetuneTask, token_batch};
use crate::error::{HeadsError, Result};
use crate::metrics;
use crate::progress::Progress;
use crate::tasks::tsv::{Label, TextExample};
use crate::{AlbertForSequenceClassification, ProblemType};

/// Gold targets of a data set.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Class indices.
    Classes(Vec<usize>),
    /// Regression targets.
    Scores(Vec<f32>),
}

/// Encoded inputs and targets of a data set.
#[derive(Debug, Clone)]
pub struct SeqClsData {
    /// `(ids, token types)` per example.
    pub inputs: Vec<(Vec<u32>, Vec<u32>)>,
    /// Targets in the same order.
    pub targets: Targets,
    /// The file's line of each example.
    pub lines: Vec<usize>,
}

/// The class names of a training file, sorted (numeric names numerically: `0 < 1 < 10`).
pub fn label_set(examples: &[TextExample]) -> Vec<String> {
    let mut labels: Vec<String> = examples
        .iter()
        .filter_map(|e| match &e.label {
            Some(Label::Class(c)) => Some(c.clone()),
            _ => None,
        })
        .collect();
    labels.sort_by(|a, b| match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    });
    labels.dedup();
    labels
}

/// Tokenizes `examples` (pairs truncated longest-first to `max_seq_length`) and maps their
/// labels: onto `labels` for classification (an unknown label is an error naming the line),
/// as numbers for regression (`labels` empty).
pub fn encode(
    tokenizer: &AlbertTokenizer,
    examples: &[TextExample],
    labels: &[String],
    max_seq_length: usize,
    path: &Path,
) -> Result<SeqClsData> {
    let options = EncodeOptions {
        truncation: Some((max_seq_length, TruncationStrategy::LongestFirst)),
        padding: None,
    };
    let pairs: Vec<(String, Option<String>)> = examples
        .iter()
        .map(|e| (e.text_a.clone(), e.text_b.clone()))
        .collect();
    let encodings = tokenizer.encode_batch(&pairs, &options)?;
    let inputs = encodings.into_iter().map(|e| (e.ids, e.type_ids)).collect();
    let missing = |e: &TextExample| HeadsError::data(path, Some(e.line), "the row has no label");
    let targets = if labels.is_empty() {
        Targets::Scores(
            examples
                .iter()
                .map(|e| match &e.label {
                    Some(Label::Score(s)) => Ok(*s as f32),
                    Some(Label::Class(c)) => c.parse::<f32>().map_err(|_| {
                        HeadsError::data(path, Some(e.line), format!("{c:?} is not a number"))
                    }),
                    None => Err(missing(e)),
                })
                .collect::<Result<_>>()?,
        )
    } else {
        Targets::Classes(
            examples
                .iter()
                .map(|e| {
                    let name = match &e.label {
                        Some(Label::Class(c)) => c.clone(),
                        Some(Label::Score(s)) => s.to_string(),
                        None => return Err(missing(e)),
                    };
                    labels.iter().position(|l| *l == name).ok_or_else(|| {
                        HeadsError::data(
                            path,
                            Some(e.line),
                            format!("label {name:?} is not one of the model's labels {labels:?}"),
                        )
                    })
                })
                .collect::<Result<_>>()?,
        )
    };
    Ok(SeqClsData {
        inputs,
        targets,
        lines: examples.iter().map(|e| e.line).collect(),
    })
}

fn loss(
    model: &AlbertForSequenceClassification,
    config: &AlbertConfig,
    data: &SeqClsData,
    idx: &[usize],
    pad: u32,
    device: &Device,
) -> Result<Tensor<1>> {
    let input = token_batch(&data.inputs, idx, pad).to_input(config, device)?;
    let (_, logits) = model.forward(input, albert_core::EncoderOutputs::default());
    Ok(match &data.targets {
        Targets::Classes(c) => {
            let labels: Vec<i64> = idx.iter().map(|&i| c[i] as i64).collect();
            let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [idx.len()]), device);
            model.classification_loss(logits, labels)
        }
        Targets::Scores(s) => {
            let t: Vec<f32> = idx.iter().map(|&i| s[i]).collect();
            let t = Tensor::<1>::from_data(TensorData::new(t, [idx.len()]), device);
            model.regression_loss(logits, t)
        }
    })
}

/// Model outputs per example: the class index, or the predicted score.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    /// Arg-max class per example.
    Classes(Vec<usize>),
    /// Predicted value per example.
    Scores(Vec<f32>),
}

/// Runs `model` (built from `config`) over `data` in batches of `batch_size`.
pub fn predict(
    model: &AlbertForSequenceClassification,
    config: &AlbertConfig,
    data: &SeqClsData,
    batch_size: usize,
    pad: u32,
    device: &Device,
    progress: &Progress,
) -> Result<Predictions> {
    let mut classes = Vec::new();
    let mut scores = Vec::new();
    let all: Vec<usize> = (0..data.inputs.len()).collect();
    for idx in all.chunks(batch_size.max(1)) {
        progress.inc(idx.len() as u64);
        let input = token_batch(&data.inputs, idx, pad).to_input(config, device)?;
        let (_, logits) = model.forward(input, albert_core::EncoderOutputs::default());
        match model.problem {
            ProblemType::Classification => {
                let am = logits.argmax(1).into_data();
                classes.extend(
                    am.iter::<i64>()
                        .map(|v| usize::try_from(v).unwrap_or_default()),
                );
            }
            ProblemType::Regression => scores.extend(logits.into_data().iter::<f32>()),
        }
    }
    Ok(match model.problem {
        ProblemType::Classification => Predictions::Classes(classes),
        ProblemType::Regression => Predictions::Scores(scores),
    })
}

/// Per input: the softmax over the classes, or the single regression output.
pub fn probabilities(
    model: &AlbertForSequenceClassification,
    config: &AlbertConfig,
    inputs: &[(Vec<u32>, Vec<u32>)],
    batch_size: usize,
    pad: u32,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let all: Vec<usize> = (0..inputs.len()).collect();
    let mut out = Vec::with_capacity(inputs.len());
    for idx in all.chunks(batch_size.max(1)) {
        let input = token_batch(inputs, idx, pad).to_input(config, device)?;
        let (_, logits) = model.forward(input, albert_core::EncoderOutputs::default());
        let [_, c] = logits.dims();
        let values = match model.problem {
            ProblemType::Classification => burn::tensor::activation::softmax(logits, 1),
            ProblemType::Regression => logits,
        };
        let flat: Vec<f32> = values.into_data().iter::<f32>().collect();
        out.extend(flat.chunks(c).map(<[f32]>::to_vec));
    }
    Ok(out)
}

/// The metrics of `predictions` against `targets`, keyed by the GLUE names (`accuracy`, `f1`
/// of the positive class `1` for two classes, `macro_f1`, `mcc`; `pearson`, `spearman`, `mse`).
pub fn score(
    targets: &Targets,
    predictions: &Predictions,
    labels: &[String],
) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    match (targets, predictions) {
        (Targets::Classes(g), Predictions::Classes(p)) => {
            let mut put = |k: &str, v: Option<f64>| {
                if let Some(v) = v {
                    m.insert(k.to_string(), v);
                }
            };
            put("accuracy", metrics::accuracy(g, p));
            put("macro_f1", metrics::f1_macro(g, p));
            put("mcc", metrics::matthews_corrcoef(g, p));
            if labels.len() == 2 {
                let positive = labels.iter().position(|l| l == "1").unwrap_or(1);
                put("f1", metrics::f1_binary(g, p, positive));
            }
        }
        (Targets::Scores(g), Predictions::Scores(p)) => {
            let g: Vec<f64> = g.iter().map(|&v| f64::from(v)).collect();
            let p: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
            if let Some(v) = metrics::pearson(&g, &p) {
                m.insert("pearson".into(), v);
            }
            if let Some(v) = metrics::spearman(&g, &p) {
                m.insert("spearman".into(), v);
            }
            let mse =
                g.iter().zip(&p).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / g.len().max(1) as f64;
            m.insert("mse".into(), mse);
        }
        _ => {}
    }
    m
}

/// The [`FinetuneTask`] of sequence classification and regression.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeqCls;

impl FinetuneTask for SeqCls {
    type Model = AlbertForSequenceClassification;
    type Data = SeqClsData;
    type Predictions = Predictions;

    fn body(model: &Self::Model) -> &albert_core::AlbertModel {
        &model.albert
    }

    fn len(data: &SeqClsData) -> usize {
        data.inputs.len()
    }

    fn loss(
        model: &Self::Model,
        config: &AlbertConfig,
        data: &SeqClsData,
        idx: &[usize],
        pad: u32,
        device: &Device,
    ) -> Result<Tensor<1>> {
        loss(model, config, data, idx, pad, device)
    }

    fn predict(
        model: &Self::Model,
        config: &AlbertConfig,
        data: &SeqClsData,
        batch_size: usize,
        pad: u32,
        device: &Device,
        progress: &Progress,
    ) -> Result<Predictions> {
        predict(model, config, data, batch_size, pad, device, progress)
    }

    fn score(data: &SeqClsData, preds: &Predictions, labels: &[String]) -> BTreeMap<String, f64> {
        score(&data.targets, preds, labels)
    }

    fn write_predictions(
        path: &Path,
        data: &SeqClsData,
        preds: &Predictions,
        labels: &[String],
    ) -> Result<()> {
        write_predictions(path, data, preds, labels)
    }
}

/// One JSON line per example: its line in the data file, gold and predicted label or score.
pub fn write_predictions(
    path: &Path,
    data: &SeqClsData,
    preds: &Predictions,
    labels: &[String],
) -> Result<()> {
    let mut text = String::new();
    for (i, line) in data.lines.iter().enumerate() {
        let v = match (&data.targets, preds) {
            (Targets::Classes(g), Predictions::Classes(p)) => {
                json!({"line": line, "label": labels.get(g[i]), "prediction": labels.get(p[i])})
            }
            (Targets::Scores(g), Predictions::Scores(p)) => {
                json!({"line": line, "label": g[i], "prediction": p[i]})
            }
            _ => continue,
        };
        text.push_str(&v.to_string());
        text.push('\n');
    }
    albert_core::io::write_atomic(path, text.as_bytes())?;
    Ok(())
}
