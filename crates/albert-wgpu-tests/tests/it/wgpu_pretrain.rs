//! Pretraining on the wgpu backend: a tiny run (MLM + SOP, LAMB, clipping, checkpoints, export)
//! completes on wgpu, and its logged losses follow the CPU (flex) run of the same config — the
//! same model, data and optimiser on another backend. Skipped without an adapter unless
//! `ALBERT_REQUIRE_WGPU=1`.

use std::path::Path;

use albert_pretrain::train::{PretrainConfig, TrainOptions, pretrain};
use albert_runner::device::{device, probe};

fn tiny_config(shared: &Path) -> PretrainConfig {
    let text =
        albert_testdata::tiny_pretrain_toml(shared) + &albert_testdata::TinyRun::default().toml();
    PretrainConfig::from_toml(&text, Path::new("inline.toml")).expect("config")
}

#[test]
fn tiny_pretraining_on_wgpu_follows_cpu() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let gpu = device("wgpu").expect("built with wgpu");
    if let Err(e) = probe(&gpu, "wgpu") {
        assert!(
            std::env::var("ALBERT_REQUIRE_WGPU").map_or(true, |v| v != "1"),
            "ALBERT_REQUIRE_WGPU=1 but: {e}"
        );
        eprintln!("skipping wgpu pretraining: {e}");
        return;
    }
    let cpu = device("cpu").expect("built with flex");
    let config = tiny_config(&shared);
    let tmp = tempfile::tempdir().expect("tmp");
    let run = |dev: &burn::tensor::Device, name: &str| {
        pretrain(
            &config,
            &tmp.path().join(name),
            std::slice::from_ref(dev),
            &TrainOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let on_cpu = run(&cpu, "cpu");
    let on_gpu = run(&gpu, "wgpu");
    assert_eq!(on_gpu.steps, 6);
    assert!(tmp.path().join("wgpu/model/model.safetensors").is_file());
    let losses = |s: &albert_pretrain::train::TrainSummary| -> Vec<f64> {
        s.records
            .iter()
            .filter(|r| r.kind == "train")
            .map(|r| r.loss)
            .collect()
    };
    let (a, b) = (losses(&on_cpu), losses(&on_gpu));
    assert_eq!(a.len(), 6);
    eprintln!("cpu losses  {a:?}\nwgpu losses {b:?}");
    for (step, (x, y)) in a.iter().zip(&b).enumerate() {
        // Step 1 is the same forward pass; later steps add float differences of the updates.
        let tol = if step == 0 { 1e-4 } else { 1e-2 };
        assert!(
            (x - y).abs() <= tol * x.abs(),
            "step {}: cpu {x} wgpu {y}",
            step + 1
        );
    }
}
