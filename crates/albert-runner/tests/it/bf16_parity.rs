//! bf16 and fp16 autocast and dynamic int8 (`--precision bf16|fp16|int8`) on the HF fixtures,
//! through the CPU kernels and the `albert forward` code path: each output's largest deviation
//! from the float32 reference over the fixture's batches is within
//! `albert_testdata::deviation_bound` (twice what PyTorch's own
//! `torch.autocast(dtype=torch.bfloat16)`, or `float16`, or its `quantize_dynamic` to qint8
//! deviates on the same weights and inputs), and large enough to show that the products did
//! run in the reduced precision — in bf16 with the products as the f32 `gemm` on rounded
//! operands (the default), and on every bf16 product path of `albert_kernels::gemm_bf16` this
//! CPU has (the AVX512-BF16 instruction, its AVX-512F emulation); in int8 on every int8 path
//! this CPU has (AVX512-VNNI, its AVX-512BW emulation, the portable loops), which give the
//! same bits.

use albert_core::precision::{Precision, autocast};
use albert_runner::parity::{compare, model_outputs};

const BATCHES: [&str; 3] = ["pair", "single", "varied"];
const OUTPUTS: [&str; 4] = [
    "last_hidden_state",
    "pooler_output",
    "prediction_logits",
    "sop_logits",
];

fn check(fixture: &str) {
    use albert_kernels::{Bf16Path, with_bf16_path};
    check_on(fixture, Precision::Bf16, "f32 gemm");
    for path in [Bf16Path::Native, Bf16Path::Emulated] {
        if path.available() {
            with_bf16_path(Some(path), || {
                check_on(fixture, Precision::Bf16, &format!("{path:?}"))
            });
        }
    }
}

/// Every int8 path this CPU has: within the bound, and the same outputs bit for bit.
fn check_int8(fixture: &str) -> usize {
    use albert_kernels::{Int8Path, with_int8_path};
    let runs: Vec<Vec<f32>> = Int8Path::ALL
        .into_iter()
        .filter(|p| p.available())
        .map(|path| with_int8_path(path, || check_on(fixture, Precision::Int8, path.name())))
        .collect();
    assert!(
        runs.windows(2).all(|w| w[0] == w[1]),
        "{fixture}: int8 paths differ"
    );
    runs.len()
}

/// Checks `fixture`'s outputs in `precision` (`path` names the product path in the log) and
/// returns them (empty without the shared fixtures).
fn check_on(fixture: &str, precision: Precision, path: &str) -> Vec<f32> {
    let Some(shared) = albert_testdata::shared() else {
        return Vec::new();
    };
    let dir = shared.join("fixtures/hf-albert").join(fixture);
    let outputs = {
        let _half = autocast(precision);
        model_outputs(
            albert_heads::HeadKind::Pretraining,
            &dir.join("config.json"),
            &[dir.join("model.safetensors")],
            &dir.join("inputs.json"),
            &albert_runner::device::cpu(),
        )
        .expect("forward")
    };
    let report = compare(&dir.join("expected.safetensors"), &outputs, |name| {
        name.split_once('/')
            .is_some_and(|(b, o)| BATCHES.contains(&b) && OUTPUTS.contains(&o))
    })
    .expect("compare");
    assert_eq!(report.compared.len(), BATCHES.len() * OUTPUTS.len());
    for output in OUTPUTS {
        let ours = report
            .compared
            .iter()
            .filter(|d| d.name.ends_with(&format!("/{output}")))
            .map(|d| f64::from(d.max_abs_diff))
            .fold(0.0, f64::max);
        let bound = albert_testdata::deviation_bound(precision.name(), fixture, output);
        eprintln!(
            "{fixture} {output} ({precision}, product path {path}): deviates {ours:.3e} \
             (bound {bound:.3e})"
        );
        assert!(
            ours <= bound,
            "{fixture} {output}: {precision} deviates {ours:e}, more than {bound:e}"
        );
        if output == "prediction_logits" {
            // float32 lands within 1e-5 of the reference (hf_parity).
            let floor = albert_testdata::deviation_floor(precision.name(), fixture, output);
            assert!(
                ours > floor,
                "{fixture}: {precision} logits within {floor:e} of float32; did it round?"
            );
        }
    }
    outputs.into_iter().flat_map(|t| t.values).collect()
}

#[test]
fn tiny_bf16_within_twice_pytorch_autocast() {
    check("tiny");
}

#[test]
fn tiny_groups_bf16_within_twice_pytorch_autocast() {
    check("tiny-groups");
}

#[test]
fn tiny_fp16_within_twice_pytorch_autocast() {
    check_on("tiny", Precision::Fp16, "f32 gemm");
}

#[test]
fn tiny_groups_fp16_within_twice_pytorch_autocast() {
    check_on("tiny-groups", Precision::Fp16, "f32 gemm");
}

#[test]
fn int8_within_twice_pytorch_dynamic_quantisation() {
    for fixture in ["tiny", "tiny-groups"] {
        let paths = check_int8(fixture);
        assert!(albert_testdata::shared().is_none() || paths >= 1);
    }
}
