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

/// Copies a run directory (checkpoints, metrics, config) recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// A checkpoint that does not verify is never trained on: with the newest checkpoint's bytes
/// flipped, a file truncated or missing, or a write killed half-way (a leftover temporary
/// directory), `--resume` falls back to the newest checkpoint that verifies and, since resume
/// is exact, ends with the uninterrupted run's weights; when no checkpoint verifies it stops
/// with an error naming the file.
#[test]
fn corrupt_checkpoints_are_detected_and_skipped() {
    let Some(shared) = shared() else { return };
    let config = tiny_config(&shared);
    let device = crate::common::cpu();
    let devices = std::slice::from_ref(&device);
    let tmp = tempfile::tempdir().expect("tmp");
    let straight = tmp.path().join("straight");
    pretrain(&config, &straight, devices, &TrainOptions::default()).expect("uninterrupted");
    let weights = |dir: &Path| std::fs::read(dir.join("model/model.safetensors")).expect("weights");
    let reference = weights(&straight);

    let base = tmp.path().join("base");
    let options = TrainOptions {
        stop_after: Some(10),
        ..TrainOptions::default()
    };
    pretrain(&config, &base, devices, &options).expect("first part");
    let step8 = base.join("checkpoints/step-000008");
    assert!(base.join("checkpoints/step-000004/state.json").is_file());
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(step8.join("state.json")).expect("state"))
            .expect("json");
    for file in ["model.bpk", "optim.bpk"] {
        let digest = state["sha256"][file].as_str().expect("digest recorded");
        assert_eq!(digest.len(), 64, "{file}: {digest}");
    }

    let flip = |path: &Path| {
        let mut bytes = std::fs::read(path).expect("read");
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid..mid + 64] {
            *b ^= 0x5a;
        }
        std::fs::write(path, bytes).expect("write");
    };
    type Damage = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Damage)> = vec![
        (
            "flipped",
            Box::new(move |run: &Path| flip(&run.join("checkpoints/step-000008/model.bpk"))),
        ),
        (
            "truncated",
            Box::new(|run: &Path| {
                let p = run.join("checkpoints/step-000008/optim.bpk");
                let len = std::fs::metadata(&p).expect("meta").len();
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .expect("open")
                    .set_len(len / 2)
                    .expect("truncate");
            }),
        ),
        (
            "missing",
            Box::new(|run: &Path| {
                std::fs::remove_file(run.join("checkpoints/step-000008/optim.bpk")).expect("rm")
            }),
        ),
        (
            "killed",
            Box::new(|run: &Path| {
                // Killed while writing step 12's files: a temporary directory with half a model;
                // its state.json (written last) never came. `latest` still names step 8.
                let t = run.join("checkpoints/.tmp-step-000012-4242");
                std::fs::create_dir_all(&t).expect("mkdir");
                std::fs::write(t.join("model.bpk"), [7u8; 100]).expect("write");
            }),
        ),
    ];
    let resume = |run: &Path| {
        let options = TrainOptions {
            resume: true,
            ..TrainOptions::default()
        };
        pretrain(&config, run, devices, &options)
    };
    for (name, damage) in &cases {
        let run = tmp.path().join(name);
        copy_dir(&base, &run);
        damage(&run);
        let resumed = resume(&run).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(resumed.steps, 12, "{name}");
        assert!(weights(&run) == reference, "{name}: final weights differ");
    }

    // Nothing verifies: a clear error naming the damaged file, no training.
    let run = tmp.path().join("all-corrupt");
    copy_dir(&base, &run);
    flip(&run.join("checkpoints/step-000004/model.bpk"));
    flip(&run.join("checkpoints/step-000008/model.bpk"));
    let e = resume(&run).expect_err("no valid checkpoint").to_string();
    assert!(e.contains("no checkpoint verifies"), "{e}");
    assert!(
        e.contains("step-000008/model.bpk") && e.contains("corrupt"),
        "{e}"
    );
    assert!(!run.join("model").exists(), "it trained anyway");
}
