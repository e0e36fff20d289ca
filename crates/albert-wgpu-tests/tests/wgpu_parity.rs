//! The HF parity checks on the wgpu backend: the same model code, a GPU backend (on a GPU-less
//! CI machine, Mesa's lavapipe software Vulkan). One test binary, tiny shapes, so the shaders
//! compile once. Skipped when no adapter exists, unless `ALBERT_REQUIRE_WGPU=1` (set by
//! `.ci/run`, which installs lavapipe).

use albert_core::HfConfig;
use albert_core::checkpoint::MissingPolicy;
use albert_runner::device::{device, probe};
use albert_runner::forward::{ForwardOptions, run};
use albert_runner::inputs::ReferenceInputs;
use albert_runner::models::AnyModel;
use albert_runner::parity::{belongs_to, compare, fixture_cases, shared_dir};

#[test]
fn hf_fixtures_match_on_wgpu() {
    let Some(shared) = shared_dir() else { return };
    let device = device("wgpu").expect("built with wgpu");
    if let Err(e) = probe(&device, "wgpu") {
        assert!(
            std::env::var("ALBERT_REQUIRE_WGPU").map_or(true, |v| v != "1"),
            "ALBERT_REQUIRE_WGPU=1 but: {e}"
        );
        eprintln!("skipping wgpu parity: {e}");
        return;
    }
    let mut worst = 0.0f32;
    for fixture in ["tiny", "tiny-groups"] {
        let dir = shared.join("fixtures/hf-albert").join(fixture);
        let inputs = ReferenceInputs::from_file(&dir.join("inputs.json")).expect("inputs");
        for case in fixture_cases(&dir).expect("manifest") {
            let hf = HfConfig::from_file(&case.config).expect("config");
            let (model, _) =
                AnyModel::load(case.head, &hf, &case.weights, MissingPolicy::Error, &device)
                    .expect("load");
            let outputs = run(
                &model,
                &hf.config,
                &inputs,
                &ForwardOptions::default(),
                &device,
            )
            .expect("forward");
            let report = compare(&dir.join("expected.safetensors"), &outputs, |n| {
                belongs_to(n, case.head)
            })
            .expect("compare");
            if let Err(problems) = report.check(1e-4) {
                panic!("wgpu {fixture} {}:\n{problems}", case.head.cli_name());
            }
            worst = worst.max(report.worst().map_or(0.0, |w| w.max_abs_diff));
        }
    }
    eprintln!("wgpu: every fixture tensor within 1e-4; largest diff {worst:e}");
}
