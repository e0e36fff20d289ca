//! `tokenizer.json`, then the tokenizer on it. The body is `albert_runner::fuzz_targets::tokenizer_json`,
//! which `cargo test` also runs over the committed corpus (fuzz/regressions/tokenizer_json/).
//!
//! The `tokenizers` crate has `expect`s and unchecked indexing in its readers and in
//! `spm_precompiled` (docs/reliability.md lists the ones found); `FastTokenizer` catches their
//! panics with `catch_unwind` and reports a corrupt file, which is what a user sees. libFuzzer's
//! panic hook aborts before any unwinding, so this target narrows it: a panic located in those
//! two crates unwinds to that catch (and the input counts as handled), any other panic — ours,
//! or the standard library's on our behalf — still aborts and is a crash.
#![no_main]
use libfuzzer_sys::fuzz_target;

/// Source paths of the crates whose panics `FastTokenizer` turns into errors.
const CAUGHT: [&str; 2] = ["/tokenizers-", "/spm_precompiled-"];

fn narrow_the_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let caught = info
                .location()
                .is_some_and(|l| CAUGHT.iter().any(|c| l.file().contains(c)));
            if !caught {
                abort(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    narrow_the_panic_hook();
    albert_runner::fuzz_targets::tokenizer_json(data)
});
