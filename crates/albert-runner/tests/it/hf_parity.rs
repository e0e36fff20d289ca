//! Every tensor of both HF fixtures, for all five heads, through the same code path as
//! `albert forward`. Tolerance 1e-4 max abs diff in float32 (the fixture README suggests
//! atol 1e-5 / rtol 1e-4; its float64 re-evaluation differs from float32 by < 3e-6).

use albert_core::HfConfig;
use albert_core::checkpoint::MissingPolicy;
use albert_runner::forward::{ForwardOptions, run};
use albert_runner::inputs::ReferenceInputs;
use albert_runner::models::AnyModel;
use albert_runner::parity::check_fixture;

const TOLERANCE: f32 = 1e-4;

fn check(name: &str, expected_tensors: usize) {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let outcome = check_fixture(
        &shared.join("fixtures/hf-albert").join(name),
        &albert_runner::device::cpu(),
        TOLERANCE,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.reference_tensors, expected_tensors);
    let (worst, head) = outcome.worst.expect("something compared");
    eprintln!(
        "{name}: {} reference tensors ({} comparisons) within {TOLERANCE:e}; largest diff {:e} at {} ({})",
        outcome.reference_tensors,
        outcome.comparisons,
        worst.max_abs_diff,
        worst.name,
        head.cli_name()
    );
}

#[test]
fn tiny_all_heads_match_hf() {
    check("tiny", 77);
}

#[test]
fn tiny_groups_all_heads_match_hf() {
    check("tiny-groups", 92);
}

#[test]
fn light_batches_drop_per_layer_outputs_only() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let dir = shared.join("fixtures/hf-albert/tiny");
    let device = albert_runner::device::cpu();
    let hf = HfConfig::from_file(dir.join("config.json")).expect("config");
    let inputs = ReferenceInputs::from_file(&dir.join("inputs.json")).expect("inputs");
    let (model, _) = AnyModel::load(
        albert_heads::HeadKind::Pretraining,
        &hf,
        &[dir.join("model.safetensors")],
        MissingPolicy::Error,
        &device,
    )
    .expect("load");
    let options = ForwardOptions {
        light: ["long".to_string()].into_iter().collect(),
    };
    let outputs = run(&model, &hf.config, &inputs, &options, &device).expect("forward");
    let names: Vec<&str> = outputs.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"long/prediction_logits_at_labels"));
    assert!(!names.contains(&"long/prediction_logits"));
    assert!(!names.iter().any(|n| n.starts_with("long/hidden_states")));
    assert!(names.contains(&"pair/prediction_logits") && names.contains(&"pair/hidden_states/3"));
}
