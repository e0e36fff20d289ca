//! Test support: the shared fixtures directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `../shared` beside the repository (or `$ALBERT_SHARED_DIR`); `None` (skip) when absent
/// unless `ALBERT_REQUIRE_FIXTURES=1`.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("ALBERT_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    if dir.join("fixtures").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("ALBERT_REQUIRE_FIXTURES").map_or(true, |v| v != "1"),
        "ALBERT_REQUIRE_FIXTURES=1 but {} has no fixtures/",
        dir.display()
    );
    eprintln!("skipping: {} not found", dir.display());
    None
}

pub fn hf_dir(name: &str) -> Option<PathBuf> {
    shared_dir().map(|s| s.join("fixtures/hf-albert").join(name))
}
