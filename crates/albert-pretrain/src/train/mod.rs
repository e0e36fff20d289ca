//! The pretraining loop (`run_pretraining.py`'s job): data epochs → micro-batches → MLM + SOP
//! loss → accumulated gradients → global-norm clipping → LAMB with warmup + polynomial decay;
//! a progress bar; a JSONL metrics log; held-out evaluation; atomic checkpoints with exact
//! resume; a chart; and the final model exported in HF layout with its tokenizer.

pub mod checkpoint;
pub mod config;
mod eval;
mod init;
pub mod metrics;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use albert_core::checkpoint::{export_hf, load_record, save_record};
use albert_core::{AlbertForPreTraining, HfConfig};
use albert_tokenizer::AlbertTokenizer;
use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::Device;

use crate::batch::collate;
use crate::data::{Instance, SentenceTask, TokenizedCorpus, epoch_instances};
use crate::error::{PretrainError, Result};
use crate::lamb::lamb;
use crate::objectives::{PretrainMetrics, pretrain_forward};
use albert_core::clip::{clip_global_norm, global_norm};
use checkpoint::{CheckpointDir, TrainState};
pub use config::{DataSection, ModelSection, PretrainConfig, RunSection};
use eval::evaluate;
pub use eval::{FinalEval, evaluate_sentence_tasks};
use metrics::MetricsRecord;

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
    corpus: &'a TokenizedCorpus,
    config: &'a crate::data::DataConfig,
    epoch: u64,
    offset: usize,
    instances: Vec<Instance>,
    created: usize,
    creation_seconds: f64,
}

