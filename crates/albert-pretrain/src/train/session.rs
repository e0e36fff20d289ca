//! One pretraining run as named steps: [`Session::setup`] (validation, corpus, model, resume),
//! [`Session::step`] (one optimisation step over every micro-batch and replica),
//! [`Session::evaluate_if_due`], [`Session::checkpoint_if_due`] and [`Session::finish`] (chart,
//! HF export, final held-out evaluation).

use std::path::{Path, PathBuf};
use std::time::Instant;

use albert_core::checkpoint::{export_hf, load_record, save_record};
use albert_core::clip::{clip_global_norm, global_norm};
use albert_core::{AlbertConfig, AlbertForPreTraining, HfConfig};
use albert_tokenizer::AlbertTokenizer;
use burn::optim::{GradientsAccumulator, ModuleOptimizer};
use burn::tensor::Device;

use super::checkpoint::{CheckpointDir, TrainState};
use super::eval::evaluate;
use super::{
    DataStream, MetricsRecord, PretrainConfig, TrainOptions, TrainSummary, evaluate_sentence_tasks,
    init, metrics, micro_step,
};
use crate::data::{Instance, SentenceTask, TokenizedCorpus, epoch_instances};
use crate::error::{PretrainError, Result};
use crate::lamb::lamb;
use crate::objectives::PretrainMetrics;

/// What one optimisation step did, for the progress report.
#[derive(Debug, Clone)]
pub(super) struct StepOutcome {
    /// The learning rate it used.
    pub(super) learning_rate: f64,
    /// The global gradient norm before clipping.
    pub(super) grad_norm: f64,
    /// Each shard's metrics and token count.
    pub(super) shards: Vec<(PretrainMetrics, usize)>,
}

/// A run in progress: its model, optimiser, data position and files.
pub(super) struct Session<'a> {
    config: &'a PretrainConfig,
    out: &'a Path,
    progress: bool,
    /// The main device (evaluation runs on it, without autodiff).
    device: Device,
    /// The autodiff devices of the replicas; the first holds the model and the optimiser.
    replicas: Vec<Device>,
    tokenizer: AlbertTokenizer,
    albert_config: AlbertConfig,
    held_out: TokenizedCorpus,
    stream: DataStream<'a>,
    eval_set: Vec<Instance>,
    /// The model (out of its slot only while the optimiser steps it: [`Session::model`]).
    model: Option<AlbertForPreTraining>,
    optim: ModuleOptimizer,
    checkpoints: CheckpointDir,
    /// Step, data position and best held-out accuracy: what a checkpoint records.
    pub(super) state: TrainState,
    /// The metrics log.
    pub(super) metrics_path: PathBuf,
    /// The latest held-out evaluation.
    last_eval: Option<MetricsRecord>,
    /// Sequences consumed and seconds spent in training steps.
    consumed: (f64, f64),
}

