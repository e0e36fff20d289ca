//! `albert serve`: an HTTP/JSON inference server for one model (axum on tokio). Routes:
//! `POST /v1/classify`, `/v1/fill-mask`, `/v1/answer` (the one the model's head does) and
//! `/v1/embed` (every model), `GET /health`, `GET /metrics` (Prometheus text). Concurrent
//! requests are batched on one model instance ([`batcher`]); bodies are decoded and checked
//! before they are queued ([`request`]). docs/serving.md has the API and the measurements.

pub mod batcher;
pub mod client;
pub mod metrics;
pub mod request;
mod routes;

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use clap::Args;

use crate::error::{Result, RunnerError};
use crate::pipeline::{Pipeline, PipelineOptions, Task};
use batcher::BatchConfig;
use metrics::Metrics;

/// `albert serve`: serve a model over HTTP/JSON until Ctrl+C or SIGTERM (then it stops
/// accepting, answers the requests in flight and exits 0).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Model directory (config, weights in any supported format, tokenizer).
    #[arg(long)]
    pub model: PathBuf,
    /// Which head to serve (default: the config's `architectures`; embed works with every model).
    #[arg(long, value_enum)]
    pub task: Option<Task>,
    /// Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every IPv4 interface).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// TCP port (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Where and in which precision the model runs.
    #[command(flatten)]
    pub on: crate::device::DeviceArgs,
    /// Tokens per sequence: longer classify/embed inputs are truncated, longer answer contexts
    /// split into windows (at most the model's positions).
    #[arg(long, default_value_t = 128)]
    pub max_seq_length: usize,
    /// Sequences per forward batch (concurrent requests are grouped up to this).
    #[arg(long, default_value_t = 32)]
    pub max_batch: usize,
    /// Milliseconds a batch with room left waits for more requests (0: batch what queued
    /// while the model was busy; waiting only pays when requests arrive faster than that).
    #[arg(long, default_value_t = 0)]
    pub max_wait_ms: u64,
    /// Requests that may wait for the model; more are answered 503 with Retry-After.
    #[arg(long, default_value_t = 256)]
    pub max_queue: usize,
    /// Largest request body in bytes (413 above).
    #[arg(long, default_value_t = 2 * 1024 * 1024)]
    pub max_body: usize,
    /// Inputs per request (422 above).
    #[arg(long, default_value_t = 256)]
    pub max_inputs: usize,
    /// `/v1/answer`: answer "" when the model's no-answer score beats its best span (SQuAD
    /// v2.0 models; transformers' `handle_impossible_answer=True`).
    #[arg(long)]
    pub handle_impossible_answer: bool,
}

/// The server's limits and batching settings.
#[derive(Debug, Clone, Copy)]
pub struct ServerConfig {
    /// Batching.
    pub batch: BatchConfig,
    /// Largest request body in bytes.
    pub max_body: usize,
    /// Inputs per request.
    pub max_inputs: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            batch: BatchConfig {
                max_batch: 32,
                max_wait: Duration::ZERO,
                max_queue: 256,
            },
            max_body: 2 * 1024 * 1024,
            max_inputs: 256,
        }
    }
}

impl ServeArgs {
    /// The pipeline options these arguments ask for.
    pub fn pipeline_options(&self) -> PipelineOptions {
        PipelineOptions {
            task: self.task,
            device: self.on.device.clone(),
            precision: self.on.precision,
            batch_size: self.max_batch.max(1),
            max_seq_length: self.max_seq_length,
            handle_impossible_answer: self.handle_impossible_answer,
        }
    }

    /// The server settings these arguments ask for.
    pub fn server_config(&self) -> ServerConfig {
        ServerConfig {
            batch: BatchConfig {
                max_batch: self.max_batch.max(1),
                max_wait: Duration::from_millis(self.max_wait_ms),
                max_queue: self.max_queue.max(1),
            },
            max_body: self.max_body,
            max_inputs: self.max_inputs.max(1),
        }
    }

    /// Runs `albert serve` until Ctrl+C or SIGTERM.
    pub fn run(&self) -> Result<()> {
        let listener = TcpListener::bind((self.host.as_str(), self.port)).map_err(|e| {
            RunnerError::Usage(format!(
                "albert serve: cannot listen on {}:{}: {e}",
                self.host, self.port
            ))
        })?;
        let model = self.model.clone();
        let options = self.pipeline_options();
        eprintln!("loading {} …", model.display());
        let prepared = prepare(
            move || Pipeline::load(&model, &options),
            self.server_config(),
        )?;
        let addr = listener
            .local_addr()
            .map_err(|e| RunnerError::Usage(format!("albert serve: {e}")))?;
        eprintln!(
            "serving {} ({}) on http://{addr}: POST /v1/{} and /v1/embed, GET /health, \
             GET /metrics; Ctrl+C to stop",
            self.model.display(),
            prepared.task.name(),
            prepared.task.name()
        );
        prepared.serve(listener, shutdown_signal())?;
        eprintln!("stopped");
        Ok(())
    }
}

/// A loaded model with its batching worker, ready to be served on a listener.
#[derive(Debug)]
struct Prepared {
    state: routes::AppState,
    task: Task,
    worker: JoinHandle<()>,
}

fn prepare(
    load: impl FnOnce() -> Result<Pipeline> + Send + 'static,
    config: ServerConfig,
) -> Result<Prepared> {
    let metrics = Arc::new(Metrics::default());
    let (queue, task, worker) = batcher::spawn(load, config.batch, metrics.clone())?;
    Ok(Prepared {
        state: routes::AppState::new(queue, metrics, task, config),
        task,
        worker,
    })
}

impl Prepared {
    /// Serves on `listener` until `shutdown` completes, then finishes the requests in flight,
    /// stops the worker and returns.
    fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let io = |e: std::io::Error| RunnerError::Usage(format!("albert serve: {e}"));
        listener.set_nonblocking(true).map_err(io)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("albert-serve-http")
            .enable_all()
            .build()
            .map_err(io)?;
        let app = routes::router(self.state);
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).map_err(io)?;
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(io)
        })?;
        // The router (and with it the last queue sender) is gone: the worker drains and stops.
        drop(runtime);
        self.worker
            .join()
            .map_err(|_| RunnerError::Usage("albert serve: the model thread panicked".into()))
    }
}

/// Completes on Ctrl+C (SIGINT) or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// A server running on its own thread (for tests, benchmarks and embedding `albert serve` in a
/// program); [`Server::shutdown`] stops it gracefully.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    task: Task,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Server {
    /// Loads the model with `load` and serves it on `listener` (e.g. `127.0.0.1:0`); returns
    /// once the model is loaded and requests are accepted.
    pub fn start(
        listener: TcpListener,
        load: impl FnOnce() -> Result<Pipeline> + Send + 'static,
        config: ServerConfig,
    ) -> Result<Self> {
        let addr = listener
            .local_addr()
            .map_err(|e| RunnerError::Usage(format!("albert serve: {e}")))?;
        let prepared = prepare(load, config)?;
        let task = prepared.task;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("albert-serve".into())
            .spawn(move || {
                prepared.serve(listener, async move {
                    let _ = stopped.await;
                })
            })
            .map_err(|e| RunnerError::Usage(format!("albert serve: {e}")))?;
        Ok(Self {
            addr,
            task,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The task its model was loaded for.
    pub fn task(&self) -> Task {
        self.task
    }

    /// Stops accepting, answers the requests in flight, and waits for the server to end.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| {
                RunnerError::Usage("albert serve: the server thread panicked".into())
            })?,
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}
