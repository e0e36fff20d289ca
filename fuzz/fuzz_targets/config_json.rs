//! `config.json` (HF) and `albert_config.json` (the original code's). The body is `albert_runner::fuzz_targets::config_json`,
//! which `cargo test` also runs over the committed corpus (fuzz/regressions/config_json/).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| albert_runner::fuzz_targets::config_json(data));
