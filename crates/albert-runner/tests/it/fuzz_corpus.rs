//! Replays the fuzzers' committed corpus (`fuzz/regressions/<target>/`, written by `cargo
//! xtask fuzz`: the minimised inputs that reached new code, including any that once crashed)
//! through the same target bodies (`albert_runner::fuzz_targets`): none may panic.

use std::path::Path;

#[test]
fn every_fuzz_target_survives_its_regression_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    for (name, target) in albert_runner::fuzz_targets::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask fuzz`)", dir.display()))
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}: no inputs", dir.display());
        for file in files {
            let data = std::fs::read(&file).expect("read");
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name} panicked on {}", file.display());
        }
    }
}
