//! The pretraining loop (`run_pretraining.py`'s job): data epochs → micro-batches → MLM + SOP
//! loss → accumulated gradients → global-norm clipping → LAMB with warmup + polynomial decay;
//! a progress bar; a JSONL metrics log; held-out evaluation; atomic checkpoints with exact
//! resume; a chart; and the final model exported in HF layout with its tokenizer.

pub mod checkpoint;
pub mod config;
mod eval;
mod init;
pub mod metrics;
mod progress;
mod session;

use std::path::{Path, PathBuf};
use std::time::Instant;

use albert_core::AlbertForPreTraining;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;

use crate::batch::collate;
use crate::data::{Instance, SentenceTask, TokenizedCorpus, epoch_instances};
use crate::error::{PretrainError, Result};
use crate::objectives::{PretrainMetrics, pretrain_forward};
pub use config::{DataSection, ModelSection, PretrainConfig, RunSection};
pub use eval::{FinalEval, evaluate_sentence_tasks};
use metrics::MetricsRecord;
use progress::Progress;
use session::Session;

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Continue from the latest checkpoint in the output directory.
    pub resume: bool,
    /// Draw a progress bar (on a terminal) or print a line per log interval (otherwise).
    pub progress: bool,
    /// Stop after this step as if killed: no checkpoint is written for the steps after the last
    /// regular one (tests use it to simulate an interruption).
    pub stop_after: Option<u64>,
}

/// What a finished (or stopped) run produced.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// Steps done.
    pub steps: u64,
    /// Every record written to the metrics log (resumed runs included).
    pub records: Vec<MetricsRecord>,
    /// The metrics log.
    pub metrics_path: PathBuf,
    /// The chart, when the run finished.
    pub chart_path: Option<PathBuf>,
    /// The exported HF model directory, when the run finished.
    pub model_dir: Option<PathBuf>,
    /// The latest checkpoint.
    pub checkpoint: Option<PathBuf>,
    /// Instances created per second (the data pipeline's throughput).
    pub instances_per_second: f64,
    /// Sequences consumed per second by training steps.
    pub sequences_per_second: f64,
    /// The end-of-run evaluation (`final_eval.json`), when the run finished.
    pub final_eval: Option<FinalEval>,
}

/// Instances in order across epochs, regenerated per epoch as the config says.
struct DataStream<'a> {
    corpus: TokenizedCorpus,
    config: &'a crate::data::DataConfig,
    epoch: u64,
    offset: usize,
    instances: Vec<Instance>,
    created: usize,
    creation_seconds: f64,
}

impl<'a> DataStream<'a> {
    fn new(
        corpus: TokenizedCorpus,
        config: &'a crate::data::DataConfig,
        epoch: u64,
        offset: usize,
    ) -> Result<Self> {
        let mut s = Self {
            corpus,
            config,
            epoch,
            offset,
            instances: Vec::new(),
            created: 0,
            creation_seconds: 0.0,
        };
        s.load_epoch()?;
        Ok(s)
    }

    fn load_epoch(&mut self) -> Result<()> {
        let t = Instant::now();
        self.instances = epoch_instances(&self.corpus, self.config, self.epoch);
        self.creation_seconds += t.elapsed().as_secs_f64();
        self.created += self.instances.len();
        if self.instances.is_empty() {
            return Err(PretrainError::Corpus(
                "the training documents yield no instance (every document has a single segment and single chunks are skipped?)".into(),
            ));
        }
        Ok(())
    }

    fn next_batch(&mut self, n: usize) -> Result<Vec<Instance>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            if self.offset >= self.instances.len() {
                self.epoch += 1;
                self.offset = 0;
                self.load_epoch()?;
            }
            let take = (n - out.len()).min(self.instances.len() - self.offset);
            out.extend_from_slice(&self.instances[self.offset..self.offset + take]);
            self.offset += take;
        }
        Ok(out)
    }
}

/// Sums of metrics over batches, for averages.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Window {
    batches: f64,
    mlm_loss: f64,
    sop_loss: f64,
    mlm_correct: f64,
    predictions: f64,
    sop_correct: f64,
    sequences: f64,
    tokens: f64,
}

impl Window {
    pub(super) fn add(&mut self, m: &PretrainMetrics, tokens: usize) {
        self.batches += 1.0;
        self.mlm_loss += m.masked_lm_loss;
        self.sop_loss += m.sentence_order_loss;
        self.mlm_correct += m.masked_lm_accuracy * m.predictions as f64;
        self.predictions += m.predictions as f64;
        self.sop_correct += m.sentence_order_accuracy * m.sequences as f64;
        self.sequences += m.sequences as f64;
        self.tokens += tokens as f64;
    }

