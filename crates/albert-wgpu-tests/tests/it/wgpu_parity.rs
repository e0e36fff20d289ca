//! The HF parity checks on the wgpu backend: the same model code, a GPU backend (on a GPU-less
//! CI machine, Mesa's lavapipe software Vulkan). One test binary, tiny shapes, so the shaders
//! compile once. Skipped when no adapter exists, unless `ALBERT_REQUIRE_WGPU=1` (set by
//! `.ci/run`, which installs lavapipe).

use albert_runner::device::{device, probe};
use albert_runner::parity::check_fixture;

/// The wgpu device when an adapter answers; `None` (the test skips, with a message) when none
/// does, unless `ALBERT_REQUIRE_WGPU=1`, which makes that a failure.
fn wgpu_or_skip() -> Option<burn::tensor::Device> {
    let device = device("wgpu").expect("built with wgpu");
    if let Err(e) = probe(&device, "wgpu") {
        assert!(
            std::env::var("ALBERT_REQUIRE_WGPU").map_or(true, |v| v != "1"),
            "ALBERT_REQUIRE_WGPU=1 but: {e}"
        );
        eprintln!("skipping wgpu test: {e}");
        return None;
    }
    Some(device)
}

#[test]
fn hf_fixtures_match_on_wgpu() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let Some(device) = wgpu_or_skip() else {
        return;
    };
    for fixture in ["tiny", "tiny-groups"] {
        let outcome = check_fixture(
            &shared.join("fixtures/hf-albert").join(fixture),
            &device,
            1e-4,
        )
        .unwrap_or_else(|e| panic!("wgpu: {e}"));
        let (worst, head) = outcome.worst.expect("something compared");
        eprintln!(
            "wgpu ({device:?}) {fixture}: {} reference tensors within 1e-4; largest diff {:e} at {} ({})",
            outcome.reference_tensors,
            worst.max_abs_diff,
            worst.name,
            head.cli_name()
        );
    }
}

/// `--precision bf16` on wgpu: where the adapter supports burn's bf16 dtype, the tiny fixture's
/// pretraining outputs in bf16 land within twice PyTorch's own bf16-autocast deviation (as on
/// the CPU, `albert-runner`'s `bf16_parity`); where it does not (lavapipe), the device check
/// refuses with an error that says so instead of failing inside a kernel.
#[test]
fn bf16_on_wgpu_runs_or_is_refused_clearly() {
    use albert_core::precision::{Precision, autocast};
    use albert_runner::parity::{compare, model_outputs};

    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let Some(device) = wgpu_or_skip() else {
        return;
    };
    let _bf16 = autocast(Precision::Bf16);
    if !device.supports_dtype(burn::tensor::DType::BF16) {
        let e = probe(&device, "wgpu").expect_err("bf16 refused");
        assert!(e.to_string().contains("bfloat16"), "{e}");
        eprintln!("wgpu ({device:?}) has no bf16: {e}");
        return;
    }
    probe(&device, "wgpu").expect("bf16 supported");
    let dir = shared.join("fixtures/hf-albert/tiny");
    let outputs = model_outputs(
        albert_heads::HeadKind::Pretraining,
        &dir.join("config.json"),
        &[dir.join("model.safetensors")],
        &dir.join("inputs.json"),
        &device,
    )
    .expect("forward");
    let outputs_of = [
        "last_hidden_state",
        "pooler_output",
        "prediction_logits",
        "sop_logits",
    ];
    let report = compare(&dir.join("expected.safetensors"), &outputs, |name| {
        name.split_once('/')
            .is_some_and(|(b, o)| b == "pair" && outputs_of.contains(&o))
    })
    .expect("compare");
    assert_eq!(report.compared.len(), 4);
    for d in &report.compared {
        let output = &d.name["pair/".len()..];
        let pytorch = albert_testdata::pytorch_bf16_deviation("tiny", output);
        eprintln!(
            "wgpu bf16 {}: {:e} (PyTorch {pytorch:e})",
            d.name, d.max_abs_diff
        );
        assert!(f64::from(d.max_abs_diff) <= 2.0 * pytorch, "{}", d.name);
    }
}
