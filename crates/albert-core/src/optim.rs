//! Shared optimiser conventions.

/// Parameter-name fragments excluded from weight decay (and, in LAMB, from layer adaptation):
/// ALBERT's `["LayerNorm", "layer_norm", "bias"]` in burn's names (`gamma`/`beta` are
/// LayerNorm's).
pub const NO_DECAY: [&str; 3] = ["gamma", "beta", "bias"];
