//! Test support: the team's shared folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `../shared` beside the repository (or `$ALBERT_SHARED_DIR`) when it holds `what`; `None`
/// (skip) when absent, unless `ALBERT_REQUIRE_FIXTURES=1`, which makes absence a failure.
pub fn shared_path(what: &str) -> Option<PathBuf> {
    let shared = std::env::var_os("ALBERT_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let path = shared.join(what);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("ALBERT_REQUIRE_FIXTURES").map_or(true, |v| v != "1"),
        "ALBERT_REQUIRE_FIXTURES=1 but {} is missing",
        path.display()
    );
    eprintln!("skipping: {} not found", path.display());
    None
}
