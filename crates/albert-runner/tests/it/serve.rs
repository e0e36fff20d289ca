//! `albert serve` end to end on 127.0.0.1: every route answers what the CLI pipelines print for
//! the same input, under concurrent load too (requests are batched), and bad requests get the
//! documented status codes without taking the server down. Models: the shipped
//! `models/albert-mini-mixed` (fill-mask, embed) and that body with a fresh seeded classifier or
//! span head (classify, answer), so no fixture is needed.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use albert_core::HfConfig;
use albert_core::checkpoint::MissingPolicy;
use albert_heads::HeadKind;
use albert_runner::models::AnyModel;
use albert_runner::pipeline::{Pipeline, PipelineOptions};
use albert_runner::serve::client::{Client, Probe, json_close, load_test};
use albert_runner::serve::{Server, ServerConfig};
use serde_json::{Value, json};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/albert-mini-mixed")
}

/// The shipped model's body with a fresh (seeded) head of `kind`, as an HF directory.
fn with_head(kind: HeadKind, labels: Option<Vec<String>>, out: &Path) -> PathBuf {
    let src = shipped();
    let mut hf = HfConfig::from_file(src.join("config.json")).expect("config");
    hf.config.labels = labels;
    let device = albert_runner::device::device("cpu").expect("cpu");
    let (model, _) = AnyModel::load(
        kind,
        &hf,
        &[src.join("model.safetensors")],
        MissingPolicy::Unused(&["classifier.", "qa_outputs."]),
        &device,
    )
    .expect("load");
    model.export(&hf, out).expect("export");
    for f in ["spiece.model", "tokenizer.json"] {
        std::fs::copy(src.join(f), out.join(f)).expect("copy tokenizer");
    }
    out.to_path_buf()
}

fn start(model: &Path, config: ServerConfig) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let model = model.to_path_buf();
    let options = PipelineOptions {
        batch_size: config.batch.max_batch,
        ..PipelineOptions::default()
    };
    Server::start(listener, move || Pipeline::load(&model, &options), config).expect("start")
}

