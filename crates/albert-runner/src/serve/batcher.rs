//! Dynamic batching: requests become jobs on a bounded queue; one worker thread owns the model,
//! takes the first waiting job, gathers whatever else is queued (waiting up to `max_wait` for
//! more while the batch has room for `max_batch` sequences), runs the jobs of each route as
//! one batch, and answers each job on its own channel. A full queue refuses new jobs at once
//! (the HTTP side answers 503), so memory never grows without bound.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::metrics::Metrics;
use super::request::Work;
use crate::error::{Result, RunnerError};
use crate::infer::{classify_json, fill_mask_json};
use crate::pipeline::{Pipeline, Task};

/// Why a job failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// The input cannot be run (e.g. a fill-mask text without `[MASK]`): HTTP 422.
    Input(String),
    /// The model failed or panicked: HTTP 500.
    Internal(String),
    /// This model does not serve the route: HTTP 404.
    WrongTask(String),
}

/// A job's answer: the response body.
pub type JobResult = std::result::Result<Value, JobError>;

/// One request waiting for the model.
#[derive(Debug)]
pub struct Job {
    /// What to run.
    pub work: Work,
    /// Where the answer goes (the request's handler awaits it).
    pub reply: oneshot::Sender<JobResult>,
}

/// How batches are formed.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    /// Sequences per forward batch.
    pub max_batch: usize,
    /// How long a batch with room left waits for more requests.
    pub max_wait: Duration,
    /// Jobs that may wait; more are refused.
    pub max_queue: usize,
}

/// The sending side of the job queue.
#[derive(Debug, Clone)]
pub struct Queue {
    tx: SyncSender<Job>,
    metrics: Arc<Metrics>,
}

impl Queue {
    /// Queues `job`, or gives it back when the queue is full (or the worker has stopped).
    #[allow(clippy::result_large_err)]
    pub fn submit(&self, job: Job) -> std::result::Result<(), Job> {
        self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        self.tx.try_send(job).map_err(|e| {
            self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
            match e {
                TrySendError::Full(job) | TrySendError::Disconnected(job) => job,
            }
        })
    }
}

