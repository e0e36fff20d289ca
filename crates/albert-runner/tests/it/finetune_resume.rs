//! `albert finetune --resume`: a run killed (SIGKILL) after its checkpoints began, resumed, ends
//! with the same weights and the same metrics log as an uninterrupted run — also when its
//! newest checkpoint is corrupt (flipped bytes: skipped with a warning, the older one used).
//! A corrupt-only directory, other settings and an existing run without `--resume` are refused
//! with errors naming the problem. Gradient accumulation, evaluation every N steps and early
//! stopping run through the same command.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::finetune_cli::{albert, head, ok, pretrained, s};

struct Setup {
    model: PathBuf,
    train: PathBuf,
    dev: PathBuf,
}

/// `albert finetune` with the resume test's settings (6 epochs of 64 examples, effective batch
/// 16 = 8 × 2 accumulated, evaluation every 3 steps: 24 steps, 8 evaluations) and `extra`
/// (which sets the learning rate).
fn args<'a>(setup: &'a Setup, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "finetune",
        "--task",
        "classification",
        "--model",
        s(&setup.model),
        "--train",
        s(&setup.train),
        "--dev",
        s(&setup.dev),
        "--out",
        s(out),
        "--epochs",
        "6",
        "--batch-size",
        "8",
        "--gradient-accumulation-steps",
        "2",
        "--eval-steps",
        "3",
        "--max-seq-length",
        "32",
        "--seed",
        "7",
    ];
    a.extend_from_slice(extra);
    a
}

/// A tiny pretrained model and 64 / 32 SST-style rows under `tmp`.
fn setup(shared: &Path, tmp: &Path) -> Setup {
    let sst = shared.join("data/glue-style/sst2_vader_movie/dev.tsv");
    let setup = Setup {
        model: pretrained(shared, tmp),
        train: tmp.join("train.tsv"),
        dev: tmp.join("dev.tsv"),
    };
    head(&sst, &setup.train, 0, 64);
    head(&sst, &setup.dev, 64, 32);
    setup
}

const LR: &[&str] = &["--learning-rate", "1e-3"];

fn step_dirs(out: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out.join("checkpoints"))
        .map(|r| {
            r.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("step-"))
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn flip_bytes(p: &Path) {
    let mut bytes = read(p);
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 16] {
        *b ^= 0xff;
    }
    std::fs::write(p, bytes).expect("write");
}

#[test]
fn killed_run_resumes_to_the_same_weights() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let setup = setup(&shared, tmp.path());

    // The reference: uninterrupted.
    let reference = tmp.path().join("reference");
    ok(&albert(&args(&setup, &reference, LR)));
    let log = String::from_utf8_lossy(&read(&reference.join("metrics.jsonl"))).to_string();
    let steps: Vec<u64> = log
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["step"].as_u64().expect("step")
        })
        .collect();
    assert_eq!(steps, [3, 6, 9, 12, 15, 18, 21, 24], "{log}");

    // The same run, killed once two checkpoints exist (or finished by then: the resumed tail
    // below still retrains from an older checkpoint).
    let out = tmp.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(args(&setup, &out, LR))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    while step_dirs(&out).len() < 2 && start.elapsed() < Duration::from_secs(300) {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let status = child.wait().expect("wait");
    let dirs = step_dirs(&out);
    eprintln!("killed run: {status}, checkpoints {dirs:?}");
    assert!(dirs.len() >= 2, "{dirs:?}");

    // Corrupt the newest checkpoint: resume must skip it (saying so) and use the older one.
    let newest = dirs.last().expect("a checkpoint").clone();
    flip_bytes(&newest.join("model.bpk"));
    let o = albert(&args(
        &setup,
        &out,
        &["--learning-rate", "1e-3", "--resume"],
    ));
    let stderr = ok(&o);
    assert!(
        stderr.contains("skipping checkpoint") && stderr.contains("corrupt: SHA-256"),
        "{stderr}"
    );
    assert!(stderr.contains("resumed from"), "{stderr}");
    assert_eq!(
        read(&out.join("model/model.safetensors")),
        read(&reference.join("model/model.safetensors")),
        "the resumed run's best model differs from the uninterrupted run's"
    );
    assert_eq!(
        String::from_utf8_lossy(&read(&out.join("metrics.jsonl"))),
        log,
        "the resumed run's metrics log differs"
    );
    assert_eq!(
        read(&out.join("eval.json")),
        read(&reference.join("eval.json"))
    );

    // Without --resume an existing run is not overwritten.
    let o = albert(&args(&setup, &out, LR));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("already holds a fine-tuning run"),
        "{err}"
    );
    // Other settings are refused.
    let o = albert(&args(
        &setup,
        &out,
        &[
            "--learning-rate",
            "1e-3",
            "--resume",
            "--weight-decay",
            "0.5",
        ],
    ));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("other settings"),
        "{err}"
    );
    // Every checkpoint corrupt or incomplete: a clear error, nothing trained.
    let dirs = step_dirs(&out);
    flip_bytes(&dirs[0].join("optim.bpk"));
    for d in &dirs[1..] {
        std::fs::remove_file(d.join("model.bpk")).expect("rm");
    }
    let o = albert(&args(
        &setup,
        &out,
        &["--learning-rate", "1e-3", "--resume"],
    ));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("no checkpoint verifies") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn early_stopping_ends_the_run() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let setup = setup(&shared, tmp.path());
    // A learning rate of ~0 never improves on the first evaluation: patience 2 stops after the
    // third of eight evaluations.
    let out = tmp.path().join("early");
    let stderr = ok(&albert(&args(
        &setup,
        &out,
        &["--learning-rate", "1e-12", "--early-stopping-patience", "2"],
    )));
    assert!(stderr.contains("early stopping"), "{stderr}");
    let eval: serde_json::Value =
        serde_json::from_slice(&read(&out.join("eval.json"))).expect("json");
    assert_eq!(eval["stopped_early"], true, "{eval}");
    assert_eq!(eval["best_step"], 3, "{eval}");
    let lines = String::from_utf8_lossy(&read(&out.join("metrics.jsonl")))
        .lines()
        .count();
    assert_eq!(lines, 3);
}
