//! The `serve` scenario: `albert serve` under a bounded load on 127.0.0.1. The server runs in
//! this process (its model thread and HTTP runtime) beside the load generator's clients; every
//! response is checked against the pipeline's answer for that input run alone (what the CLI
//! prints), then throughput and p50/p99 latency are reported per concurrency.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use albert_runner::pipeline::{Pipeline, PipelineOptions, Task};
use albert_runner::serve::client::{LoadReport, Probe, load_test};
use albert_runner::serve::{Server, ServerConfig};
use serde_json::{Value, json};

/// What the scenario measures.
#[derive(Debug, Clone)]
pub struct ServeBench {
    /// Requests per concurrency level.
    pub requests: usize,
    /// Concurrency levels, in order.
    pub concurrency: Vec<usize>,
    /// The server's batching.
    pub max_batch: usize,
    /// The server's batching wait.
    pub max_wait_ms: u64,
    /// `cpu`, `wgpu`, `cuda`.
    pub device: String,
    /// The products' precision (`--precision`; int8 on the CPU).
    pub precision: albert_core::precision::Precision,
}

/// The request texts: `n` sentences of the repository's built-in corpus, 8–40 words each.
pub fn texts(n: usize) -> Result<Vec<String>, String> {
    let corpus = crate::repo_dir().join("data/pretrain/austen.txt.gz");
    let lines = albert_tokenizer::lines::read_lines(&corpus).map_err(|e| e.to_string())?;
    let out: Vec<String> = lines
        .iter()
        .flat_map(|l| l.split_inclusive(['.', '?', '!']))
        .map(str::trim)
        .filter(|s| (8..=40).contains(&s.split_whitespace().count()))
        .take(n)
        .map(str::to_string)
        .collect();
    if out.len() < n {
        return Err(format!("{}: fewer than {n} sentences", corpus.display()));
    }
    Ok(out)
}

/// One request of `task` for `text`, and the route it goes to.
fn request(task: Task, text: &str) -> (String, Value) {
    match task {
        Task::FillMask => {
            // Mask the third word.
            let mut words: Vec<&str> = text.split_whitespace().collect();
            words[2] = "[MASK]";
            (
                "/v1/fill-mask".into(),
                json!({"inputs": words.join(" "), "top_k": 3}),
            )
        }
        Task::Answer => (
            "/v1/answer".into(),
            json!({"question": "Who was there?", "context": text}),
        ),
        Task::Classify => ("/v1/classify".into(), json!({ "inputs": [text] })),
        Task::Tag => ("/v1/tag".into(), json!({ "inputs": [text] })),
        Task::Embed => ("/v1/embed".into(), json!({ "inputs": [text] })),
    }
}

/// The pipeline's own answer to one request (the body `albert serve` must return).
fn expected(pipeline: &Pipeline, task: Task, body: &Value) -> Result<Value, String> {
    let e = |e: albert_runner::RunnerError| e.to_string();
    Ok(match task {
        Task::FillMask => {
            let text = body["inputs"].as_str().unwrap_or_default().to_string();
            let mut r = pipeline.fill_mask(&[text], 3).map_err(e)?;
            albert_runner::infer::fill_mask_json(r.remove(0))
        }
        Task::Answer => {
            let item = (
                body["question"].as_str().unwrap_or_default().to_string(),
                body["context"].as_str().unwrap_or_default().to_string(),
            );
            json!(pipeline.answer(&[item]).map_err(e)?.remove(0))
        }
        Task::Classify => {
            let text = body["inputs"][0].as_str().unwrap_or_default().to_string();
            let mut r = pipeline.classify(&[(text, None)], 1).map_err(e)?;
            json!([albert_runner::infer::classify_json(r.remove(0), None)])
        }
        Task::Tag => {
            let text = body["inputs"][0].as_str().unwrap_or_default().to_string();
            json!(pipeline.tag(&[text]).map_err(e)?)
        }
        Task::Embed => {
            let text = body["inputs"][0].as_str().unwrap_or_default().to_string();
            json!(
                pipeline
                    .embed(
                        &[(text, None)],
                        albert_runner::pipeline::Pooling::Mean,
                        false
                    )
                    .map_err(e)?
            )
        }
    })
}

/// How far a served answer's numbers may be from the one-input answer: float32 rounding, or
/// under bf16, fp16 and int8 a step of the operands' resolution — a batch pads its inputs to
/// its longest, which changes the attention products' f32 summation order in the last bits,
/// and a last-bit change that crosses a rounding or quantisation step moves an operand by one
/// step (2⁻⁸ of it in bf16, 1/127 of its row's range in int8).
fn tolerance(precision: albert_core::precision::Precision) -> f64 {
    match precision {
        albert_core::precision::Precision::Fp32 => 1e-4,
        _ => 1e-2,
    }
}

/// Runs the scenario on the model directory `model` for its task (embed for a model without
/// one); returns the JSON record.
pub fn run(model: &Path, bench: &ServeBench) -> Result<Value, String> {
    let options = PipelineOptions {
        device: bench.device.clone(),
        precision: bench.precision,
        batch_size: bench.max_batch,
        ..PipelineOptions::default()
    };
    // The reference answers, one input at a time.
    let reference = Pipeline::load(model, &options).map_err(|e| e.to_string())?;
    let task = reference.task();
    let mut probes = Vec::new();
    for text in texts(64)? {
        let (path, body) = request(task, &text);
        let want = expected(&reference, task, &body)?;
        probes.push(Probe {
            path,
            body,
            expected: Some(want),
        });
    }
    drop(reference);
    let mut config = ServerConfig::default();
    config.batch.max_batch = bench.max_batch;
    config.batch.max_wait = Duration::from_millis(bench.max_wait_ms);
    config.batch.max_queue = 4 * bench.concurrency.iter().copied().max().unwrap_or(1);
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let dir = model.to_path_buf();
    let server = Server::start(listener, move || Pipeline::load(&dir, &options), config)
        .map_err(|e| e.to_string())?;
    // Warm up (first-call allocations, thread pools), unchecked and untimed.
    let _ = load_test(server.addr(), &probes, 32, 4, f64::INFINITY);
    let mut reports: Vec<LoadReport> = Vec::new();
    for &c in &bench.concurrency {
        let r = load_test(
            server.addr(),
            &probes,
            bench.requests,
            c,
            tolerance(bench.precision),
        );
        eprintln!(
            "albert-bench: serve {} concurrency {c}: {:.1} req/s, p50 {:.1} ms, p99 {:.1} ms, \
             {} errors, {} mismatches",
            task.name(),
            r.throughput,
            r.p50_ms,
            r.p99_ms,
            r.errors,
            r.mismatches
        );
        if let Some(p) = &r.first_problem {
            return Err(format!("concurrency {c}: {p}"));
        }
        reports.push(r);
    }
    server.shutdown().map_err(|e| e.to_string())?;
    let base = reports.first().map_or(f64::NAN, |r| r.throughput);
    Ok(json!({
        "scenario": format!("serve-{}", task.name()),
        "model": model
            .canonicalize()
            .ok()
            .and_then(|m| {
                let root = crate::repo_dir().canonicalize().ok()?;
                m.strip_prefix(root).ok().map(|p| p.display().to_string())
            })
            .unwrap_or_else(|| model.display().to_string()),
        "device": bench.device,
        "precision": bench.precision.name(),
        "max_batch": bench.max_batch,
        "max_wait_ms": bench.max_wait_ms,
        "reports": reports,
        "speedup_vs_first": reports.iter().map(|r| r.throughput / base).collect::<Vec<_>>(),
    }))
}
