//! A `.safetensors` file. The body is `albert_runner::fuzz_targets::safetensors`,
//! which `cargo test` also runs over the committed corpus (fuzz/regressions/safetensors/).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| albert_runner::fuzz_targets::safetensors(data));
