//! Fine-tuning and evaluating [`AlbertForSequenceClassification`] on text or text-pair data
//! (GLUE-style TSV): classification (accuracy, F1, macro F1, MCC) or regression (Pearson,
//! Spearman, MSE).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use albert_core::checkpoint::export_hf;
use albert_core::clip::clip_global_norm;
use albert_core::optim::NO_DECAY;
use albert_core::{AlbertConfig, HfConfig, Schedule, TokenBatch};
use albert_tokenizer::{AlbertTokenizer, EncodeOptions, TruncationStrategy};
use burn::module::{Module, ParamGroup};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::json;

use super::{FinetuneConfig, append_jsonl, write_json};
use crate::error::{HeadsError, Result};
use crate::metrics;
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

fn batch(data: &SeqClsData, idx: &[usize], pad: u32) -> TokenBatch {
    let n = idx
        .iter()
        .map(|&i| data.inputs[i].0.len())
        .max()
        .unwrap_or(0);
    let row = |v: &[u32], fill: u32| -> Vec<i64> {
        let mut r: Vec<i64> = v.iter().map(|&x| i64::from(x)).collect();
        r.resize(n, i64::from(fill));
        r
    };
    TokenBatch {
        input_ids: idx.iter().map(|&i| row(&data.inputs[i].0, pad)).collect(),
        token_type_ids: Some(idx.iter().map(|&i| row(&data.inputs[i].1, 0)).collect()),
        attention_mask: Some(
            idx.iter()
                .map(|&i| {
                    let mut m = vec![1i64; data.inputs[i].0.len()];
                    m.resize(n, 0);
                    m
                })
                .collect(),
        ),
    }
}

