//! The HF parity checks on the wgpu backend: the same model code, a GPU backend (on a GPU-less
//! CI machine, Mesa's lavapipe software Vulkan). One test binary, tiny shapes, so the shaders
//! compile once. Skipped when no adapter exists, unless `ALBERT_REQUIRE_WGPU=1` (set by
//! `.ci/run`, which installs lavapipe).

use albert_runner::device::{device, probe};
use albert_runner::parity::check_fixture;

#[test]
fn hf_fixtures_match_on_wgpu() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let device = device("wgpu").expect("built with wgpu");
    if let Err(e) = probe(&device, "wgpu") {
        assert!(
            std::env::var("ALBERT_REQUIRE_WGPU").map_or(true, |v| v != "1"),
            "ALBERT_REQUIRE_WGPU=1 but: {e}"
        );
        eprintln!("skipping wgpu parity: {e}");
        return;
    }
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
