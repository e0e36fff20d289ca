//! `--model ORG/NAME[@REVISION]` against a local stand-in of the Hugging Face hub's file API on
//! 127.0.0.1 (no network here): the first run downloads into `$HF_HOME`'s cache and answers as
//! the local directory does; with the server stopped, `HF_HUB_OFFLINE=1` works from the cache;
//! unknown repositories, revisions and missing files are clear errors.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Repositories of the stand-in: id → (file name → bytes).
type Repos = Arc<BTreeMap<String, BTreeMap<String, Vec<u8>>>>;

fn not_found(code: &str, commit: bool) -> Response {
    let mut r = (StatusCode::NOT_FOUND, format!("{{\"error\": \"{code}\"}}")).into_response();
    r.headers_mut()
        .insert("x-error-code", HeaderValue::from_str(code).expect("header"));
    if commit {
        r.headers_mut()
            .insert("x-repo-commit", HeaderValue::from_static(COMMIT));
    }
    r
}

fn sha256_hex(data: &[u8]) -> String {
    use std::fmt::Write;
    // A stand-in ETag only has to be stable per content: FNV-1a, 64 bits, hex.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    let mut s = String::new();
    let _ = write!(s, "{h:016x}");
    s
}

async fn info(
    State(repos): State<Repos>,
    UrlPath((owner, name)): UrlPath<(String, String)>,
) -> Response {
    info_at(repos, owner, name, "main".into())
}

async fn info_revision(
    State(repos): State<Repos>,
    UrlPath((owner, name, rev)): UrlPath<(String, String, String)>,
) -> Response {
    info_at(repos, owner, name, rev)
}

fn info_at(repos: Repos, owner: String, name: String, rev: String) -> Response {
    let id = format!("{owner}/{name}");
    let Some(files) = repos.get(&id) else {
        return not_found("RepoNotFound", false);
    };
    if rev != "main" && rev != COMMIT {
        return not_found("RevisionNotFound", false);
    }
    let siblings: Vec<_> = files
        .keys()
        .map(|f| serde_json::json!({ "rfilename": f }))
        .collect();
    axum::response::Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(
            serde_json::json!({"id": id, "modelId": id, "sha": COMMIT, "siblings": siblings})
                .to_string(),
        ))
        .expect("response")
}

async fn resolve(
    State(repos): State<Repos>,
    UrlPath((owner, name, rev, file)): UrlPath<(String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(files) = repos.get(&format!("{owner}/{name}")) else {
        return not_found("RepoNotFound", false);
    };
    if rev != "main" && rev != COMMIT {
        return not_found("RevisionNotFound", false);
    }
    let Some(data) = files.get(&file) else {
        return not_found("EntryNotFound", true);
    };
    let etag = format!("\"{}\"", sha256_hex(data));
    let (status, body, range) = match headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
    {
        Some((a, b)) => {
            let start: usize = a.parse().unwrap_or(0).min(data.len());
            let end: usize = b
                .parse::<usize>()
                .map_or(data.len().saturating_sub(1), |e| e.min(data.len() - 1));
            (
                StatusCode::PARTIAL_CONTENT,
                data[start..=end.max(start)].to_vec(),
                Some(format!("bytes {start}-{end}/{}", data.len())),
            )
        }
        None => (StatusCode::OK, data.clone(), None),
    };
    let mut r = axum::response::Response::builder()
        .status(status)
        .header(header::ETAG, etag)
        .header("x-repo-commit", COMMIT)
        .header(header::CONTENT_LENGTH, body.len());
    if let Some(range) = range {
        r = r.header(header::CONTENT_RANGE, range);
    }
    r.body(axum::body::Body::from(body)).expect("response")
}

/// Serves `repos` on 127.0.0.1 until the returned sender is dropped.
fn stand_in(
    repos: Repos,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let app = Router::new()
                .route("/api/models/{owner}/{name}", get(info))
                .route(
                    "/api/models/{owner}/{name}/revision/{rev}",
                    get(info_revision),
                )
                .route("/{owner}/{name}/resolve/{rev}/{*file}", get(resolve))
                .with_state(repos);
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
        });
    });
    (addr, stop, thread)
}

fn albert(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_CACHE")
        // The stand-in is on this machine: never through a proxy a CI machine may define.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .output()
        .expect("run albert")
}

#[test]
fn hub_names_download_once_then_work_offline() {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/albert-mini-mixed");
    let read = |f: &str| std::fs::read(local.join(f)).expect("model file");
    let full: BTreeMap<String, Vec<u8>> = [
        "config.json",
        "model.safetensors",
        "spiece.model",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    .iter()
    .map(|f| (f.to_string(), read(f)))
    .collect();
    let no_weights: BTreeMap<String, Vec<u8>> = ["config.json", "spiece.model"]
        .iter()
        .map(|f| (f.to_string(), read(f)))
        .collect();
    let repos: Repos = Arc::new(
        [
            ("test-org/mini".to_string(), full),
            ("test-org/no-weights".to_string(), no_weights),
        ]
        .into_iter()
        .collect(),
    );
    let (addr, stop, thread) = stand_in(repos);
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("hf");
    let endpoint = format!("http://{addr}");
    let env = [
        ("HF_HOME", home.to_str().expect("utf8")),
        ("HF_ENDPOINT", endpoint.as_str()),
    ];
    let text = "The president gave a [MASK] to the nation.";
    let fill = |model: &str, env: &[(&str, &str)]| {
        albert(&["fill-mask", "--model", model, "--text", text], env)
    };

    let want = fill(local.to_str().expect("utf8"), &[]);
    assert!(want.status.success());
    let got = fill("test-org/mini", &env);
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert_eq!(
        got.stdout, want.stdout,
        "the hub copy answers as the local directory"
    );
    let snapshot = home
        .join("hub/models--test-org--mini/snapshots")
        .join(COMMIT);
    for f in ["config.json", "model.safetensors", "spiece.model"] {
        assert_eq!(
            std::fs::read(snapshot.join(f)).expect("cached file"),
            read(f),
            "{f} in the cache"
        );
    }
    let pinned = fill(&format!("test-org/mini@{COMMIT}"), &env);
    assert_eq!(pinned.stdout, want.stdout, "a commit revision");

    // Clear errors: unknown repository, unknown revision, a repository without weights.
    for (model, says) in [
        ("test-org/nothing", "no such model"),
        ("test-org/mini@v9", "no revision"),
        (
            "test-org/no-weights",
            "none of model.safetensors, pytorch_model.bin",
        ),
    ] {
        let o = fill(model, &env);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{model}: {err}");
        assert!(
            err.contains(says) && err.contains(model.split('@').next().unwrap_or(model)),
            "{model}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }

    // The server goes away: offline mode answers from the cache, a model never downloaded is
    // a clear error.
    drop(stop);
    thread.join().expect("stand-in stopped");
    let offline = [env[0], env[1], ("HF_HUB_OFFLINE", "1")];
    let got = fill("test-org/mini", &offline);
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert_eq!(got.stdout, want.stdout, "offline, from the cache");
    let o = fill("test-org/other", &offline);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("in the cache (HF_HUB_OFFLINE"), "{err}");
    // Online but the hub does not answer: the cached copy, with a note (as transformers).
    let got = fill("test-org/mini", &env);
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert_eq!(got.stdout, want.stdout, "unreachable hub, from the cache");
    assert!(String::from_utf8_lossy(&got.stderr).contains("did not answer"));
}