fn loss(
    model: &AlbertForSequenceClassification,
    config: &AlbertConfig,
    data: &SeqClsData,
    idx: &[usize],
    pad: u32,
    device: &Device,
) -> Result<Tensor<1>> {
    let input = batch(data, idx, pad).to_input(config, device)?;
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
) -> Result<Predictions> {
    let mut classes = Vec::new();
    let mut scores = Vec::new();
    let all: Vec<usize> = (0..data.inputs.len()).collect();
    for idx in all.chunks(batch_size.max(1)) {
        let input = batch(data, idx, pad).to_input(config, device)?;
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

/// What a fine-tuning run produced.
#[derive(Debug, Clone)]
pub struct FinetuneSummary {
    /// Dev metrics after each epoch.
    pub epochs: Vec<BTreeMap<String, f64>>,
    /// The epoch (1-based) of the best model and its metrics.
    pub best: (usize, BTreeMap<String, f64>),
    /// The best model's directory (HF layout).
    pub model_dir: PathBuf,
}

/// Where the run's files go.
#[derive(Debug, Clone)]
pub struct RunFiles<'a> {
    /// The output directory.
    pub out: &'a Path,
    /// Tokenizer files copied next to the model.
    pub tokenizer_files: &'a [PathBuf],
    /// Whether to print progress on stderr.
    pub progress: bool,
}

/// Fine-tunes `model` (its config carries the label names) on `train`, evaluating on `dev`
/// after every epoch, and keeps the best model by `main_metric` under `out/model`.
#[allow(clippy::too_many_arguments)]
pub fn finetune(
    mut model: AlbertForSequenceClassification,
    hf: &HfConfig,
    train: &SeqClsData,
    dev: &SeqClsData,
    pad: u32,
    config: &FinetuneConfig,
    main_metric: &str,
    files: &RunFiles<'_>,
    device: &Device,
) -> Result<FinetuneSummary> {
    config.validate()?;
    let out = files.out;
    std::fs::create_dir_all(out).map_err(|e| HeadsError::data(out, None, e.to_string()))?;
    let log = out.join("metrics.jsonl");
    if log.exists() {
        std::fs::remove_file(&log).map_err(|e| HeadsError::data(&log, None, e.to_string()))?;
    }
    let ad = device.clone().autodiff();
    model = model.fork(&ad).train();
    let mut optim = AdamWConfig::new()
        .with_weight_decay(config.weight_decay as f32)
        .with_epsilon(1e-6)
        .init()
        .with_group(
            ParamGroup::from_any_predicates(NO_DECAY.to_vec()),
            AdamWConfig::new()
                .with_weight_decay(0.0)
                .with_epsilon(1e-6)
                .build(),
            None,
        );
    let steps_per_epoch = train.inputs.len().div_ceil(config.batch_size);
    let total = (steps_per_epoch * config.epochs) as u64;
    let schedule = Schedule {
        peak: config.learning_rate,
        warmup_steps: (config.warmup_ratio * total as f64).round() as u64,
        total_steps: total,
        power: 1.0,
    };
    let labels = hf.config.labels.clone().unwrap_or_default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
    let mut step = 0u64;
    let mut summary = FinetuneSummary {
        epochs: Vec::new(),
        best: (0, BTreeMap::new()),
        model_dir: out.join("model"),
    };
    for epoch in 1..=config.epochs {
        let mut order: Vec<usize> = (0..train.inputs.len()).collect();
        order.shuffle(&mut rng);
        let (mut loss_sum, mut seen, start) = (0.0f64, 0usize, Instant::now());
        for idx in order.chunks(config.batch_size) {
            let l = loss(&model, &hf.config, train, idx, pad, &ad)?;
            loss_sum += f64::from(l.clone().into_scalar::<f32>()) * idx.len() as f64;
            seen += idx.len();
            let mut grads = GradientsParams::from_grads(l.backward(), &model);
            if config.max_grad_norm > 0.0 {
                clip_global_norm(&model, &mut grads, config.max_grad_norm);
            }
            model = optim.step(schedule.learning_rate(step), model, grads);
            step += 1;
            if files.progress && (step.is_multiple_of(20) || seen == train.inputs.len()) {
                eprintln!(
                    "epoch {epoch}/{} step {step}/{total}: loss {:.4} {:.1} seq/s",
                    config.epochs,
                    loss_sum / seen as f64,
                    seen as f64 / start.elapsed().as_secs_f64().max(1e-9)
                );
            }
        }
        let valid = model.valid();
        let preds = predict(&valid, &hf.config, dev, config.batch_size, pad, device)?;
        let metrics = score(&dev.targets, &preds, &labels);
        append_jsonl(
            &log,
            &json!({"epoch": epoch, "step": step, "train_loss": loss_sum / seen.max(1) as f64, "dev": metrics}),
        )?;
        if files.progress {
            eprintln!("epoch {epoch}: dev {metrics:?}");
        }
        let value = metrics.get(main_metric).copied().unwrap_or(f64::NAN);
        let best_value = summary
            .best
            .1
            .get(main_metric)
            .copied()
            .unwrap_or(f64::NEG_INFINITY);
        if summary.best.0 == 0 || value > best_value {
            summary.best = (epoch, metrics.clone());
            save_model(&valid, hf, files, &summary.model_dir)?;
            write_predictions(&out.join("dev_predictions.jsonl"), dev, &preds, &labels)?;
        }
        summary.epochs.push(metrics);
    }
    write_json(
        &out.join("eval.json"),
        &json!({"best_epoch": summary.best.0, "metrics": summary.best.1}),
    )?;
    Ok(summary)
}

/// Writes the model in HF layout to `dir` via a temporary sibling directory and a rename.
fn save_model(
    model: &AlbertForSequenceClassification,
    hf: &HfConfig,
    files: &RunFiles<'_>,
    dir: &Path,
) -> Result<()> {
    let tmp = dir.with_extension("tmp");
    let io = |p: &Path, e: std::io::Error| HeadsError::data(p, None, e.to_string());
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    }
    export_hf(model, hf, &tmp)?;
    for f in files.tokenizer_files {
        if let Some(name) = f.file_name() {
            std::fs::copy(f, tmp.join(name)).map_err(|e| io(f, e))?;
        }
    }
    let old = dir.with_extension("old");
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(|e| io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| io(dir, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
    }
    Ok(())
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
