//! The HTTP side of `albert serve`: routes, status codes and JSON error bodies
//! (`{"error": "…"}`), and the middleware that counts every response and turns a panic in a
//! handler into a 500 for that request.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::FutureExt;
use serde_json::{Value, json};

use super::ServerConfig;
use super::batcher::{Job, JobError, Queue};
use super::metrics::Metrics;
use super::request::{RequestError, RequestLimits, decode};
use crate::pipeline::Task;

/// What every handler shares.
#[derive(Debug, Clone)]
pub(super) struct AppState {
    queue: Queue,
    metrics: Arc<Metrics>,
    task: Task,
    limits: RequestLimits,
    max_body: usize,
}

impl AppState {
    pub(super) fn new(
        queue: Queue,
        metrics: Arc<Metrics>,
        task: Task,
        config: ServerConfig,
    ) -> Self {
        Self {
            queue,
            metrics,
            task,
            limits: RequestLimits {
                max_inputs: config.max_inputs,
                max_top_k: 1000,
            },
            max_body: config.max_body,
        }
    }
}

pub(super) fn router(state: AppState) -> Router {
    let max_body = state.max_body;
    Router::new()
        .route("/v1/classify", post(classify))
        .route("/v1/fill-mask", post(fill_mask))
        .route("/v1/answer", post(answer))
        .route("/v1/tag", post(tag))
        .route("/v1/embed", post(embed))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// The route label of a path in the metrics.
fn route_label(path: &str) -> &'static str {
    match path {
        "/v1/classify" => "classify",
        "/v1/fill-mask" => "fill-mask",
        "/v1/answer" => "answer",
        "/v1/tag" => "tag",
        "/v1/embed" => "embed",
        "/health" => "health",
        "/metrics" => "metrics",
        _ => "other",
    }
}

/// Counts the response and its latency; a panic below becomes this request's 500.
async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = route_label(request.uri().path());
    let start = Instant::now();
    let response = match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(r) => r,
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error (a panic)",
        ),
    };
    state.metrics.request(
        route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        value.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    json_response(status, &json!({"error": message.into()}))
}

async fn not_found(request: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no route {} {} (routes: POST /v1/classify, /v1/fill-mask, /v1/answer, /v1/tag, /v1/embed; \
             GET /health, /metrics)",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn health(State(state): State<AppState>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "status": "ok",
            "task": state.task.name(),
            "routes": [format!("/v1/{}", state.task.name()), "/v1/embed".to_string()],
            "queue_depth": state.metrics.queue_depth.load(Ordering::Relaxed),
        }),
    )
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn classify(state: State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    handle(state, Task::Classify, body).await
}

async fn fill_mask(state: State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    handle(state, Task::FillMask, body).await
}

async fn answer(state: State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    handle(state, Task::Answer, body).await
}

async fn tag(state: State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    handle(state, Task::Tag, body).await
}

async fn embed(state: State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    handle(state, Task::Embed, body).await
}

/// Decodes, queues and awaits one request to the `task` route.
async fn handle(
    State(state): State<AppState>,
    task: Task,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "the body is larger than the server's limit of {} bytes (--max-body)",
                    state.max_body
                )
            } else {
                rejection.body_text()
            };
            return error(status, message);
        }
    };
    if task != Task::Embed && task != state.task {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "this server's model does {}, not {} (POST /v1/{} or /v1/embed)",
                state.task.name(),
                task.name(),
                state.task.name()
            ),
        );
    }
    let work = match decode(task, &body, state.limits) {
        Ok(w) => w,
        Err(RequestError::Syntax(m)) => return error(StatusCode::BAD_REQUEST, m),
        Err(RequestError::Invalid(m)) => return error(StatusCode::UNPROCESSABLE_ENTITY, m),
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    if state.queue.submit(Job { work, reply }).is_err() {
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is busy: its queue is full (--max-queue); retry shortly",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    match answer.await {
        Ok(Ok(value)) => json_response(StatusCode::OK, &value),
        Ok(Err(JobError::Input(m))) => error(StatusCode::UNPROCESSABLE_ENTITY, m),
        Ok(Err(JobError::WrongTask(m))) => error(StatusCode::NOT_FOUND, m),
        Ok(Err(JobError::Internal(m))) => error(StatusCode::INTERNAL_SERVER_ERROR, m),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the model stopped before answering (the server is shutting down)",
        ),
    }
}
