//! A TF1 checkpoint: `.index` table and data shard. The body is `albert_runner::fuzz_targets::tf_checkpoint`,
//! which `cargo test` also runs over the committed corpus (fuzz/regressions/tf_checkpoint/).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| albert_runner::fuzz_targets::tf_checkpoint(data));
