//! `spiece.model` (SentencePiece protobuf), then the tokenizer on it. The body is `albert_runner::fuzz_targets::spiece_model`,
//! which `cargo test` also runs over the committed corpus (fuzz/regressions/spiece_model/).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| albert_runner::fuzz_targets::spiece_model(data));
