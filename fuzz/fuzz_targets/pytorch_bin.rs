//! `pytorch_model.bin` (zip + pickle, never executed). The body is `albert_runner::fuzz_targets::pytorch_bin`,
//! which `cargo test` also runs over the committed corpus (fuzz/regressions/pytorch_bin/).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| albert_runner::fuzz_targets::pytorch_bin(data));
