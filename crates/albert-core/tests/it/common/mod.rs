//! Test support: the shared fixtures directory.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared folder (see [`albert_testdata::shared`]).
pub fn shared_dir() -> Option<PathBuf> {
    albert_testdata::shared()
}

pub fn hf_dir(name: &str) -> Option<PathBuf> {
    shared_dir().map(|s| s.join("fixtures/hf-albert").join(name))
}
