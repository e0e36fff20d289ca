//! Arbitrary bytes through the tokenizer (ids in range, truncation respected). The body is `albert_runner::fuzz_targets::tokenize_text`,
//! which `cargo test` also runs over the committed corpus (fuzz/regressions/tokenize_text/).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| albert_runner::fuzz_targets::tokenize_text(data));