impl<'a> Session<'a> {
    /// Validates the settings and the output directory, reads and splits the corpus, builds the
    /// model and optimiser, and restores the latest checkpoint (`--resume`) or the `[run] init`
    /// weights.
    pub(super) fn setup(
        config: &'a PretrainConfig,
        out: &'a Path,
        devices: &[Device],
        options: &TrainOptions,
    ) -> Result<Self> {
        config.validate()?;
        let Some(device) = devices.first().cloned() else {
            return Err(PretrainError::Config("no device to train on".into()));
        };
        let run = &config.run;
        if run.checkpoint_every > 0 && !run.checkpoint_every.is_multiple_of(run.log_every) {
            return Err(PretrainError::Config(format!(
                "[run] checkpoint_every {} must be a multiple of log_every {} (so a resumed run logs exactly as an uninterrupted one)",
                run.checkpoint_every, run.log_every
            )));
        }
        let checkpoints = CheckpointDir::new(out);
        match (options.resume, checkpoints.exists()?) {
            (false, true) => {
                return Err(PretrainError::Config(format!(
                    "{} already holds a run; pass --resume to continue it or choose another output directory",
                    out.display()
                )));
            }
            (true, false) => {
                return Err(PretrainError::Config(format!(
                    "--resume: {} has no checkpoint",
                    out.display()
                )));
            }
            _ => {}
        }
        // A corrupt or incomplete checkpoint is never resumed from: always said on stderr.
        let latest = if options.resume {
            Some(checkpoints.newest_valid(|m| eprintln!("warning: {m}"))?)
        } else {
            None
        };
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
        let (train, held_out) = read_corpus(config, &tokenizer, say)?;
        let albert_config = config.albert_config(tokenizer.vocab_size())?;
        let replicas: Vec<Device> = devices.iter().map(|d| d.clone().autodiff()).collect();
        let mut model = AlbertForPreTraining::init(&albert_config, run.seed, &replicas[0]);
        let mut optim = lamb(config.optimizer);
        let mut state = TrainState {
            step: 0,
            epoch: 0,
            offset: 0,
            best: None,
        };
        let metrics_path = out.join("metrics.jsonl");
        if let (None, Some(init)) = (&latest, &run.init) {
            let (loaded, report) = init::load_initial(model, init, &albert_config)?;
            model = loaded;
            let missing: Vec<&str> = report.missing.iter().map(|(n, _)| n.as_str()).collect();
            say(&format!(
                "initialised from {}: {} tensors loaded{}",
                init.display(),
                report.loaded.len(),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", freshly initialised (not in the checkpoint): {}",
                        missing.join(", ")
                    )
                }
            ));
        }
        if let Some((dir, verified)) = &latest {
            state = *verified;
            model = load_record(model, dir.join("model.bpk"))?;
            let optim_path = dir.join("optim.bpk");
            optim = optim
                .load(&optim_path)
                .map_err(|e| PretrainError::OptimizerState {
                    path: optim_path.clone(),
                    message: e.to_string(),
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

        let stream = DataStream::new(train, &config.instances, state.epoch, state.offset)?;
        let eval_set: Vec<Instance> = epoch_instances(&held_out, &config.eval_instances(), 0)
            .into_iter()
            .take(eval_count(config))
            .collect();
        Ok(Self {
            config,
            out,
            progress: options.progress,
            device,
            replicas,
            tokenizer,
            albert_config,
            held_out,
            stream,
            eval_set,
            model: Some(model),
            optim,
            checkpoints,
            state,
            metrics_path,
            last_eval: None,
            consumed: (0.0, 0.0),
        })
    }

    /// The model being trained.
    fn model(&self) -> &AlbertForPreTraining {
        self.model
            .as_ref()
            .expect("the model is out of its slot only inside `step`")
    }

    fn say(&self, msg: &str) {
        if self.progress {
            eprintln!("{msg}");
        }
    }

    /// One optimisation step: `gradient_accumulation` micro-batches, each split over the
    /// replicas, their gradients summed, clipped by global norm, then LAMB at the schedule's
    /// learning rate.
    pub(super) fn step(&mut self) -> Result<StepOutcome> {
        let run = &self.config.run;
        let started = Instant::now();
        let task = self.config.instances.sentence_task;
        let pad = self.tokenizer.special_ids().pad;
        let scale = run.gradient_accumulation * self.replicas.len();
        let mut accumulator = GradientsAccumulator::<AlbertForPreTraining>::new();
        let mut shards_done = Vec::with_capacity(scale);
        for _ in 0..run.gradient_accumulation {
            let shards = (0..self.replicas.len())
                .map(|_| self.stream.next_batch(run.batch_size))
                .collect::<Result<Vec<_>>>()?;
            for (grads, metrics, tokens) in
                micro_step(self.model(), &self.replicas, &shards, pad, task, scale)
            {
                shards_done.push((metrics, tokens));
                accumulator.accumulate(self.model(), grads);
            }
        }
        let mut grads = accumulator.grads();
        let grad_norm = if run.clip_norm > 0.0 {
            clip_global_norm(self.model(), &mut grads, run.clip_norm)
        } else {
            global_norm(self.model(), &grads)
        }
        .map_or(f64::NAN, |n| f64::from(n.into_scalar::<f32>()));
        let learning_rate = self.config.schedule.learning_rate(self.state.step);
        // Moved, not cloned: the optimiser can then update parameters in place.
        let model = self
            .model
            .take()
            .expect("the model is in its slot between steps");
        self.model = Some(self.optim.step(learning_rate, model, grads));
        self.state.step += 1;
        self.state.epoch = self.stream.epoch;
        self.state.offset = self.stream.offset;
        self.consumed.0 += (run.batch_size * scale) as f64;
        self.consumed.1 += started.elapsed().as_secs_f64();
        Ok(StepOutcome {
            learning_rate,
            grad_norm,
            shards: shards_done,
        })
    }

    /// The held-out evaluation when `eval_every` (or the last step) says so: its record, and
    /// whether it is the best masked-LM accuracy so far.
    pub(super) fn evaluate_if_due(&mut self) -> Option<(MetricsRecord, bool)> {
        let run = &self.config.run;
        let step = self.state.step;
        let due = (run.eval_every > 0 && step.is_multiple_of(run.eval_every)) || step == run.steps;
        if self.eval_set.is_empty() || !due {
            return None;
        }
        let record = evaluate(
            self.model(),
            &self.eval_set,
            self.config,
            &self.device,
            step,
        );
        let improved = self
            .state
            .best
            .is_none_or(|(acc, _)| record.masked_lm_accuracy > acc);
        if improved {
            self.state.best = Some((record.masked_lm_accuracy, step));
        }
        self.last_eval = Some(record.clone());
        Some((record, improved))
    }

    /// Writes a checkpoint when `checkpoint_every` (or the last step) says so; `improved` marks
    /// it the best.
    pub(super) fn checkpoint_if_due(&self, improved: bool) -> Result<()> {
        let run = &self.config.run;
        let step = self.state.step;
        let due = (run.checkpoint_every > 0 && step.is_multiple_of(run.checkpoint_every))
            || step == run.steps;
        if !due {
            return Ok(());
        }
        self.checkpoints
            .save(
                self.state.step,
                &self.state,
                improved,
                run.keep_last,
                |dir| {
                    save_record(self.model(), dir.join("model.bpk"))?;
                    let path = dir.join("optim.bpk");
                    self.optim
                        .save(&path)
                        .map_err(|e| PretrainError::OptimizerState {
                            path: path.clone(),
                            message: e.to_string(),
                        })
                },
            )
            .map(|_| ())
    }

    /// The summary; when every step is done also the chart, the model in HF layout with its
    /// tokenizer, and the final held-out evaluation (`final_eval.json`).
    pub(super) fn finish(self) -> Result<TrainSummary> {
        let records = metrics::read(&self.metrics_path)?;
        let mut summary = TrainSummary {
            steps: self.state.step,
            records,
            metrics_path: self.metrics_path.clone(),
            chart_path: None,
            model_dir: None,
            checkpoint: self.checkpoints.latest()?,
            instances_per_second: self.stream.created as f64
                / self.stream.creation_seconds.max(1e-9),
            sequences_per_second: self.consumed.0 / self.consumed.1.max(1e-9),
            final_eval: None,
        };
        if self.state.step < self.config.run.steps {
            return Ok(summary);
        }
        let chart = self.out.join("curves.svg");
        metrics::chart(
            &summary.records,
            &chart,
            &format!("ALBERT pretraining ({} steps)", self.state.step),
        )?;
        let model_dir = self.out.join("model");
        let mut hf = HfConfig::new(self.albert_config.clone());
        hf.architectures = vec!["AlbertForPreTraining".into()];
        export_hf(self.model(), &hf, &model_dir)?;
        copy_tokenizer(&self.config.data.tokenizer, &model_dir)?;
        if let Some(r) = &self.last_eval {
            self.say(&format!(
                "held-out: masked-LM accuracy {:.4}, sentence-order accuracy {:.4}",
                r.masked_lm_accuracy, r.sentence_order_accuracy
            ));
        }
        let final_eval = evaluate_sentence_tasks(
            self.model(),
            &self.held_out,
            self.config,
            &self.device,
            self.state.step,
            4 * eval_count(self.config),
        );
        let json = serde_json::to_string_pretty(&final_eval)
            .map_err(|e| PretrainError::Config(e.to_string()))?;
        let path = self.out.join("final_eval.json");
        albert_core::io::write_atomic(&path, json.as_bytes())?;
        self.say(&format!(
            "final held-out evaluation ({} instances per task): masked-LM {:.4} (unigram baseline {:.4}), SOP {:.4}, NSP {:.4} -> {}",
            final_eval.instances,
            final_eval.masked_lm_accuracy,
            final_eval.masked_lm_unigram_baseline,
            final_eval.sop_accuracy,
            final_eval.nsp_accuracy,
            path.display()
        ));
        summary.final_eval = Some(final_eval);
        summary.chart_path = Some(chart);
        summary.model_dir = Some(model_dir);
        Ok(summary)
    }
}

/// Held-out instances per periodic evaluation.
fn eval_count(config: &PretrainConfig) -> usize {
    config.run.eval_batches * config.run.batch_size
}

/// Reads and tokenizes the corpus and splits off the held-out documents, checking that the
/// sentence task can be trained on what is left.
fn read_corpus(
    config: &PretrainConfig,
    tokenizer: &AlbertTokenizer,
    say: impl Fn(&str),
) -> Result<(TokenizedCorpus, TokenizedCorpus)> {
    let corpus = TokenizedCorpus::from_files(
        &config.data.corpus,
        tokenizer,
        config.instances.split_sentences,
    )?;
    let (train, held_out) = corpus.split_held_out(config.data.held_out_every)?;
    let (ts, hs) = (train.stats(), held_out.stats());
    if config.instances.sentence_task == SentenceTask::Nsp && ts.documents < 2 {
        // Random-next segments come from another document: with one, every NSP pair would be
        // "in order" and the sentence head would learn a constant.
        let files: Vec<String> = config
            .data
            .corpus
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return Err(PretrainError::Corpus(format!(
            "sentence_task = \"nsp\" needs at least two training documents (random next \
             segments come from another document), but {} leaves {} after holding out every \
             {}th; add documents (blank line between them) or use \"sop\"",
            files.join(", "),
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
    Ok((train, held_out))
}

/// Copies the tokenizer files (a file, or the known files of a directory) into `dest`.
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
