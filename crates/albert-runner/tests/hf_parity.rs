//! Every tensor of both HF fixtures, for all five heads, through the same code path as
//! `albert forward`. Tolerance 1e-4 max abs diff in float32 (the fixture README suggests
//! atol 1e-5 / rtol 1e-4; its float64 re-evaluation differs from float32 by < 3e-6).

use albert_core::HfConfig;
use albert_core::checkpoint::MissingPolicy;
use albert_runner::forward::{ForwardOptions, run};
use albert_runner::inputs::ReferenceInputs;
use albert_runner::models::AnyModel;
use albert_runner::parity::{belongs_to, compare, fixture_cases, shared_dir};
use burn::tensor::Device;

const TOLERANCE: f32 = 1e-4;

fn check_fixture(name: &str) {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("fixtures/hf-albert").join(name);
    let device = Device::flex();
    let inputs = ReferenceInputs::from_file(&dir.join("inputs.json")).expect("inputs");
    let cases = fixture_cases(&dir).expect("manifest");
    assert_eq!(cases.len(), 5, "{name}: five model kinds");
    let mut worst = (0.0f32, String::new());
    let mut compared = 0;
    let mut covered = std::collections::BTreeSet::new();
    for case in cases {
        let hf = HfConfig::from_file(&case.config).expect("config");
        let (model, report) =
            AnyModel::load(case.head, &hf, &case.weights, MissingPolicy::Error, &device)
                .expect("load");
        assert!(report.is_complete(), "{report}");
        let outputs = run(
            &model,
            &hf.config,
            &inputs,
            &ForwardOptions::default(),
            &device,
        )
        .expect("forward");
        let parity = compare(&dir.join("expected.safetensors"), &outputs, |n| {
            belongs_to(n, case.head)
        })
        .expect("compare");
        if let Err(problems) = parity.check(TOLERANCE) {
            panic!("{name} {}:\n{problems}", case.head.cli_name());
        }
        compared += parity.compared.len();
        covered.extend(parity.compared.iter().map(|d| d.name.clone()));
        if let Some(w) = parity.worst()
            && w.max_abs_diff >= worst.0
        {
            worst = (
                w.max_abs_diff,
                format!("{} ({})", w.name, case.head.cli_name()),
            );
        }
    }
    // Every reference tensor except the training step (`train/*`, the pretraining issue's) was
    // checked by at least one head.
    let all: std::collections::BTreeSet<String> =
        albert_core::checkpoint::read_safetensors(dir.join("expected.safetensors"))
            .expect("expected")
            .into_iter()
            .map(|t| t.name)
            .filter(|n| !n.starts_with("train/"))
            .collect();
    assert_eq!(covered, all, "{name}: reference tensors not checked");
    eprintln!(
        "{name}: {} reference tensors ({compared} comparisons) within {TOLERANCE:e}; largest diff {:e} at {}",
        covered.len(),
        worst.0,
        worst.1
    );
}

#[test]
fn tiny_all_heads_match_hf() {
    check_fixture("tiny");
}

#[test]
fn tiny_groups_all_heads_match_hf() {
    check_fixture("tiny-groups");
}

#[test]
fn light_batches_drop_per_layer_outputs_only() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("fixtures/hf-albert/tiny");
    let device = Device::flex();
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
