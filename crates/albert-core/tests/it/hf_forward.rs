//! The core forward pass against HF's reference outputs for the `tiny-groups` fixture (4 layers
//! over 2 groups of 2 inner layers), batch `pair` (padded). Every head and batch of both
//! fixtures is checked end to end by `albert-runner`'s `hf_parity` tests.

use crate::common;

use std::collections::BTreeMap;

use albert_core::checkpoint::{MissingPolicy, TensorValues, load_hf, read_safetensors};
use albert_core::{AlbertForPreTraining, EncoderOutputs, HfConfig, TokenBatch};
use burn::tensor::{Device, Tensor};

fn values<const D: usize>(t: Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    (t.dims().to_vec(), t.try_into_vec_as::<f32>().expect("f32"))
}

/// The largest absolute difference of every float tensor of the fixture's
/// `expected.safetensors` that `ours` (by expected name) has, with its name; shapes must agree.
fn diffs_from_expected<'a>(
    dir: &std::path::Path,
    ours: impl Fn(&str) -> Option<&'a (Vec<usize>, Vec<f32>)>,
) -> Vec<(String, f32)> {
    let mut diffs = Vec::new();
    for t in read_safetensors(dir.join("expected.safetensors")).expect("expected") {
        let Some((shape, v)) = ours(&t.name) else {
            continue;
        };
        let TensorValues::F32(reference) = &t.values else {
            continue;
        };
        assert_eq!(shape, &t.shape, "{}", t.name);
        let diff = v
            .iter()
            .zip(reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        diffs.push((t.name, diff));
    }
    diffs
}

/// The fixture's pretraining model (every tensor loaded) and its `pair` batch.
fn model_and_pair_batch(
    dir: &std::path::Path,
    device: &Device,
) -> (HfConfig, AlbertForPreTraining, TokenBatch) {
    let hf = HfConfig::from_file(dir.join("config.json")).expect("config");
    let (model, _) = load_hf(
        AlbertForPreTraining::init(&hf.config, 0, device),
        &[dir.join("model.safetensors")],
        MissingPolicy::Error,
    )
    .expect("load");
    let inputs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("inputs.json")).expect("inputs"))
            .expect("json");
    let rows = |key: &str| -> Vec<Vec<i64>> {
        serde_json::from_value(inputs["batches"]["pair"][key].clone()).expect(key)
    };
    let batch = TokenBatch {
        input_ids: rows("input_ids"),
        token_type_ids: Some(rows("token_type_ids")),
        attention_mask: Some(rows("attention_mask")),
    };
    (hf, model, batch)
}

#[test]
fn tiny_groups_pair_batch_matches_hf() {
    let Some(dir) = common::hf_dir("tiny-groups") else {
        return;
    };
    let device = Device::flex();
    let (hf, model, batch) = model_and_pair_batch(&dir, &device);
    assert_eq!(
        (hf.config.num_hidden_groups, hf.config.inner_group_num),
        (2, 2)
    );
    let record = EncoderOutputs {
        hidden_states: true,
        attentions: true,
        inner_layer_outputs: true,
    };
    let out = model.forward(batch.to_input(&hf.config, &device).expect("input"), record);

    let mut ours: BTreeMap<String, (Vec<usize>, Vec<f32>)> = BTreeMap::new();
    ours.insert(
        "pair/embedding_output".into(),
        values(out.body.embedding_output),
    );
    ours.insert(
        "pair/last_hidden_state".into(),
        values(out.body.last_hidden_state),
    );
    ours.insert(
        "pair/pooler_output".into(),
        values(out.body.pooler_output.expect("pooler")),
    );
    ours.insert(
        "pair/prediction_logits".into(),
        values(out.prediction_logits),
    );
    ours.insert("pair/sop_logits".into(), values(out.sop_logits));
    for (k, h) in out
        .body
        .hidden_states
        .expect("states")
        .into_iter()
        .enumerate()
    {
        ours.insert(format!("pair/hidden_states/{k}"), values(h));
    }
    let attentions = out.body.attentions.expect("attentions");
    assert_eq!(attentions.len(), 8, "4 applications x 2 inner layers");
    ours.insert("pair/attentions/0".into(), values(attentions[0].clone()));
    for ((i, j), h) in out.body.inner_layer_outputs.expect("inner") {
        ours.insert(format!("pair/inner_layer_outputs/{i}.{j}"), values(h));
    }

    let diffs = diffs_from_expected(&dir, |name| ours.get(name));
    for (name, diff) in &diffs {
        assert!(*diff <= 1e-4, "{name}: {diff}");
    }
    let compared = diffs.len();
    // 5 named + 5 hidden states + 1 attention + 4 inner-layer outputs.
    assert_eq!(compared, ours.len());
    assert_eq!(compared, 15);
}

/// bf16 and fp16 autocast through burn's composed ops (no kernels are installed in this binary:
/// the operands are rounded by burn's cast to the half dtype and back, and the products run in
/// that dtype where the device computes in it: `ops::matmul_operands`), batch `pair` of both
/// fixtures: each output within `albert_testdata::deviation_bound` (twice PyTorch's own
/// bf16- or fp16-autocast deviation from the float32 reference on the fixture's inputs), and
/// the logits clearly off float32 (it ran in the reduced precision). The CPU
/// kernels' path is checked on every batch by `albert-runner`'s `bf16_parity`.
#[test]
fn pair_batch_in_half_precision_within_the_bound() {
    use albert_core::precision::{Precision, autocast};

    for precision in [Precision::Bf16, Precision::Fp16] {
        for fixture in ["tiny", "tiny-groups"] {
            let Some(dir) = common::hf_dir(fixture) else {
                return;
            };
            let device = Device::flex();
            let (hf, model, batch) = model_and_pair_batch(&dir, &device);
            let out = {
                let _half = autocast(precision);
                model.forward(
                    batch.to_input(&hf.config, &device).expect("input"),
                    EncoderOutputs::default(),
                )
            };
            let ours: BTreeMap<&str, (Vec<usize>, Vec<f32>)> = [
                ("last_hidden_state", values(out.body.last_hidden_state)),
                (
                    "pooler_output",
                    values(out.body.pooler_output.expect("pooler")),
                ),
                ("prediction_logits", values(out.prediction_logits)),
                ("sop_logits", values(out.sop_logits)),
            ]
            .into_iter()
            .collect();
            let diffs = diffs_from_expected(&dir, |name| {
                name.strip_prefix("pair/")
                    .and_then(|output| ours.get(output))
            });
            for (name, diff) in &diffs {
                let output = &name["pair/".len()..];
                let bound = albert_testdata::deviation_bound(precision.name(), fixture, output);
                eprintln!("{fixture} {name} {precision}: {diff:e} (bound {bound:e})");
                assert!(
                    f64::from(*diff) <= bound,
                    "{fixture} {name}: {precision} deviates {diff:e}, more than {bound:e}"
                );
                if output == "prediction_logits" {
                    let floor = albert_testdata::deviation_floor(precision.name(), fixture, output);
                    assert!(
                        f64::from(*diff) > floor,
                        "{fixture}: {precision} logits within {floor:e} of float32 ({diff:e})"
                    );
                }
            }
            let compared = diffs.len();
            assert_eq!(compared, 4, "{fixture}");
        }
    }
}
