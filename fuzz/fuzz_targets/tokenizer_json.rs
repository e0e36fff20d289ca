//! `tokenizer.json`, then the tokenizer on it. The body is `albert_runner::fuzz_targets::tokenizer_json`,
//! which `cargo test` also runs over the committed corpus (fuzz/regressions/tokenizer_json/).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| albert_runner::fuzz_targets::tokenizer_json(data));
