//! The fine-tuning loop shared by every task: epochs over shuffled batches, AdamW (no decay on
//! LayerNorm parameters and biases) with linear warmup and decay, gradient accumulation,
//! global-norm clipping, dev evaluation after each epoch or every `eval_steps` steps with early
//! stopping, the best model kept in HF layout, and a checkpoint at every evaluation from which
//! `resume` continues exactly (the same weights as an uninterrupted run).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use albert_core::checkpoint::{CheckpointDir, export_hf, load_record, save_record};
use albert_core::clip::clip_global_norm;
use albert_core::optim::NO_DECAY;
use albert_core::{AlbertConfig, AlbertModel, HfConfig, Schedule};
use burn::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::module::{Module, ParamGroup};
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{FinetuneConfig, append_jsonl, write_json};
use crate::error::{HeadsError, Result};
use crate::progress::Progress;

/// What a task contributes to the loop: its model type, encoded data, loss, predictions, metrics
/// and predictions file.
pub trait FinetuneTask {
    /// The model (a head on the ALBERT body).
    type Model: Module;
    /// Encoded examples with their targets.
    type Data;
    /// The model's outputs over a data set.
    type Predictions;

    /// The model's ALBERT body (every parameter outside it belongs to the head, which
    /// `head_learning_rate` applies to).
    fn body(model: &Self::Model) -> &AlbertModel;
    /// Number of model inputs: the examples, or the windows or features that long ones are
    /// split into.
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
    /// Predictions over all of `data`, `progress` advanced by the examples (or windows) of each
    /// batch.
    fn predict(
        model: &Self::Model,
        config: &AlbertConfig,
        data: &Self::Data,
        batch_size: usize,
        pad: u32,
        device: &Device,
        progress: &Progress,
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

/// One evaluation on the dev data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Optimiser steps done when it ran.
    pub step: u64,
    /// The epoch (1-based) it ran in (at its end, or during it with `eval_steps`).
    pub epoch: usize,
    /// Mean training loss since the previous evaluation.
    pub train_loss: f64,
    /// Dev metrics by name.
    pub metrics: BTreeMap<String, f64>,
}

/// What a fine-tuning run produced.
#[derive(Debug, Clone)]
pub struct FinetuneSummary {
    /// Every evaluation, in order (after each epoch, or every `eval_steps`).
    pub evaluations: Vec<Evaluation>,
    /// The best evaluation by the main metric; its model is [`Self::model_dir`].
    pub best: Evaluation,
    /// The best model's directory (HF layout).
    pub model_dir: PathBuf,
    /// Whether early stopping ended the run before its last epoch.
    pub stopped_early: bool,
}

/// Where the run's files go.
#[derive(Debug, Clone)]
pub struct RunFiles<'a> {
    /// The output directory.
    pub out: &'a Path,
    /// Tokenizer files copied next to the model.
    pub tokenizer_files: &'a [PathBuf],
    /// Whether to show progress on stderr (a bar on a terminal).
    pub progress: bool,
    /// Continue the run in `out` from its newest valid checkpoint instead of starting afresh.
    pub resume: bool,
}

/// Where a run stands after an evaluation: with the model and optimiser records, all a resumed
/// run needs to continue exactly (`state.json` of each checkpoint, with the files' digests).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RunState {
    /// The settings it was started with; a resume with other settings is refused.
    config: FinetuneConfig,
    /// Optimiser steps done.
    step: u64,
    /// The epoch (1-based) to continue in.
    epoch: usize,
    /// Examples of that epoch's order already trained on.
    offset: usize,
    /// Every evaluation so far.
    evaluations: Vec<Evaluation>,
    /// Index in `evaluations` of the best one.
    best: Option<usize>,
    /// Evaluations in a row without improvement.
    stale: usize,
    /// Whether early stopping ended the run.
    stopped: bool,
}

