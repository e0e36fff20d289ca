//! The fine-tuning loop shared by every task: epochs over shuffled batches, AdamW (no decay on
//! LayerNorm parameters and biases) with linear warmup and decay, global-norm clipping, dev
//! evaluation after each epoch, the best model kept in HF layout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use albert_core::checkpoint::export_hf;
use albert_core::clip::clip_global_norm;
use albert_core::optim::NO_DECAY;
use albert_core::{AlbertConfig, HfConfig, Schedule};
use burn::module::{Module, ParamGroup};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use rand::seq::SliceRandom;
use serde_json::json;

use super::{FinetuneConfig, append_jsonl, write_json};
use crate::error::{HeadsError, Result};

/// What a task contributes to the loop: its model type, encoded data, loss, predictions, metrics
/// and predictions file.
pub trait FinetuneTask {
    /// The model (a head on the ALBERT body).
    type Model: Module;
    /// Encoded examples with their targets.
    type Data;
    /// The model's outputs over a data set.
    type Predictions;

    /// Number of examples.
    fn len(data: &Self::Data) -> usize;
    /// Mean loss over the examples `idx`.
    fn loss(
        model: &Self::Model,
        config: &AlbertConfig,
        data: &Self::Data,
        idx: &[usize],
        pad: u32,
        device: &Device,
    ) -> Result<Tensor<1>>;
    /// Predictions over all of `data`.
    fn predict(
        model: &Self::Model,
        config: &AlbertConfig,
        data: &Self::Data,
        batch_size: usize,
        pad: u32,
        device: &Device,
    ) -> Result<Self::Predictions>;
    /// Metrics by name.
    fn score(
        data: &Self::Data,
        preds: &Self::Predictions,
        labels: &[String],
    ) -> BTreeMap<String, f64>;
    /// One JSON line per example.
    fn write_predictions(
        path: &Path,
        data: &Self::Data,
        preds: &Self::Predictions,
        labels: &[String],
    ) -> Result<()>;
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
pub fn finetune<T: FinetuneTask>(
    mut model: T::Model,
    hf: &HfConfig,
    train: &T::Data,
    dev: &T::Data,
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
    // Dropout masks come from the backend's generator: seeded too, so that the same command
    // with the same seed trains the same weights (on flex the generator is process-wide).
    ad.seed(config.seed);
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
    let n_train = T::len(train);
    let steps_per_epoch = n_train.div_ceil(config.batch_size);
    let total = (steps_per_epoch * config.epochs) as u64;
    let schedule = Schedule {
        peak: config.learning_rate,
        warmup_steps: (config.warmup_ratio * total as f64).round() as u64,
        total_steps: total,
        power: 1.0,
    };
    let labels = hf.config.labels.clone().unwrap_or_default();
    let mut rng = albert_core::rng::seeded(config.seed);
    let mut step = 0u64;
    let mut summary = FinetuneSummary {
        epochs: Vec::new(),
        best: (0, BTreeMap::new()),
        model_dir: out.join("model"),
    };
    for epoch in 1..=config.epochs {
        let mut order: Vec<usize> = (0..n_train).collect();
        order.shuffle(&mut rng);
        let (mut loss_sum, mut seen, start) = (0.0f64, 0usize, Instant::now());
        for idx in order.chunks(config.batch_size) {
            let l = T::loss(&model, &hf.config, train, idx, pad, &ad)?;
            loss_sum += f64::from(l.clone().into_scalar::<f32>()) * idx.len() as f64;
            seen += idx.len();
            let mut grads = GradientsParams::from_grads(l.backward(), &model);
            if config.max_grad_norm > 0.0 {
                clip_global_norm(&model, &mut grads, config.max_grad_norm);
            }
            model = optim.step(schedule.learning_rate(step), model, grads);
            step += 1;
            if files.progress && (step.is_multiple_of(20) || seen == n_train) {
                eprintln!(
                    "epoch {epoch}/{} step {step}/{total}: loss {:.4} {:.1} seq/s",
                    config.epochs,
                    loss_sum / seen as f64,
                    seen as f64 / start.elapsed().as_secs_f64().max(1e-9)
                );
            }
        }
        let valid = model.valid();
        let preds = T::predict(&valid, &hf.config, dev, config.batch_size, pad, device)?;
        let metrics = T::score(dev, &preds, &labels);
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
            T::write_predictions(&out.join("dev_predictions.jsonl"), dev, &preds, &labels)?;
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
fn save_model<M: Module>(model: &M, hf: &HfConfig, files: &RunFiles<'_>, dir: &Path) -> Result<()> {
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
    if old.exists() {
        // Left by an interrupted earlier save; `dir` itself is complete.
        std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
    }
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(|e| io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| io(dir, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
    }
    Ok(())
}
