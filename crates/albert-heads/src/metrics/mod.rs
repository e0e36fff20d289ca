//! Task metrics computed as the official scripts compute them, so numbers are comparable with
//! published ones:
//!
//! | metric | as in |
//! |---|---|
//! | [`accuracy`], [`f1_binary`], [`f1_macro`], [`matthews_corrcoef`] | scikit-learn (GLUE's `glue_compute_metrics`) |
//! | [`pearson`], [`spearman`] | SciPy `pearsonr` / `spearmanr` (average ranks for ties) |
//! | [`squad`] | the official SQuAD v1.1 / v2.0 evaluation scripts (answer normalisation, max over gold answers, HasAns/NoAns, best no-answer threshold) |
//! | [`tagging`] | token accuracy; entity-level F1 as `seqeval` / `conlleval` (IOB1/IOB2/IOBES chunks) |
//!
//! Multiple-choice (RACE) accuracy is [`accuracy`] over the chosen option indices.

mod classification;
mod regression;
pub mod squad;
pub mod tagging;

pub use classification::{accuracy, f1_binary, f1_macro, matthews_corrcoef};
pub use regression::{pearson, spearman};