/// What `albert classify` prints for each line of `texts`, one JSON value per input.
fn cli_classify(model: &Path, texts: &[&str], tmp: &Path) -> Vec<Value> {
    let input = tmp.join("classify-inputs.txt");
    std::fs::write(&input, texts.join("\n")).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(["classify", "--model"])
        .arg(model)
        .arg("--input")
        .arg(&input)
        .args(["--top-k", "2"])
        .output()
        .expect("run albert classify");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

const TEXTS: [&str; 6] = [
    "A quiet, moving film.",
    "The plot makes no sense at all and the acting is worse.",
    "It rained in London on Tuesday.",
    "Parliament passed the budget after a long debate about taxes and spending.",
    "ok",
    "The committee will meet again next week to discuss the proposal in detail.",
];

#[test]
fn classify_server_matches_the_cli_under_load_and_refuses_bad_requests() {
    let tmp = tempfile::tempdir().expect("tmp");
    let model = with_head(
        HeadKind::SequenceClassification,
        Some(vec!["neg".into(), "pos".into()]),
        &tmp.path().join("cls"),
    );
    let expected = cli_classify(&model, &TEXTS, tmp.path());
    let server = start(&model, ServerConfig::default());
    let addr = server.addr();
    let mut c = Client::new(addr);

    let health = c.request("GET", "/health", b"").expect("health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json().expect("json")["task"], "classify");

    // All inputs in one request: the CLI's lines, in order.
    let r = c
        .post("/v1/classify", &json!({"inputs": TEXTS, "top_k": 2}))
        .expect("classify");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        json_close(
            &r.json().expect("json"),
            &Value::Array(expected.clone()),
            1e-5
        ),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    // Without top_k: the best label alone, as the pipeline's default.
    let r = c
        .post("/v1/classify", &json!({"inputs": TEXTS[0]}))
        .expect("classify");
    assert!(json_close(
        &r.json().expect("json"),
        &json!([expected[0][0].clone()]),
        1e-5
    ));

    // Concurrent clients, one input per request: every answer is the CLI's for that input
    // (whatever batch it shared), and the server did batch them.
    let probes: Vec<Probe> = TEXTS
        .iter()
        .zip(&expected)
        .map(|(t, e)| Probe {
            path: "/v1/classify".into(),
            body: json!({"inputs": [t], "top_k": 2}),
            expected: Some(json!([e])),
        })
        .collect();
    for concurrency in [1, 8, 32] {
        let report = load_test(addr, &probes, 160, concurrency, 1e-5);
        assert_eq!(report.requests, 160);
        assert_eq!(
            (report.errors, report.mismatches),
            (0, 0),
            "concurrency {concurrency}: {:?}",
            report.first_problem
        );
    }
    let metrics =
        String::from_utf8(c.request("GET", "/metrics", b"").expect("metrics").body).expect("utf8");
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in\n{metrics}"))
    };
    let (batches, sequences) = (
        value("albert_batch_size_count"),
        value("albert_batch_size_sum"),
    );
    assert!(sequences >= 480.0 + 7.0, "{metrics}");
    assert!(
        batches < sequences,
        "concurrent requests never shared a batch: {batches} batches for {sequences} sequences"
    );
    assert!(metrics.contains("albert_requests_total{route=\"classify\",status=\"200\"}"));

    // Bad requests: status, a JSON error body, and the server still answers afterwards.
    let big = vec![b'a'; 2 * 1024 * 1024 + 1];
    for (method, path, body, status, says) in [
        (
            "POST",
            "/v1/classify",
            b"{oops".to_vec(),
            400,
            "invalid JSON",
        ),
        (
            "POST",
            "/v1/classify",
            b"{\"inputs\": 3}".to_vec(),
            422,
            "inputs",
        ),
        (
            "POST",
            "/v1/classify",
            b"{\"inputs\": []}".to_vec(),
            422,
            "no inputs",
        ),
        ("POST", "/v1/classify", big, 413, "--max-body"),
        ("POST", "/v1/nothing", b"{}".to_vec(), 404, "no route"),
        (
            "POST",
            "/v1/fill-mask",
            b"{\"inputs\": \"[MASK]\"}".to_vec(),
            404,
            "does classify",
        ),
    ] {
        let r = c.request(method, path, &body).expect(path);
        assert_eq!(
            r.status,
            status,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let e = r.json().expect("a JSON error body");
        assert!(
            e["error"].as_str().is_some_and(|m| m.contains(says)),
            "{path}: {e}"
        );
    }
    let r = c
        .post("/v1/classify", &json!({"inputs": TEXTS[1], "top_k": 2}))
        .expect("still up");
    assert!(json_close(
        &r.json().expect("json"),
        &json!([expected[1]]),
        1e-5
    ));
    server.shutdown().expect("graceful shutdown");
    assert!(
        Client::new(addr).request("GET", "/health", b"").is_err(),
        "still listening after shutdown"
    );
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let mut config = ServerConfig::default();
    config.batch.max_queue = 1;
    config.batch.max_batch = 256;
    config.batch.max_wait = Duration::ZERO;
    let server = start(&shipped(), config);
    let addr = server.addr();
    // One long request keeps the model busy; meanwhile at most one more may wait.
    let long: Vec<String> = (0..256)
        .map(|i| format!("{i} {}", TEXTS[3].repeat(8)))
        .collect();
    let statuses = std::thread::scope(|s| {
        let busy = s.spawn(|| {
            Client::new(addr)
                .post("/v1/embed", &json!({ "inputs": long }))
                .expect("long")
                .status
        });
        std::thread::sleep(Duration::from_millis(150));
        let quick: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let r = Client::new(addr)
                        .post("/v1/embed", &json!({"inputs": "short"}))
                        .expect("quick");
                    (r.status, r.header("retry-after").map(str::to_string))
                })
            })
            .collect();
        let quick: Vec<_> = quick.into_iter().map(|h| h.join().expect("join")).collect();
        (busy.join().expect("join"), quick)
    });
    assert_eq!(statuses.0, 200);
    let refused = statuses.1.iter().filter(|(s, _)| *s == 503).count();
    assert!(refused >= 4, "{statuses:?}");
    assert!(
        statuses
            .1
            .iter()
            .all(|(s, h)| *s == 200 || (*s == 503 && h.as_deref() == Some("1"))),
        "{statuses:?}"
    );
    server.shutdown().expect("shutdown");
}