    pub(super) fn record(&self, kind: &str, step: u64, task: SentenceTask) -> MetricsRecord {
        let b = self.batches.max(1.0);
        let mlm_loss = self.mlm_loss / b;
        let sop_loss = (task != SentenceTask::None).then_some(self.sop_loss / b);
        MetricsRecord {
            kind: kind.into(),
            step,
            loss: mlm_loss + sop_loss.unwrap_or(0.0),
            masked_lm_loss: mlm_loss,
            masked_lm_accuracy: self.mlm_correct / self.predictions.max(1.0),
            sentence_order_loss: sop_loss,
            sentence_order_accuracy: self.sop_correct / self.sequences.max(1.0),
            learning_rate: None,
            grad_norm: None,
            sequences_per_second: None,
            tokens_per_second: None,
            masked_lm_unigram_baseline: None,
        }
    }
}

/// What one replica returns for its shard of a micro-batch: gradients (on the main device),
/// metrics and the token count.
type ShardResult = (GradientsParams, PretrainMetrics, usize);

/// Forward + backward of one shard on one replica; the loss is scaled by `1/scale` so that the
/// summed gradients of all shards and micro-batches are the mean.
fn shard_step(
    model: &AlbertForPreTraining,
    device: &Device,
    main: &Device,
    shard: &[Instance],
    pad: u32,
    task: SentenceTask,
    scale: usize,
) -> ShardResult {
    let batch = collate(shard, None, pad, device);
    let out = pretrain_forward(model, &batch, task);
    let metrics = out.metrics(&batch);
    let loss = out.loss / scale as f64;
    let grads = GradientsParams::from_grads(loss.backward(), model);
    let grads = if device == main {
        grads
    } else {
        grads.to_device(main, model)
    };
    (grads, metrics, batch.tokens)
}

/// One micro-batch over every replica: data parallelism with the optimiser on the main device
/// (burn-train's `MultiDeviceOptim::OptimMainDevice`). Each replica is a copy of the main
/// model forked onto its device; it runs its shard in its own thread; the gradients come back
/// to the main device and are summed there in replica order, so the result is the same as
/// running the shards one after the other with gradient accumulation.
fn micro_step(
    model: &AlbertForPreTraining,
    devices: &[Device],
    shards: &[Vec<Instance>],
    pad: u32,
    task: SentenceTask,
    scale: usize,
) -> Vec<ShardResult> {
    let main = &devices[0];
    if devices.len() == 1 {
        return vec![shard_step(model, main, main, &shards[0], pad, task, scale)];
    }
    let precision = albert_core::precision::current();
    std::thread::scope(|scope| {
        let handles: Vec<_> = devices
            .iter()
            .zip(shards)
            .map(|(device, shard)| {
                let replica = model.clone().fork(device);
                scope.spawn(move || {
                    let _precision = albert_core::precision::autocast(precision);
                    shard_step(&replica, device, main, shard, pad, task, scale)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Runs (or resumes) pretraining into `out` on `devices` (the autodiff versions of them are used
/// for training). One device is ordinary training; several are data-parallel replicas, the
/// first holding the model and the optimiser: each micro-batch of `batch_size` sequences per
/// replica, so the effective batch is `batch_size × replicas × gradient_accumulation`.
pub fn pretrain(
    config: &PretrainConfig,
    out: &Path,
    devices: &[Device],
    options: &TrainOptions,
) -> Result<TrainSummary> {
    let _precision = albert_core::precision::autocast(config.run.precision);
    let mut session = Session::setup(config, out, devices, options)?;
    let run = &config.run;
    let end = options.stop_after.map_or(run.steps, |s| s.min(run.steps));
    let mut progress = Progress::new(options.progress, run.steps, session.state.step);
    while session.state.step < end {
        let outcome = session.step()?;
        progress.add(&outcome);
        let step = session.state.step;
        let mut records = Vec::new();
        if step.is_multiple_of(run.log_every) || step == run.steps {
            let task = config.instances.sentence_task;
            records.push(progress.report(step, &outcome, task));
        }
        let improved = match session.evaluate_if_due() {
            Some((record, improved)) => {
                progress.eval(&record);
                records.push(record);
                improved
            }
            None => false,
        };
        metrics::append(&session.metrics_path, &records)?;
        progress.advance(step);
        session.checkpoint_if_due(improved)?;
    }
    progress.finish();
    session.finish()
}