/// The backend seed of step `step` (dropout masks): each step's draws depend on the run's seed
/// and the step alone, so a resumed run draws what an uninterrupted one would.
fn step_seed(seed: u64, step: u64) -> u64 {
    // SplitMix64's finaliser over the pair.
    let mut z = seed ^ step.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn adamw(config: &FinetuneConfig) -> ModuleOptimizer {
    AdamWConfig::new()
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
        )
}

/// Fine-tunes `model` (its config carries the label names) on `train`, evaluating on `dev`
/// after every epoch (or every `config.eval_steps`), and keeps the best model by `main_metric`
/// under `out/model`. Each evaluation also writes a checkpoint under `out/checkpoints` (model,
/// optimiser and [`RunState`], with SHA-256 digests); with `files.resume` the run continues
/// from the newest one that verifies.
#[allow(clippy::too_many_arguments)]
pub fn finetune<T: FinetuneTask>(
    model: T::Model,
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
    let io = |p: &Path, e: std::io::Error| HeadsError::data(p, None, e.to_string());
    std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
    let checkpoints = CheckpointDir::new(out);
    let log = out.join("metrics.jsonl");
    let ad = device.clone().autodiff();
    let mut model = model.fork(&ad).train();
    let mut optim = adamw(config);
    let mut state = RunState {
        config: *config,
        step: 0,
        epoch: 1,
        offset: 0,
        evaluations: Vec::new(),
        best: None,
        stale: 0,
        stopped: false,
    };
    match (files.resume, checkpoints.exists()?) {
        (false, true) => {
            return Err(HeadsError::Run {
                path: out.to_path_buf(),
                message: "already holds a fine-tuning run (checkpoints/); pass --resume to \
                          continue it or choose another output directory"
                    .into(),
            });
        }
        (true, false) => {
            return Err(HeadsError::Run {
                path: out.to_path_buf(),
                message: "--resume: no checkpoint to continue from".into(),
            });
        }
        (true, true) => {
            // A corrupt or incomplete checkpoint is never resumed from: said on stderr.
            let (dir, saved): (PathBuf, RunState) =
                checkpoints.newest_valid(|m| eprintln!("warning: {m}"))?;
            if saved.config != *config {
                return Err(HeadsError::Run {
                    path: dir.join("state.json"),
                    message: format!(
                        "the checkpoint was written with other settings: {:?}; this run asks \
                         for {:?}",
                        saved.config, config
                    ),
                });
            }
            model = load_record(model, dir.join("model.bpk"))?;
            let path = dir.join("optim.bpk");
            optim = optim.load(&path).map_err(|e| HeadsError::OptimizerState {
                path: path.clone(),
                message: e.to_string(),
            })?;
            state = saved;
            truncate_log(&log, state.step)?;
            if files.progress {
                eprintln!("resumed from {} (step {})", dir.display(), state.step);
            }
        }
        (false, false) => {
            if log.exists() {
                std::fs::remove_file(&log).map_err(|e| io(&log, e))?;
            }
        }
    }

    let n_train = T::len(train);
    let effective = config.batch_size * config.gradient_accumulation_steps;
    let steps_per_epoch = n_train.div_ceil(effective);
    let total = (steps_per_epoch * config.epochs) as u64;
    let schedule = Schedule {
        peak: config.learning_rate,
        warmup_steps: (config.warmup_ratio * total as f64).round() as u64,
        total_steps: total,
        power: 1.0,
    };
    // With `head_learning_rate`, the body's parameters follow `learning_rate` and the head's
    // that rate, on one warmup-and-decay shape; without it one rate serves all.
    let head = config.head_learning_rate.map(|h| {
        (
            h / config.learning_rate,
            ParamGroup::ids_from_module(T::body(&model).clone()),
        )
    });
    let learning_rates = |step: u64| -> ModuleLearningRate {
        let lr = schedule.learning_rate(step);
        match &head {
            None => lr.into(),
            Some((factor, body)) => ModuleLrScheduler::new(lr * factor)
                .with_group(body.clone(), lr)
                .step(),
        }
    };
    let labels = hf.config.labels.clone().unwrap_or_default();
    // The data order of every epoch comes from one generator: replay the finished epochs'
    // shuffles so a resumed run sees the order an uninterrupted one would.
    let mut rng = albert_core::rng::seeded(config.seed);
    let mut next_order = || {
        let mut order: Vec<usize> = (0..n_train).collect();
        order.shuffle(&mut rng);
        order
    };
    for _ in 1..state.epoch {
        next_order();
    }
    let progress = Progress::new(files.progress, Some(total), state.step, "steps", 20);
    let mut run = Loop::<T> {
        hf,
        dev,
        pad,
        config,
        main_metric,
        files,
        device,
        labels: &labels,
        checkpoints: &checkpoints,
        log: &log,
        loss: (0.0, 0),
        _task: std::marker::PhantomData,
    };
    while !state.stopped && state.epoch <= config.epochs {
        let order = next_order();
        let start = state.offset;
        for group in order[start..].chunks(effective) {
            ad.seed(step_seed(config.seed, state.step));
            let mut accumulated = GradientsAccumulator::new();
            for idx in group.chunks(config.batch_size) {
                let l = T::loss(&model, &hf.config, train, idx, pad, &ad)?;
                run.loss.0 += f64::from(l.clone().into_scalar::<f32>()) * idx.len() as f64;
                run.loss.1 += idx.len();
                // The mean over the whole group: each batch weighted by its share.
                let l = if idx.len() == group.len() {
                    l
                } else {
                    l.mul_scalar(idx.len() as f64 / group.len() as f64)
                };
                accumulated.accumulate(&model, GradientsParams::from_grads(l.backward(), &model));
            }
            let mut grads = accumulated.grads();
            if config.max_grad_norm > 0.0 {
                clip_global_norm(&model, &mut grads, config.max_grad_norm);
            }
            model = optim.step(learning_rates(state.step), model, grads);
            state.step += 1;
            state.offset += group.len();
            let loss = run.loss.0 / run.loss.1.max(1) as f64;
            let epoch = state.epoch;
            let rate = progress.rate(state.step) * effective as f64;
            progress.update(state.step, || {
                format!(
                    "epoch {epoch}/{}: loss {loss:.4} {rate:.1} seq/s",
                    config.epochs
                )
            });
            let end_of_epoch = state.offset == n_train;
            if config.eval_steps > 0
                && state.step.is_multiple_of(config.eval_steps)
                && !end_of_epoch
            {
                run.evaluate(&model, &optim, &mut state, &progress)?;
                if state.stopped {
                    break;
                }
            }
        }
        let last = state.epoch == config.epochs;
        let evaluated = state
            .evaluations
            .last()
            .is_some_and(|e| e.step == state.step);
        let due = config.eval_steps == 0 || state.step.is_multiple_of(config.eval_steps) || last;
        if !state.stopped {
            state.epoch += 1;
            state.offset = 0;
            if due && !evaluated {
                run.evaluate(&model, &optim, &mut state, &progress)?;
            }
        }
    }
    progress.finish();
    let best = state
        .best
        .and_then(|i| state.evaluations.get(i).cloned())
        .ok_or_else(|| HeadsError::Head("the run made no evaluation".into()))?;
    write_json(
        &out.join("eval.json"),
        &json!({
            "best_epoch": best.epoch,
            "best_step": best.step,
            "metrics": best.metrics,
            "stopped_early": state.stopped,
        }),
    )?;
    Ok(FinetuneSummary {
        evaluations: state.evaluations,
        best,
        model_dir: out.join("model"),
        stopped_early: state.stopped,
    })
}

