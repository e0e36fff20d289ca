//! The pretraining TOML config. The body is `albert_runner::fuzz_targets::pretrain_toml`,
//! which `cargo test` also runs over the committed corpus (fuzz/regressions/pretrain_toml/).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| albert_runner::fuzz_targets::pretrain_toml(data));
