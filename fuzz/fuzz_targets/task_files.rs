//! The labelled task files: GLUE-style TSV, SQuAD JSON, RACE-style JSON, CoNLL. The body is `albert_runner::fuzz_targets::task_files`,
//! which `cargo test` also runs over the committed corpus (fuzz/regressions/task_files/).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| albert_runner::fuzz_targets::task_files(data));