/// What an evaluation needs besides the model and the run's state.
struct Loop<'a, T: FinetuneTask> {
    hf: &'a HfConfig,
    dev: &'a T::Data,
    pad: u32,
    config: &'a FinetuneConfig,
    main_metric: &'a str,
    files: &'a RunFiles<'a>,
    device: &'a Device,
    labels: &'a [String],
    checkpoints: &'a CheckpointDir,
    log: &'a Path,
    /// Training loss summed over the examples since the last evaluation, and their count.
    loss: (f64, usize),
    _task: std::marker::PhantomData<T>,
}

impl<T: FinetuneTask> Loop<'_, T> {
    /// Scores the dev data; keeps the model when it is the best so far; logs; checkpoints;
    /// decides on early stopping.
    fn evaluate(
        &mut self,
        model: &T::Model,
        optim: &ModuleOptimizer,
        state: &mut RunState,
        progress: &Progress,
    ) -> Result<()> {
        let (config, out) = (self.config, self.files.out);
        let valid = model.valid();
        let preds = T::predict(
            &valid,
            &self.hf.config,
            self.dev,
            config.batch_size,
            self.pad,
            self.device,
            &Progress::disabled(),
        )?;
        let metrics = T::score(self.dev, &preds, self.labels);
        // The epoch the evaluation belongs to: the one just finished at an epoch's end.
        let epoch = if state.offset == 0 {
            state.epoch - 1
        } else {
            state.epoch
        };
        let evaluation = Evaluation {
            step: state.step,
            epoch,
            train_loss: self.loss.0 / self.loss.1.max(1) as f64,
            metrics,
        };
        self.loss = (0.0, 0);
        append_jsonl(
            self.log,
            &json!({"epoch": evaluation.epoch, "step": evaluation.step,
                    "train_loss": evaluation.train_loss, "dev": evaluation.metrics}),
        )?;
        progress.println(format!(
            "step {} (epoch {}): dev {:?}",
            evaluation.step, evaluation.epoch, evaluation.metrics
        ));
        let value = evaluation
            .metrics
            .get(self.main_metric)
            .copied()
            .unwrap_or(f64::NAN);
        let best_value = state
            .best
            .and_then(|i| state.evaluations.get(i))
            .and_then(|e| e.metrics.get(self.main_metric).copied())
            .unwrap_or(f64::NEG_INFINITY);
        let improved = state.best.is_none() || value > best_value;
        state.evaluations.push(evaluation);
        if improved {
            state.best = Some(state.evaluations.len() - 1);
            state.stale = 0;
            save_model(&valid, self.hf, self.files, &out.join("model"))?;
            T::write_predictions(
                &out.join("dev_predictions.jsonl"),
                self.dev,
                &preds,
                self.labels,
            )?;
        } else {
            state.stale += 1;
            if config.early_stopping_patience > 0 && state.stale >= config.early_stopping_patience {
                state.stopped = true;
                progress.println(format!(
                    "early stopping: {} evaluations without a better {}",
                    state.stale, self.main_metric
                ));
            }
        }
        self.checkpoints
            .save(state.step, &*state, improved, 2, |dir| -> Result<()> {
                save_record(model, dir.join("model.bpk"))?;
                let path = dir.join("optim.bpk");
                optim.save(&path).map_err(|e| HeadsError::OptimizerState {
                    path: path.clone(),
                    message: e.to_string(),
                })
            })?;
        Ok(())
    }
}

/// Drops the lines of a resumed run's log written after `step` (by the interrupted run, past
/// the checkpoint it resumes from; a line it tore when killed does not parse and goes too). An
/// absent log is empty; an unreadable one is an error.
fn truncate_log(path: &Path, step: u64) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(HeadsError::data(path, None, e.to_string())),
    };
    let kept: String = text
        .lines()
        .filter(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("step").and_then(serde_json::Value::as_u64))
                .is_some_and(|s| s <= step)
        })
        .map(|line| format!("{line}\n"))
        .collect();
    albert_core::io::write_atomic(path, kept.as_bytes())?;
    Ok(())
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
