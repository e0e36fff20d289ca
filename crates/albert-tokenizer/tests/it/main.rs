//! Integration tests of `albert-tokenizer`, in one binary (one link per crate keeps CI's build small).

mod common;
mod fixture;
mod robustness;
#[cfg(feature = "train")]
mod training;
