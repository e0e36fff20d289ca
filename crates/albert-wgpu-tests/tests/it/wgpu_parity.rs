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

/// `--precision bf16` and `fp16` on wgpu: where the adapter supports burn's dtype for it, the
/// tiny fixture's pretraining outputs land within `albert_testdata::deviation_bound` (as
/// on the CPU, `albert-runner`'s `bf16_parity`), with the products run in that dtype on the
/// device; where it does not (bf16 on lavapipe and on Vulkan generally), the device check
/// refuses with an error that says so instead of failing inside a kernel. `int8` (the CPU
/// kernels' dynamic quantisation) is refused the same way.
#[test]
fn half_precisions_on_wgpu_run_or_are_refused_clearly() {
    use albert_core::precision::{Precision, autocast};
    use burn::tensor::DType;

    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let Some(device) = wgpu_or_skip() else {
        return;
    };
    let mut ran = Vec::new();
    for (precision, dtype, what) in [
        (Precision::Bf16, DType::BF16, "bfloat16"),
        (Precision::Fp16, DType::F16, "float16"),
    ] {
        let _half = autocast(precision);
        if !device.supports_dtype(dtype) {
            let e = probe(&device, "wgpu").expect_err("refused");
            assert!(e.to_string().contains(what), "{e}");
            eprintln!("wgpu ({device:?}) has no {precision}: {e}");
            continue;
        }
        probe(&device, "wgpu").expect("supported");
        half_forward_within_bound(&shared, &device, precision);
        ran.push(precision);
    }
    {
        // Dynamic int8 runs on the CPU kernels only: refused here, saying so.
        let _int8 = autocast(Precision::Int8);
        let e = probe(&device, "wgpu").expect_err("int8 refused");
        assert!(e.to_string().contains("CPU kernels only"), "{e}");
    }
    if std::env::var("ALBERT_REQUIRE_WGPU").is_ok_and(|v| v == "1") {
        // lavapipe (CI) computes in f16 (`shader-f16`): the fp16 path must have run there.
        assert!(ran.contains(&Precision::Fp16), "fp16 did not run on wgpu");
    }
}

/// The tiny fixture's `pair` batch in `precision` on `device` against the float32 reference.
fn half_forward_within_bound(
    shared: &std::path::Path,
    device: &burn::tensor::Device,
    precision: albert_core::precision::Precision,
) {
    use albert_runner::parity::{compare, model_outputs};

    let dir = shared.join("fixtures/hf-albert/tiny");
    let outputs = model_outputs(
        albert_heads::HeadKind::Pretraining,
        &dir.join("config.json"),
        &[dir.join("model.safetensors")],
        &dir.join("inputs.json"),
        device,
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
        let bound = albert_testdata::deviation_bound(precision.name(), "tiny", output);
        eprintln!(
            "wgpu {precision} {}: {:e} (bound {bound:e})",
            d.name, d.max_abs_diff
        );
        assert!(f64::from(d.max_abs_diff) <= bound, "{precision} {}", d.name);
        if output == "prediction_logits" {
            let floor = albert_testdata::deviation_floor(precision.name(), "tiny", output);
            assert!(
                f64::from(d.max_abs_diff) > floor,
                "{precision}: logits within {floor:e} of float32's; did it round?"
            );
        }
    }
}
