//! Integration tests of `albert-pretrain`, in one binary (one link per crate keeps CI's build small).

mod common;
mod data_parallel;
mod distributions;
mod hf_train_step;
mod init;
mod optimization;
mod real_corpus;
mod resume;
