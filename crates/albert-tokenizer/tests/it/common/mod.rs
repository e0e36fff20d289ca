//! Test support: the team's shared folder (see `albert-testdata`).
#![allow(dead_code)]

pub use albert_testdata::shared_path;
