//! # albert-core
//!
//! The ALBERT model ("ALBERT: A Lite BERT for Self-supervised Learning of Language
//! Representations", Lan et al., ICLR 2020) on burn 0.22, numerically the same as Hugging Face
//! `transformers`' `AlbertModel` on the same weights.
//!
//! What lives where:
//! - [`AlbertConfig`] (`config.rs`) and its HF `config.json` adapter ([`HfConfig`]);
//! - factorised embeddings (paper §3.1) in [`AlbertEmbeddings`]; the `E → H` projection and
//!   cross-layer parameter sharing (§3.1, Table 4 via [`SharingMode`]) in
//!   [`AlbertTransformer`]; the layer halves in [`AlbertAttention`] and [`AlbertFeedForward`];
//! - [`AlbertModel`] (body + pooler) and the pretraining heads ([`heads`]: MLM with the decoder
//!   tied to the word embeddings, SOP);
//! - HF checkpoints in and out, and burn records, in [`checkpoint`]; parameter counts in
//!   [`ParamCounts`];
//! - the hot operations (linear layers on rows, LayerNorm, GELU, attention) in [`ops`], the one
//!   place that chooses between fused kernels installed for a device (`albert-kernels` for the
//!   CPU) and burn's composed ops;
//! - the progress display of long work (pretraining, fine-tuning, scoring) in [`progress`].
//!
//! Model code never names a backend: modules are built on a runtime [`burn::tensor::Device`]
//! (`Device::flex()`, `Device::wgpu(..)`, `Device::cuda(0)`), which the calling binary picks.
//!
//! ```no_run
//! use albert_core::{AlbertForPreTraining, HfConfig, TokenBatch, EncoderOutputs};
//! use albert_core::checkpoint::{load_hf, MissingPolicy};
//! use burn::tensor::Device;
//!
//! # fn main() -> albert_core::Result<()> {
//! let device = Device::flex();
//! let hf = HfConfig::from_file("model/config.json")?;
//! let model = AlbertForPreTraining::init(&hf.config, 0, &device);
//! let (model, report) = load_hf(model, &["model/model.safetensors"], MissingPolicy::Error)?;
//! println!("{report}");
//! let batch = TokenBatch { input_ids: vec![vec![2, 48, 4, 3]], ..Default::default() };
//! let out = model.forward(batch.to_input(&hf.config, &device)?, EncoderOutputs::default());
//! println!("{:?}", out.sop_logits.dims());
//! # Ok(()) }
//! ```

mod attention;
mod batch;
pub mod checkpoint;
pub mod clip;
mod config;
mod count;
mod embeddings;
mod error;
mod feed_forward;
pub mod heads;
mod hf_config;
pub mod init;
pub mod io;
pub mod loss;
mod model;
pub mod ops;
pub mod optim;
pub mod precision;
pub mod progress;
pub mod rng;
pub mod schedule;
mod transformer;

pub use attention::AlbertAttention;
pub use batch::{TokenBatch, int_tensor};
pub use config::{AlbertConfig, AlbertSize, AlbertVersion, HiddenAct, SharingMode};
pub use count::{ParamCounts, pretraining_heads};
pub use embeddings::AlbertEmbeddings;
pub use error::{AlbertError, Result};
pub use feed_forward::AlbertFeedForward;
pub use heads::{AlbertForPreTraining, AlbertMlmHead, AlbertPreTrainingOutput, AlbertSopHead};
pub use hf_config::HfConfig;
pub use model::{AlbertInput, AlbertModel, AlbertOutput};
pub use schedule::Schedule;
pub use transformer::{AlbertTransformer, EncoderOutput, EncoderOutputs};

// The README's examples compile (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
