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

/// The `tiny` weights as `pytorch_model.bin` and as an original TF1 checkpoint (with the
/// original `albert_config.json`) reproduce `tiny/expected.safetensors`' pretraining outputs
/// through the `albert forward` path, as `model.safetensors` does.
#[test]
fn pytorch_bin_and_tf_checkpoint_reproduce_the_reference() {
    use albert_runner::parity::{belongs_to, compare, model_outputs};

    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let tiny = shared.join("fixtures/hf-albert/tiny");
    let formats = shared.join("fixtures/hf-albert/formats");
    let device = albert_runner::device::cpu();
    for (config, weights) in [
        (
            formats.join("tiny-bin/config.json"),
            formats.join("tiny-bin/pytorch_model.bin"),
        ),
        (
            formats.join("tiny-tf/albert_config.json"),
            formats.join("tiny-tf/model.ckpt-0"),
        ),
    ] {
        let outputs = model_outputs(
            albert_heads::HeadKind::Pretraining,
            &config,
            std::slice::from_ref(&weights),
            &tiny.join("inputs.json"),
            &device,
        )
        .unwrap_or_else(|e| panic!("{weights:?}: {e}"));
        let report = compare(&tiny.join("expected.safetensors"), &outputs, |n| {
            belongs_to(n, albert_heads::HeadKind::Pretraining)
        })
        .expect("compare");
        report
            .check(TOLERANCE)
            .unwrap_or_else(|p| panic!("{weights:?}:\n{p}"));
        assert!(report.compared.len() > 20, "{}", report.compared.len());
    }
}

/// `albert fill-mask` on an `AlbertForMaskedLM` checkpoint (no SOP head, no pooler) against
/// transformers' `pipeline("fill-mask", top_k=5)` on 8 texts
/// (`formats/mlm-30k/fill_mask_expected.json`): the same tokens in the same order, scores
/// within 1e-4, the same `token_str`, and the same `sequence` where the text has one mask (with
/// several, transformers' `sequence` strings are an artefact of its per-mask decoding).
#[test]
fn fill_mask_matches_the_transformers_pipeline() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let dir = shared.join("fixtures/hf-albert/formats/mlm-30k");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("fill_mask_expected.json")).expect("expected"),
    )
    .expect("json");
    let cases = expected.as_array().expect("list");
    assert_eq!(cases.len(), 8);
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let top_k = case["top_k"].as_u64().expect("top_k") as usize;
        let ours = albert_runner::infer::fill_mask(&dir, text, top_k, "cpu")
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        let want = &case["output"];
        let single = want[0].is_object();
        let (ours, want): (Vec<&serde_json::Value>, Vec<&serde_json::Value>) = if single {
            (vec![&ours], vec![want])
        } else {
            (
                ours.as_array().expect("per mask").iter().collect(),
                want.as_array().expect("per mask").iter().collect(),
            )
        };
        assert_eq!(ours.len(), want.len(), "{text}: masks");
        for (o, w) in ours.iter().zip(&want) {
            let (o, w) = (o.as_array().expect("list"), w.as_array().expect("list"));
            assert_eq!(o.len(), w.len(), "{text}");
            for (a, b) in o.iter().zip(w) {
                assert_eq!(a["token"], b["token"], "{text}: {a} vs {b}");
                assert_eq!(a["token_str"], b["token_str"], "{text}: {a} vs {b}");
                let (sa, sb) = (
                    a["score"].as_f64().expect("score"),
                    b["score"].as_f64().expect("score"),
                );
                assert!((sa - sb).abs() <= 1e-4, "{text}: score {sa} vs {sb}");
                if single {
                    assert_eq!(a["sequence"], b["sequence"], "{text}");
                }
            }
        }
    }
}
