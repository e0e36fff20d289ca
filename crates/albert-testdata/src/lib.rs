//! Development support shared by the crates' tests, the benchmarks and xtask (std only, not
//! published): where the team's shared folder (`../shared` beside the checkout: Hugging Face
//! fixtures, corpora, task data) is, and the median the benchmark reports use.

use std::path::{Path, PathBuf};

/// The shared folder: `$ALBERT_SHARED_DIR`, else `../shared` beside the repository.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("ALBERT_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// The shared folder when it holds the fixtures; `None` (the caller skips its test, with a
/// message) when it does not, unless `ALBERT_REQUIRE_FIXTURES=1`, which makes that a failure.
///
/// # Panics
/// When the fixtures are missing and `ALBERT_REQUIRE_FIXTURES=1`.
pub fn shared() -> Option<PathBuf> {
    shared_path("fixtures").map(|_| shared_dir())
}

/// `what` inside the shared folder when it exists; `None` (the caller skips its test, with a
/// message) when absent, unless `ALBERT_REQUIRE_FIXTURES=1`, which makes absence a failure.
///
/// # Panics
/// When the path is missing and `ALBERT_REQUIRE_FIXTURES=1`.
pub fn shared_path(what: &str) -> Option<PathBuf> {
    let path = shared_dir().join(what);
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

/// The `[model]`, `[data]` and `[instances]` tables of a tiny pretraining config (E 16, H 32,
/// 2 layers, 32-token instances) on `data/pretrain/sample.txt` with the fixture tokenizer, for
/// tests to complete with their own `[schedule]` and `[run]`.
pub fn tiny_pretrain_toml(shared: &Path) -> String {
    format!(
        r#"
[model]
embedding_size = 16
hidden_size = 32
num_hidden_layers = 2
num_attention_heads = 2
intermediate_size = 64
max_position_embeddings = 64

[data]
corpus = ["{corpus}"]
tokenizer = "{tokenizer}"
held_out_every = 5

[instances]
max_seq_length = 32
max_predictions_per_seq = 5
"#,
        corpus = shared.join("data/pretrain/sample.txt").display(),
        tokenizer = shared.join("fixtures/tokenizer/spiece.model").display(),
    )
}

/// The `[schedule]` and `[run]` tables of a tiny test run (LAMB peak 0.01, batch 4, one log line
/// per step unless set), to append to [`tiny_pretrain_toml`].
#[derive(Debug, Clone, Copy)]
pub struct TinyRun {
    /// Optimisation steps (also the schedule's total).
    pub steps: u64,
    /// Warm-up steps.
    pub warmup_steps: u64,
    /// Micro-batches per step.
    pub gradient_accumulation: u64,
    /// Steps per train log line.
    pub log_every: u64,
    /// Steps between evaluations (0: none).
    pub eval_every: u64,
    /// Batches per evaluation.
    pub eval_batches: u64,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
}

impl Default for TinyRun {
    fn default() -> Self {
        TinyRun {
            steps: 6,
            warmup_steps: 2,
            gradient_accumulation: 1,
            log_every: 1,
            eval_every: 0,
            eval_batches: 1,
            checkpoint_every: 3,
        }
    }
}

impl TinyRun {
    /// The tables as TOML text.
    pub fn toml(&self) -> String {
        format!(
            r#"
[schedule]
peak = 0.01
warmup_steps = {warmup}
total_steps = {steps}

[run]
steps = {steps}
batch_size = 4
gradient_accumulation = {accumulation}
log_every = {log_every}
eval_every = {eval_every}
eval_batches = {eval_batches}
checkpoint_every = {checkpoint_every}
keep_last = 2
"#,
            warmup = self.warmup_steps,
            steps = self.steps,
            accumulation = self.gradient_accumulation,
            log_every = self.log_every,
            eval_every = self.eval_every,
            eval_batches = self.eval_batches,
            checkpoint_every = self.checkpoint_every,
        )
    }
}

/// The median of the finite values of `xs` (the mean of the middle two for an even count); NaN
/// when there is none.
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// How far PyTorch's own bf16 autocast lands from float32 on an HF fixture: the largest
/// absolute difference of `output` (`last_hidden_state`, `pooler_output`, `prediction_logits`,
/// `sop_logits`) over the batches `pair`, `single` and `varied` of fixture `fixture` (`tiny`,
/// `tiny-groups`), as `benches/pytorch_bf16_deviation.py` measured it on CPU
/// (`data/pytorch_bf16_deviation.json` in this crate, with the versions; docs/precision.md has
/// the command). The yardstick of the bf16 accuracy tests: ours may deviate at most twice as
/// much on the same inputs. (Per output over the fixture's inputs, not per batch: a batch of
/// one has two SOP logits, too few for a per-batch maximum to mean much.)
///
/// # Panics
/// When the file or the entry is missing (the file is part of this crate).
pub fn pytorch_bf16_deviation(fixture: &str, output: &str) -> f64 {
    static FILE: &str = include_str!("../data/pytorch_bf16_deviation.json");
    deviation_in(FILE, "bf16", fixture, output)
}

/// [`pytorch_bf16_deviation`] for PyTorch's fp16 autocast (`torch.autocast(dtype=torch.float16)`
/// on CPU: `benches/pytorch_bf16_deviation.py --dtype float16`, kept in
/// `data/pytorch_fp16_deviation.json`).
///
/// # Panics
/// When the file or the entry is missing (the file is part of this crate).
pub fn pytorch_fp16_deviation(fixture: &str, output: &str) -> f64 {
    static FILE: &str = include_str!("../data/pytorch_fp16_deviation.json");
    deviation_in(FILE, "fp16", fixture, output)
}

/// [`pytorch_bf16_deviation`] for PyTorch's dynamic int8 quantisation of the linear layers
/// (`torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)` on CPU:
/// `benches/pytorch_bf16_deviation.py --dtype qint8`, kept in
/// `data/pytorch_int8_deviation.json`).
///
/// # Panics
/// When the file or the entry is missing (the file is part of this crate).
pub fn pytorch_int8_deviation(fixture: &str, output: &str) -> f64 {
    static FILE: &str = include_str!("../data/pytorch_int8_deviation.json");
    deviation_in(FILE, "int8", fixture, output)
}

/// The largest of `output`'s deviations over the three batches in a deviation `file`.
fn deviation_in(file: &str, what: &str, fixture: &str, output: &str) -> f64 {
    let json: serde_json::Value = serde_json::from_str(file).expect("deviation file");
    ["pair", "single", "varied"]
        .iter()
        .map(|batch| {
            json["fixtures"][fixture][batch][output]
                .as_f64()
                .unwrap_or_else(|| {
                    panic!("no PyTorch {what} deviation for {fixture}/{batch}/{output}")
                })
        })
        .fold(0.0, f64::max)
}

/// The largest deviation from float32 the accuracy tests allow a forward in `precision`
/// (`"bf16"`, `"fp16"` or `"int8"`) on `output` of `fixture`: twice what PyTorch deviates in
/// the same mode on the same weights and inputs — its autocast in that dtype, or its dynamic
/// int8 quantisation ([`pytorch_bf16_deviation`], [`pytorch_fp16_deviation`],
/// [`pytorch_int8_deviation`]).
///
/// # Panics
/// On another precision.
pub fn deviation_bound(precision: &str, fixture: &str, output: &str) -> f64 {
    2.0 * match precision {
        "bf16" => pytorch_bf16_deviation(fixture, output),
        "fp16" => pytorch_fp16_deviation(fixture, output),
        "int8" => pytorch_int8_deviation(fixture, output),
        other => panic!("no deviation bound for precision {other:?}"),
    }
}

/// The smallest deviation from float32 that shows a forward in `precision` (`"bf16"`, `"fp16"`
/// or `"int8"`) really rounded (quantised) its operands, on `output` of `fixture`: a quarter of
/// what PyTorch deviates in that mode ([`deviation_bound`] is twice it). Rounding every
/// product's operands moves the outputs on the order of PyTorch's own deviation; a run that
/// silently stayed in float32 lands within 1e-5 of the reference.
///
/// # Panics
/// On another precision.
pub fn deviation_floor(precision: &str, fixture: &str, output: &str) -> f64 {
    deviation_bound(precision, fixture, output) / 8.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// fp16 keeps 11 significant bits to bf16's 8, so PyTorch's fp16 autocast lands several
    /// times closer to float32 than its bf16 (unit roundoffs 2⁻¹¹ and 2⁻⁸), on every output.
    #[test]
    fn fp16_bounds_are_tighter_than_bf16s() {
        for fixture in ["tiny", "tiny-groups"] {
            for output in [
                "last_hidden_state",
                "pooler_output",
                "prediction_logits",
                "sop_logits",
            ] {
                let (bf16, fp16) = (
                    deviation_bound("bf16", fixture, output),
                    deviation_bound("fp16", fixture, output),
                );
                assert_eq!(bf16, 2.0 * pytorch_bf16_deviation(fixture, output));
                assert!(
                    fp16 > 0.0 && fp16 * 2.5 < bf16,
                    "{fixture} {output}: {fp16} vs {bf16}"
                );
            }
        }
    }

    #[test]
    fn median_of_odd_and_even_counts_skips_non_finite_values() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[f64::NAN, 5.0, f64::INFINITY, 1.0]), 3.0);
        assert!(median(&[]).is_nan());
        assert!(median(&[f64::NAN]).is_nan());
    }
}
