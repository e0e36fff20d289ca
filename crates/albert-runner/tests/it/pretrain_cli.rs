//! `albert pretrain`: a tiny run writes its metrics, chart, checkpoints and HF-layout model;
//! bad configs and corpora fail cleanly without touching an existing run.

use std::path::Path;
use std::process::Command;

fn albert(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(args)
        .output()
        .expect("run albert")
}

fn config(corpus: &Path, tokenizer: &Path, extra: &str) -> String {
    format!(
        "[model]\nembedding_size = 16\nhidden_size = 32\nnum_hidden_layers = 2\nnum_attention_heads = 2\nintermediate_size = 64\n\
         max_position_embeddings = 64\n[data]\ncorpus = [{:?}]\ntokenizer = {:?}\nheld_out_every = 5\n\
         [instances]\nmax_seq_length = 32\n[schedule]\npeak = 0.01\nwarmup_steps = 2\ntotal_steps = 6\n\
         [run]\nsteps = 6\nbatch_size = 4\nlog_every = 2\neval_every = 2\neval_batches = 1\ncheckpoint_every = 2\n{extra}",
        corpus.display().to_string(),
        tokenizer.display().to_string()
    )
}

#[test]
fn tiny_pretraining_run_writes_everything() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = tmp.path().join("pretrain.toml");
    let corpus = shared.join("data/pretrain/sample.txt");
    let tokenizer = shared.join("fixtures/tokenizer/spiece.model");
    std::fs::write(&cfg, config(&corpus, &tokenizer, "")).expect("write");
    let out = tmp.path().join("run");
    let o = albert(&[
        "pretrain",
        "--config",
        cfg.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
    ]);
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    assert!(
        log.contains("instances/s") && log.contains("sequences/s"),
        "{log}"
    );
    for f in [
        "metrics.jsonl",
        "curves.svg",
        "final_eval.json",
        "config.toml",
        "checkpoints/latest",
        "model/config.json",
        "model/model.safetensors",
        "model/spiece.model",
    ] {
        assert!(out.join(f).is_file(), "{f} missing:\n{log}");
    }
    let lines = std::fs::read_to_string(out.join("metrics.jsonl")).expect("metrics");
    assert_eq!(lines.lines().count(), 6, "3 train + 3 eval records");
    // The exported model loads back through the forward path.
    let o = albert(&[
        "info",
        "--config",
        out.join("model/config.json").to_str().expect("utf8"),
        "--weights",
        out.join("model/model.safetensors").to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Running again into the same directory without --resume is refused; nothing changes.
    let before = std::fs::read(out.join("model/model.safetensors")).expect("weights");
    let o = albert(&[
        "pretrain",
        "--config",
        cfg.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already holds a run"));
    assert_eq!(
        std::fs::read(out.join("model/model.safetensors")).expect("weights"),
        before
    );
}

#[test]
fn bad_configs_and_corpora_fail_cleanly() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let tokenizer = shared.join("fixtures/tokenizer/spiece.model");
    let empty = tmp.path().join("empty.txt");
    std::fs::write(&empty, "\n\n").expect("write");
    let bad_utf8 = tmp.path().join("bad.txt");
    std::fs::write(&bad_utf8, b"good line\n\xfe\n").expect("write");
    let one_line = tmp.path().join("one.txt");
    std::fs::write(&one_line, "A single line in a single document.\n").expect("write");
    let two_docs = tmp.path().join("two.txt");
    std::fs::write(
        &two_docs,
        "The first document has a line.\nAnd another one.\n\nThe second document.\nIts end.\n",
    )
    .expect("write");
    let cases: Vec<(String, &str)> = vec![
        (config(&empty, &tokenizer, ""), "no text"),
        (
            config(&bad_utf8, &tokenizer, ""),
            "bad.txt:2: invalid UTF-8",
        ),
        (
            config(&one_line, &tokenizer, ""),
            "cannot hold out documents",
        ),
        (
            // One document left for training: NSP would only ever see in-order pairs.
            config(&two_docs, &tokenizer, "")
                .replace("[instances]\n", "[instances]\nsentence_task = \"nsp\"\n"),
            "needs at least two training documents",
        ),
        (
            config(
                &shared.join("data/pretrain/sample.txt"),
                &tokenizer,
                "unknown_key = 1\n",
            ),
            "unknown_key",
        ),
        (
            config(
                &shared.join("data/pretrain/sample.txt"),
                &tokenizer,
                "batch_size = 0\n",
            )
            .replace("batch_size = 4\n", ""),
            "batch_size",
        ),
        (
            config(&tmp.path().join("absent.txt"), &tokenizer, ""),
            "absent.txt",
        ),
        (
            config(
                &shared.join("data/pretrain/sample.txt"),
                &tokenizer,
                "device = \"cpu,tpu\"\n",
            ),
            "unknown --device \"tpu\"",
        ),
        (
            config(
                &shared.join("data/pretrain/sample.txt"),
                &tokenizer,
                "device = \"wgpu:first\"\n",
            ),
            "must be a number",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let cfg = tmp.path().join(format!("c{i}.toml"));
        std::fs::write(&cfg, text).expect("write");
        let out = tmp.path().join(format!("run{i}"));
        let o = albert(&[
            "pretrain",
            "--config",
            cfg.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "case {i}: {err}");
        assert!(
            err.contains(needle) && !err.contains("panicked"),
            "case {i}: expected {needle:?} in {err}"
        );
    }
    // A checkpoint from another model shape: resume refuses with the tensor named.
    let cfg = tmp.path().join("ok.toml");
    std::fs::write(
        &cfg,
        config(&shared.join("data/pretrain/sample.txt"), &tokenizer, ""),
    )
    .expect("write");
    let out = tmp.path().join("shaped");
    assert!(
        albert(&[
            "pretrain",
            "--config",
            cfg.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
            "--steps",
            "2"
        ])
        .status
        .success()
    );
    let wider = tmp.path().join("wider.toml");
    std::fs::write(
        &wider,
        config(&shared.join("data/pretrain/sample.txt"), &tokenizer, "")
            .replace("hidden_size = 32", "hidden_size = 48"),
    )
    .expect("write");
    let o = albert(&[
        "pretrain",
        "--config",
        wider.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        "--resume",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("model.bpk"), "{err}");
}
