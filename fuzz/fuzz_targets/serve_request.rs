//! `albert serve`'s request bodies on every route. The body is `albert_runner::fuzz_targets::serve_request`,
//! which `cargo test` also runs over the committed corpus (fuzz/regressions/serve_request/).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| albert_runner::fuzz_targets::serve_request(data));
