//! Data-parallel training: two replicas with one micro-batch each make the same steps as one
//! device with two accumulated micro-batches (same instances, same order, gradients summed in
//! the same order), so the loss trace and the final weights are identical. Also checks the
//! end-of-run evaluation (`final_eval.json`).

use crate::common;

use albert_pretrain::train::{FinalEval, TrainOptions, pretrain};
use common::{shared, tiny_config, without_timing};

#[test]
fn two_replicas_equal_two_accumulated_micro_batches() {
    let Some(shared) = shared() else { return };
    let accumulated = tiny_config(&shared);
    assert_eq!(accumulated.run.gradient_accumulation, 2);
    let mut parallel = accumulated.clone();
    parallel.run.gradient_accumulation = 1;
    let device = crate::common::cpu();
    let tmp = tempfile::tempdir().expect("tmp");
    let (a_dir, b_dir) = (tmp.path().join("accumulated"), tmp.path().join("parallel"));
    let a = pretrain(
        &accumulated,
        &a_dir,
        std::slice::from_ref(&device),
        &TrainOptions::default(),
    )
    .expect("one device");
    let b = pretrain(
        &parallel,
        &b_dir,
        &[device.clone(), device],
        &TrainOptions::default(),
    )
    .expect("two replicas");
    assert_eq!(a.steps, 12);
    assert_eq!(b.steps, 12);
    assert_eq!(without_timing(&a.records), without_timing(&b.records));
    let weights = |dir: &std::path::Path| {
        std::fs::read(dir.join("model/model.safetensors")).expect("weights")
    };
    assert_eq!(weights(&a_dir), weights(&b_dir), "final weights differ");

    // final_eval.json: written, equal to the summary's, accuracies are shares.
    let text = std::fs::read_to_string(b_dir.join("final_eval.json")).expect("final_eval.json");
    let eval: FinalEval = serde_json::from_str(&text).expect("json");
    assert_eq!(Some(&eval), b.final_eval.as_ref());
    assert_eq!(eval.step, 12);
    assert!(eval.instances > 0);
    for v in [
        eval.masked_lm_accuracy,
        eval.masked_lm_unigram_baseline,
        eval.sop_accuracy,
        eval.nsp_accuracy,
    ] {
        assert!((0.0..=1.0).contains(&v), "{eval:?}");
    }
}