/// Starts the worker thread: it loads the model with `load` (on that thread, where it stays),
/// reports the loaded task (or the loading error) before this returns, then serves jobs until
/// every [`Queue`] is dropped.
pub fn spawn(
    load: impl FnOnce() -> Result<Pipeline> + Send + 'static,
    config: BatchConfig,
    metrics: Arc<Metrics>,
) -> Result<(Queue, Task, JoinHandle<()>)> {
    let (tx, rx) = sync_channel::<Job>(config.max_queue.max(1));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let worker_metrics = metrics.clone();
    let handle = std::thread::Builder::new()
        .name("albert-serve-model".into())
        .spawn(move || {
            let pipeline = match load() {
                Ok(p) => {
                    let _ = ready_tx.send(Ok(p.task()));
                    p
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            work(&pipeline, &rx, config, &worker_metrics);
        })
        .map_err(|e| RunnerError::Usage(format!("cannot start the model thread: {e}")))?;
    let task = ready_rx
        .recv()
        .map_err(|_| RunnerError::Usage("the model thread stopped while loading".into()))??;
    Ok((Queue { tx, metrics }, task, handle))
}

fn work(pipeline: &Pipeline, rx: &Receiver<Job>, config: BatchConfig, metrics: &Metrics) {
    let take = |job: Job| {
        metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
        job
    };
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![take(first)];
        let mut size = jobs[0].work.size();
        let deadline = Instant::now() + config.max_wait;
        while size < config.max_batch {
            let next = match rx.try_recv() {
                Ok(job) => Ok(job),
                Err(_) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    rx.recv_timeout(deadline - now)
                }
            };
            match next {
                Ok(job) => {
                    let job = take(job);
                    size += job.work.size();
                    jobs.push(job);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        for group in group_by_kind(jobs) {
            run_group(pipeline, group, metrics);
        }
    }
}

/// Jobs that can share a forward pass: same route (embed: same pooling and normalisation).
fn group_by_kind(jobs: Vec<Job>) -> Vec<Vec<Job>> {
    let mut groups: Vec<Vec<Job>> = Vec::new();
    for job in jobs {
        match groups.iter_mut().find(|g| same_kind(&g[0].work, &job.work)) {
            Some(g) => g.push(job),
            None => groups.push(vec![job]),
        }
    }
    groups
}

fn same_kind(a: &Work, b: &Work) -> bool {
    match (a, b) {
        (
            Work::Embed {
                pooling: p,
                normalize: n,
                ..
            },
            Work::Embed {
                pooling: q,
                normalize: m,
                ..
            },
        ) => p == q && n == m,
        _ => a.task() == b.task(),
    }
}

/// Runs a group as one batch; when that fails (one job's input may be the cause), runs its jobs
/// one by one so only the failing ones fail.
fn run_group(pipeline: &Pipeline, group: Vec<Job>, metrics: &Metrics) {
    let works: Vec<&Work> = group.iter().map(|j| &j.work).collect();
    match run_batch(pipeline, &works, metrics) {
        Ok(results) => {
            for (job, result) in group.into_iter().zip(results) {
                let _ = job.reply.send(Ok(result));
            }
        }
        Err(e) if group.len() == 1 => {
            if let Some(job) = group.into_iter().next() {
                let _ = job.reply.send(Err(e));
            }
        }
        Err(_) => {
            for job in group {
                let result = run_batch(pipeline, &[&job.work], metrics).map(|mut r| r.remove(0));
                let _ = job.reply.send(result);
            }
        }
    }
}

/// One forward batch for `works` (all of one kind): the response body of each.
fn run_batch(
    pipeline: &Pipeline,
    works: &[&Work],
    metrics: &Metrics,
) -> std::result::Result<Vec<Value>, JobError> {
    let task = works[0].task();
    if task != Task::Embed && task != pipeline.task() {
        return Err(JobError::WrongTask(format!(
            "this server's model does {}, not {} (embed works with every model)",
            pipeline.task().name(),
            task.name()
        )));
    }
    let size: usize = works.iter().map(|w| w.size()).sum();
    let run = catch_unwind(AssertUnwindSafe(|| batch_results(pipeline, works)));
    let result = match run {
        Ok(Ok(values)) => Ok(values),
        Ok(Err(RunnerError::Usage(m))) => Err(JobError::Input(m)),
        Ok(Err(e)) => Err(JobError::Internal(e.to_string())),
        Err(panic) => Err(JobError::Internal(format!(
            "the model panicked: {}",
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default()
        ))),
    };
    if result.is_ok() {
        metrics.batch(task.name(), size);
    }
    result
}

/// The inputs `pick` finds in each work, concatenated in order.
fn gather<T: Clone>(works: &[&Work], pick: impl Fn(&Work) -> &[T]) -> Vec<T> {
    works.iter().flat_map(|w| pick(w).iter().cloned()).collect()
}

/// The largest of `value` over the works (at least 1).
fn largest(works: &[&Work], value: impl Fn(&Work) -> usize) -> usize {
    works.iter().map(|w| value(w)).max().unwrap_or(1).max(1)
}

/// Runs the concatenated inputs of `works` and splits the outputs back per work.
fn batch_results(pipeline: &Pipeline, works: &[&Work]) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(works.len());
    match works[0] {
        Work::Classify { .. } => {
            let inputs = gather(works, |w| match w {
                Work::Classify { inputs, .. } => inputs,
                _ => &[],
            });
            let k_max = largest(works, |w| match w {
                Work::Classify { top_k, .. } => top_k.unwrap_or(1),
                _ => 1,
            });
            let mut ranked = pipeline.classify(&inputs, k_max)?.into_iter();
            for w in works {
                if let Work::Classify { inputs, top_k } = w {
                    let mine: Vec<Value> = ranked
                        .by_ref()
                        .take(inputs.len())
                        .map(|mut r| {
                            r.truncate(top_k.unwrap_or(1));
                            classify_json(r, *top_k)
                        })
                        .collect();
                    out.push(Value::Array(mine));
                }
            }
        }
        Work::FillMask { .. } => {
            let texts = gather(works, |w| match w {
                Work::FillMask { texts, .. } => texts,
                _ => &[],
            });
            let k_max = largest(works, |w| match w {
                Work::FillMask { top_k, .. } => *top_k,
                _ => 1,
            });
            let mut results = pipeline.fill_mask(&texts, k_max)?.into_iter();
            for w in works {
                if let Work::FillMask {
                    texts,
                    top_k,
                    single,
                } = w
                {
                    let mut mine: Vec<Value> = results
                        .by_ref()
                        .take(texts.len())
                        .map(|mut per_mask| {
                            per_mask.iter_mut().for_each(|c| c.truncate(*top_k));
                            fill_mask_json(per_mask)
                        })
                        .collect();
                    out.push(if *single {
                        mine.remove(0)
                    } else {
                        Value::Array(mine)
                    });
                }
            }
        }
        Work::Answer { .. } => {
            let items = gather(works, |w| match w {
                Work::Answer { items, .. } => items,
                _ => &[],
            });
            let mut answers = pipeline.answer(&items)?.into_iter();
            for w in works {
                if let Work::Answer { items, single } = w {
                    let mine: Vec<Value> = answers
                        .by_ref()
                        .take(items.len())
                        .map(|a| json!(a))
                        .collect();
                    out.push(if *single {
                        mine.into_iter().next().unwrap_or(Value::Null)
                    } else {
                        Value::Array(mine)
                    });
                }
            }
        }
        Work::Tag { .. } => {
            let texts = gather(works, |w| match w {
                Work::Tag { texts, .. } => texts,
                _ => &[],
            });
            let mut tags = pipeline.tag(&texts)?.into_iter();
            for w in works {
                if let Work::Tag { texts, single } = w {
                    let mut mine: Vec<Value> =
                        tags.by_ref().take(texts.len()).map(|t| json!(t)).collect();
                    out.push(if *single {
                        mine.remove(0)
                    } else {
                        Value::Array(mine)
                    });
                }
            }
        }
        Work::Embed {
            pooling, normalize, ..
        } => {
            let inputs = gather(works, |w| match w {
                Work::Embed { inputs, .. } => inputs,
                _ => &[],
            });
            let mut vectors = pipeline.embed(&inputs, *pooling, *normalize)?.into_iter();
            for w in works {
                out.push(json!(vectors.by_ref().take(w.size()).collect::<Vec<_>>()));
            }
        }
    }
    Ok(out)
}