impl<'a> DataStream<'a> {
    fn new(
        corpus: &'a TokenizedCorpus,
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
        self.instances = epoch_instances(self.corpus, self.config, self.epoch);
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

fn copy_tokenizer(tokenizer: &Path, dest: &Path) -> Result<()> {
    let files: Vec<PathBuf> = if tokenizer.is_dir() {
        ["spiece.model", "tokenizer.json", "tokenizer_config.json"]
            .iter()
            .map(|n| tokenizer.join(n))
            .filter(|p| p.is_file())
            .collect()
    } else {
        vec![tokenizer.to_path_buf()]
    };
    for f in files {
        if let Some(name) = f.file_name() {
            let bytes = std::fs::read(&f).map_err(|source| PretrainError::Io {
                path: f.clone(),
                source,
            })?;
            albert_core::io::write_atomic(dest.join(name), &bytes)?;
        }
    }
    Ok(())
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
    std::thread::scope(|scope| {
        let handles: Vec<_> = devices
            .iter()
            .zip(shards)
            .map(|(device, shard)| {
                let replica = model.clone().fork(device);
                scope.spawn(move || shard_step(&replica, device, main, shard, pad, task, scale))
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
    config.validate()?;
    let Some(device) = devices.first() else {
        return Err(PretrainError::Config("no device to train on".into()));
    };
    if config.run.checkpoint_every > 0
        && !config
            .run
            .checkpoint_every
            .is_multiple_of(config.run.log_every)
    {
        return Err(PretrainError::Config(format!(
            "[run] checkpoint_every {} must be a multiple of log_every {} (so a resumed run logs exactly as an uninterrupted one)",
            config.run.checkpoint_every, config.run.log_every
        )));
    }
    let checkpoints = CheckpointDir::new(out);
    let latest = checkpoints.latest()?;
    if !options.resume && latest.is_some() {
        return Err(PretrainError::Config(format!(
            "{} already holds a run; pass --resume to continue it or choose another output directory",
            out.display()
        )));
    }
    if options.resume && latest.is_none() {
        return Err(PretrainError::Config(format!(
            "--resume: {} has no checkpoint",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|source| PretrainError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    if !options.resume {
        albert_core::io::write_atomic(out.join("config.toml"), config.to_toml()?.as_bytes())?;
    }
    let say = |msg: &str| {
        if options.progress {
            eprintln!("{msg}");
        }
    };

    let tokenizer = AlbertTokenizer::from_path(&config.data.tokenizer)?;
    let corpus = TokenizedCorpus::from_files(
        &config.data.corpus,
        &tokenizer,
        config.instances.split_sentences,
    )?;
    let (train, held_out) = corpus.split_held_out(config.data.held_out_every)?;
    let (ts, hs) = (train.stats(), held_out.stats());
    if config.instances.sentence_task == SentenceTask::Nsp && ts.documents < 2 {
        // Random-next segments come from another document: with one, every NSP pair would be
        // "in order" and the sentence head would learn a constant.
        return Err(PretrainError::Corpus(format!(
            "sentence_task = \"nsp\" needs at least two training documents (random next \
             segments come from another document), but {} leaves {} after holding out every \
             {}th; add documents (blank line between them) or use \"sop\"",
            config
                .data
                .corpus
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            ts.documents,
            config.data.held_out_every
        )));
    }
    if hs.documents < 2 {
        say(&format!(
            "warning: {} held-out document(s): NSP pairs take their random next segment \
             from another document, so the final evaluation's nsp_accuracy will only see \
             in-order pairs",
            hs.documents
        ));
    }
    say(&format!(
        "corpus: {} training documents ({} segments, {} tokens), {} held-out documents",
        ts.documents, ts.segments, ts.tokens, hs.documents
    ));
    let albert_config = config.albert_config(tokenizer.vocab_size())?;
    let ad = device.clone().autodiff();
    let replicas: Vec<Device> = devices.iter().map(|d| d.clone().autodiff()).collect();
    let mut model = AlbertForPreTraining::init(&albert_config, config.run.seed, &ad);
    let mut optim = lamb(config.optimizer);
    let mut state = TrainState {
        step: 0,
        epoch: 0,
        offset: 0,
        best: None,
    };
    let metrics_path = out.join("metrics.jsonl");
    if let (None, Some(init)) = (&latest, &config.run.init) {
        let (loaded, report) = init::load_initial(model, init, &albert_config)?;
        model = loaded;
        say(&format!(
            "initialised from {}: {} tensors loaded{}",
            init.display(),
            report.loaded.len(),
            if report.missing.is_empty() {
                String::new()
            } else {
                format!(
                    ", freshly initialised (not in the checkpoint): {}",
                    report
                        .missing
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    if let Some(dir) = &latest {
        state = CheckpointDir::state(dir)?;
        model = load_record(model, dir.join("model.bpk"))?;
        optim = optim.load(dir.join("optim.bpk")).map_err(|e| {
            PretrainError::Corpus(format!("{}: {e}", dir.join("optim.bpk").display()))
        })?;
        metrics::truncate_after(&metrics_path, state.step)?;
        say(&format!(
            "resumed from {} (step {})",
            dir.display(),
            state.step
        ));
    } else if metrics_path.exists() {
        std::fs::remove_file(&metrics_path).map_err(|source| PretrainError::Io {
            path: metrics_path.clone(),
            source,
        })?;
    }

    let mut stream = DataStream::new(&train, &config.instances, state.epoch, state.offset)?;
    let eval_count = config.run.eval_batches * config.run.batch_size;
    let eval_set: Vec<Instance> = epoch_instances(&held_out, &config.eval_instances(), 0)
        .into_iter()
        .take(eval_count)
        .collect();
    let task = config.instances.sentence_task;
    let run = &config.run;
    let end = options.stop_after.map_or(run.steps, |s| s.min(run.steps));

    let bar = if options.progress && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(run.steps);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_position(state.step);
        Some(b)
    } else {
        None
    };

    let mut window = Window::default();
    let mut window_start = Instant::now();
    let mut consumed = (0.0f64, 0.0f64); // sequences, seconds
    let mut last_record = None;
    while state.step < end {
        let step_start = Instant::now();
        let mut accumulator = GradientsAccumulator::<AlbertForPreTraining>::new();
        let scale = run.gradient_accumulation * replicas.len();
        for _ in 0..run.gradient_accumulation {
            let shards = (0..replicas.len())
                .map(|_| stream.next_batch(run.batch_size))
                .collect::<Result<Vec<_>>>()?;
            let pad = tokenizer.special_ids().pad;
            for (grads, metrics, tokens) in micro_step(&model, &replicas, &shards, pad, task, scale)
            {
                window.add(&metrics, tokens);
                accumulator.accumulate(&model, grads);
            }
        }
        let mut grads = accumulator.grads();
        let grad_norm = if run.clip_norm > 0.0 {
            clip_global_norm(&model, &mut grads, run.clip_norm)
        } else {
            global_norm(&model, &grads)
        }
        .map_or(f64::NAN, |n| f64::from(n.into_scalar::<f32>()));
        let lr = config.schedule.learning_rate(state.step);
        model = optim.step(lr, model, grads);
        state.step += 1;
        state.epoch = stream.epoch;
        state.offset = stream.offset;
        consumed.0 += (run.batch_size * scale) as f64;
        consumed.1 += step_start.elapsed().as_secs_f64();

        let mut records = Vec::new();
        if state.step.is_multiple_of(run.log_every) || state.step == run.steps {
            let seconds = window_start.elapsed().as_secs_f64().max(1e-9);
            let mut r = window.record("train", state.step, task);
            r.learning_rate = Some(lr);
            r.grad_norm = Some(grad_norm);
            r.sequences_per_second = Some(window.sequences / seconds);
            r.tokens_per_second = Some(window.tokens / seconds);
            let line = format!(
                "step {}/{}: loss {:.4} mlm acc {:.3} sop acc {:.3} lr {:.2e} {:.1} seq/s",
                state.step,
                run.steps,
                r.loss,
                r.masked_lm_accuracy,
                r.sentence_order_accuracy,
                lr,
                window.sequences / seconds
            );
            match &bar {
                Some(b) => b.set_message(format!(
                    "loss {:.3} mlm {:.3} sop {:.3} {:.1} seq/s",
                    r.loss,
                    r.masked_lm_accuracy,
                    r.sentence_order_accuracy,
                    window.sequences / seconds
                )),
                None => say(&line),
            }
            records.push(r);
            window = Window::default();
            window_start = Instant::now();
        }
        let is_last = state.step == run.steps;
        let eval_now = !eval_set.is_empty()
            && ((run.eval_every > 0 && state.step.is_multiple_of(run.eval_every)) || is_last);
        let mut improved = false;
        if eval_now {
            let r = evaluate(&model, &eval_set, config, device, state.step);
            if state.best.is_none_or(|(acc, _)| r.masked_lm_accuracy > acc) {
                state.best = Some((r.masked_lm_accuracy, state.step));
                improved = true;
            }
            let line = format!(
                "eval at step {}: loss {:.4} mlm acc {:.3} (unigram baseline {:.3}) sop acc {:.3}",
                state.step,
                r.loss,
                r.masked_lm_accuracy,
                r.masked_lm_unigram_baseline.unwrap_or(f64::NAN),
                r.sentence_order_accuracy
            );
            match &bar {
                Some(b) => b.println(line),
                None => say(&line),
            }
            last_record = Some(r.clone());
            records.push(r);
        }
        metrics::append(&metrics_path, &records)?;
        if let Some(b) = &bar {
            b.set_position(state.step);
        }
        let checkpoint_now = (run.checkpoint_every > 0
            && state.step.is_multiple_of(run.checkpoint_every))
            || is_last;
        if checkpoint_now {
            checkpoints.save(&state, improved, run.keep_last, |dir| {
                save_record(&model, dir.join("model.bpk"))?;
                optim.save(dir.join("optim.bpk")).map_err(|e| {
                    PretrainError::Corpus(format!("cannot save the optimiser state: {e}"))
                })
            })?;
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let records = metrics::read(&metrics_path)?;
    let mut summary = TrainSummary {
        steps: state.step,
        records,
        metrics_path: metrics_path.clone(),
        chart_path: None,
        model_dir: None,
        checkpoint: checkpoints.latest()?,
        instances_per_second: stream.created as f64 / stream.creation_seconds.max(1e-9),
        sequences_per_second: consumed.0 / consumed.1.max(1e-9),
        final_eval: None,
    };
    if state.step < run.steps {
        return Ok(summary);
    }
    let chart = out.join("curves.svg");
    metrics::chart(
        &summary.records,
        &chart,
        &format!("ALBERT pretraining ({} steps)", state.step),
    )?;
    let model_dir = out.join("model");
    let mut hf = HfConfig::new(albert_config);
    hf.architectures = vec!["AlbertForPreTraining".into()];
    export_hf(&model, &hf, &model_dir)?;
    copy_tokenizer(&config.data.tokenizer, &model_dir)?;
    if let Some(r) = &last_record {
        say(&format!(
            "held-out: masked-LM accuracy {:.4}, sentence-order accuracy {:.4}",
            r.masked_lm_accuracy, r.sentence_order_accuracy
        ));
    }
    let final_eval = evaluate_sentence_tasks(
        &model,
        &held_out,
        config,
        device,
        state.step,
        4 * eval_count,
    );
    let json = serde_json::to_string_pretty(&final_eval)
        .map_err(|e| PretrainError::Config(e.to_string()))?;
    albert_core::io::write_atomic(out.join("final_eval.json"), json.as_bytes())?;
    say(&format!(
        "final held-out evaluation ({} instances per task): masked-LM {:.4} (unigram baseline {:.4}), SOP {:.4}, NSP {:.4} -> {}",
        final_eval.instances,
        final_eval.masked_lm_accuracy,
        final_eval.masked_lm_unigram_baseline,
        final_eval.sop_accuracy,
        final_eval.nsp_accuracy,
        out.join("final_eval.json").display()
    ));
    summary.final_eval = Some(final_eval);
    summary.chart_path = Some(chart);
    summary.model_dir = Some(model_dir);
    Ok(summary)
}
