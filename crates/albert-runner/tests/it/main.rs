//! Integration tests of `albert-runner`, in one binary (one link per crate keeps CI's build small).

mod bf16_parity;
mod cli;
mod finetune_cli;
mod finetune_resume;
mod fuzz_corpus;
mod hf_parity;
mod hub;
mod pretrain_cli;
mod serve;
mod tag_cli;
mod tokenizer_cli;
