//! Integration tests of `albert-core`, in one binary (one link per crate keeps CI's build small).

mod checkpoints;
mod common;
mod formats;
mod hf_forward;
mod param_counts;
