//! # albert-runner
//!
//! The `albert` command-line tool (binary `albert`) and the library behind it:
//! - `albert forward` runs any of the five HF model kinds on a reference inputs file and writes
//!   every output under the reference fixtures' names ([`forward`]);
//! - `albert export` writes an HF-layout directory;
//! - `albert info` prints the architecture and parameter counts ([`info`]);
//! - `albert pretrain --config FILE.toml --out DIR [--resume]` pretrains ([`pretrain`]);
//! - `albert finetune` / `albert evaluate` fine-tune and score models on every task kind
//!   ([`finetune`]); `albert classify` / `albert fill-mask` / `albert answer` / `albert tag` /
//!   `albert embed` run inference ([`infer`], [`tag`], [`embed`]) through [`pipeline`] (also
//!   typed per task: `FillMask`, `TextClassification`, `TokenClassification`,
//!   `QuestionAnswering`, `FeatureExtraction`);
//! - `albert tokenizer encode|train` encodes JSON lines and trains vocabularies ([`tokenize`]);
//! - `albert serve` serves a model over HTTP/JSON with dynamic batching ([`serve`], on
//!   [`pipeline`]); `albert device-server` hosts this machine's devices for remote clients
//!   ([`device_server`], feature `remote`).
//!
//! Backends are cargo features of this crate (`flex` default; `wgpu`; `cuda` and `remote`,
//! opt-in), the device a run-time choice (`--device cpu|wgpu|cuda|remote:ws://HOST:PORT`, see
//! [`device`]).

pub mod cli;
pub mod device;
pub mod device_server;
pub mod embed;
mod error;
pub mod finetune;
pub mod forward;
pub mod fuzz_targets;
pub mod hub;
pub mod infer;
pub mod info;
pub mod inputs;
pub mod models;
pub mod parity;
pub mod pipeline;
pub mod pretrain;
pub mod serve;
pub mod tag;
pub mod tokenize;

pub use error::{Result, RunnerError};

// The README's examples compile (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