#[test]
fn fill_mask_answer_and_embed_match_the_pipelines() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = start(&shipped(), ServerConfig::default());
    let mut c = Client::new(server.addr());
    let text = "The president gave a [MASK] to the nation.";
    let cli = albert_runner::infer::fill_mask(&shipped(), text, 3, "cpu").expect("fill-mask");
    let r = c
        .post("/v1/fill-mask", &json!({"inputs": text, "top_k": 3}))
        .expect("fill-mask");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(json_close(&r.json().expect("json"), &cli, 1e-5), "{cli}");
    // Several texts in one request: one result each, as the single-text requests give.
    let two = "It was a [MASK] day and the [MASK] was cold.";
    let cli_two = albert_runner::infer::fill_mask(&shipped(), two, 3, "cpu").expect("two masks");
    let r = c
        .post("/v1/fill-mask", &json!({"inputs": [text, two], "top_k": 3}))
        .expect("fill-mask list");
    assert!(json_close(
        &r.json().expect("json"),
        &json!([cli, cli_two]),
        1e-5
    ));
    let r = c
        .post("/v1/fill-mask", &json!({"inputs": "no mask here"}))
        .expect("no mask");
    assert_eq!(r.status, 422);

    // embed: the CLI's vectors.
    let input = tmp.path().join("embed.txt");
    std::fs::write(&input, format!("{}\n{}\n", TEXTS[0], TEXTS[3])).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(["embed", "--model"])
        .arg(shipped())
        .arg("--input")
        .arg(&input)
        .arg("--normalize")
        .output()
        .expect("albert embed");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cli: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("vector"))
        .collect();
    let r = c
        .post(
            "/v1/embed",
            &json!({"inputs": [TEXTS[0], TEXTS[3]], "normalize": true}),
        )
        .expect("embed");
    assert!(json_close(
        &r.json().expect("json"),
        &Value::Array(cli),
        1e-5
    ));
    server.shutdown().expect("shutdown");

    // answer: a span head on the same body.
    let qa = with_head(HeadKind::QuestionAnswering, None, &tmp.path().join("qa"));
    let context = "The Eiffel Tower was completed in 1889 in Paris.";
    let question = "When was it completed?";
    let cli = albert_runner::infer::answer(&qa, question, context, 128, "cpu").expect("answer");
    let server = start(&qa, ServerConfig::default());
    let mut c = Client::new(server.addr());
    let r = c
        .post(
            "/v1/answer",
            &json!({"question": question, "context": context}),
        )
        .expect("answer");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(json_close(&r.json().expect("json"), &cli, 1e-5), "{cli}");
    let r = c
        .post("/v1/answer", &json!({"question": question}))
        .expect("no context");
    assert_eq!(r.status, 422);
    // `albert answer --input`: one JSON line per {question, context} line, batched, each the
    // server's (and `--question`'s) answer for it.
    let second = (
        "Where is it?",
        "The tower stands in Paris, near the river Seine.",
    );
    let r = c
        .post(
            "/v1/answer",
            &json!({"inputs": [
                {"question": question, "context": context},
                {"question": second.0, "context": second.1}
            ]}),
        )
        .expect("answers");
    let served = r.json().expect("json");
    let input = tmp.path().join("questions.jsonl");
    std::fs::write(
        &input,
        format!(
            "{}\n{}\n",
            json!({"question": question, "context": context}),
            json!({"question": second.0, "context": second.1})
        ),
    )
    .expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(["answer", "--model"])
        .arg(&qa)
        .arg("--input")
        .arg(&input)
        .output()
        .expect("albert answer --input");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!(json_close(&Value::Array(lines), &served, 1e-5), "{served}");
    assert!(json_close(&served[0], &cli, 1e-5));
    server.shutdown().expect("shutdown");
}

/// The binary: `--port 0` prints the address it took; SIGTERM stops it with exit status 0.
#[cfg(unix)]
#[test]
fn the_binary_serves_until_sigterm() {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(["serve", "--port", "0", "--model"])
        .arg(shipped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("albert serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("a line").expect("utf8");
        if let Some(rest) = line.split("http://").nth(1) {
            break rest
                .split(':')
                .take(2)
                .collect::<Vec<_>>()
                .join(":")
                .trim_end_matches(|c: char| !c.is_ascii_digit())
                .parse::<std::net::SocketAddr>()
                .expect("address");
        }
    };
    let r = Client::new(addr)
        .post("/v1/fill-mask", &json!({"inputs": "A [MASK] day."}))
        .expect("request");
    assert_eq!(r.status, 200);
    // The shell's builtin `kill` (no procps needed).
    let kill = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
}
