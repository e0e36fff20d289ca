//! Only integration tests live here; see `tests/`.
