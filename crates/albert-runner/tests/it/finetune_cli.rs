//! `albert finetune` + `albert evaluate` end to end: a tiny pretraining run's `model/` is
//! fine-tuned for classification (SST-2-style) and, from random weights, for regression
//! (STS-B-style); `evaluate` reproduces the best epoch's dev metrics from the saved model and
//! writes them as flat JSON; the same command twice saves the same weights; bad inputs fail with
//! the file and line named.

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn albert(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(args)
        .output()
        .expect("run albert")
}

pub(crate) fn ok(o: &std::process::Output) -> String {
    let log = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{log}");
    log
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

/// The first `n` data lines of `src` (with its header) written to `dst`.
pub(crate) fn head(src: &Path, dst: &Path, skip: usize, n: usize) {
    let text = std::fs::read_to_string(src).expect("read");
    let mut lines = text.lines();
    let mut out = vec![lines.next().expect("header")];
    out.extend(lines.skip(skip).take(n));
    std::fs::write(dst, out.join("\n") + "\n").expect("write");
}

pub(crate) fn pretrained(shared: &Path, tmp: &Path) -> PathBuf {
    let cfg = tmp.join("pretrain.toml");
    std::fs::write(
        &cfg,
        format!(
            "[model]\nembedding_size = 16\nhidden_size = 32\nnum_hidden_layers = 2\nnum_attention_heads = 2\n\
             intermediate_size = 64\nmax_position_embeddings = 64\n[data]\ncorpus = [{:?}]\ntokenizer = {:?}\n\
             held_out_every = 5\n[instances]\nmax_seq_length = 32\n[schedule]\npeak = 0.01\nwarmup_steps = 1\n\
             total_steps = 4\n[run]\nsteps = 4\nbatch_size = 4\nlog_every = 2\neval_every = 0\neval_batches = 1\n\
             checkpoint_every = 0\n",
            shared.join("data/pretrain/sample.txt").display().to_string(),
            shared.join("fixtures/tokenizer/spiece.model").display().to_string(),
        ),
    )
    .expect("write");
    let run = tmp.join("pre");
    ok(&albert(&[
        "pretrain",
        "--config",
        s(&cfg),
        "--out",
        s(&run),
    ]));
    run.join("model")
}

#[test]
fn finetune_then_evaluate() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let model = pretrained(&shared, tmp.path());
    let sst = shared.join("data/glue-style/sst2_vader_movie/dev.tsv");
    let (train, dev) = (tmp.path().join("train.tsv"), tmp.path().join("dev.tsv"));
    head(&sst, &train, 0, 64);
    head(&sst, &dev, 64, 32);
    let finetune = |out: &Path| {
        ok(&albert(&[
            "finetune",
            "--task",
            "classification",
            "--model",
            s(&model),
            "--train",
            s(&train),
            "--dev",
            s(&dev),
            "--out",
            s(out),
            "--epochs",
            "2",
            "--batch-size",
            "16",
            "--max-seq-length",
            "32",
            "--seed",
            "42",
        ]))
    };
    let out = tmp.path().join("cls");
    let log = finetune(&out);
    // The same command again (classifier dropout 0.1 draws masks): the same weights, bit for
    // bit.
    let again = tmp.path().join("cls-again");
    finetune(&again);
    let weights = |dir: &Path| std::fs::read(dir.join("model/model.safetensors")).expect("weights");
    assert!(
        weights(&out) == weights(&again),
        "two runs of the same finetune command with --seed 42 saved different weights"
    );
    assert!(log.contains("best at step"), "{log}");
    for f in [
        "model/config.json",
        "model/model.safetensors",
        "model/spiece.model",
        "metrics.jsonl",
        "dev_predictions.jsonl",
        "eval.json",
    ] {
        assert!(out.join(f).is_file(), "{f}\n{log}");
    }
    let config = std::fs::read_to_string(out.join("model/config.json")).expect("config");
    assert!(
        config.contains("AlbertForSequenceClassification") && config.contains("id2label"),
        "{config}"
    );
    let metrics_path = tmp.path().join("m.json");
    let printed = ok(&albert(&[
        "evaluate",
        "--task",
        "classification",
        "--model",
        s(&out.join("model")),
        "--data",
        s(&dev),
        "--out",
        s(&metrics_path),
        "--max-seq-length",
        "32",
    ]));
    let got: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&metrics_path).expect("metrics"))
            .expect("json");
    let best: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("eval.json")).expect("eval"))
            .expect("json");
    for key in ["accuracy", "f1", "mcc", "macro_f1"] {
        let a = got[key].as_f64().expect(key);
        let b = best["metrics"][key].as_f64().expect(key);
        assert!(
            (a - b).abs() < 1e-9,
            "{key}: evaluate {a} vs best epoch {b} ({printed})"
        );
    }

    // classify: the same labels as the best epoch's dev predictions, with their probability as
    // the score; with --top-k every label, best first, the probabilities summing to 1; JSON
    // inputs give the same answers as plain lines.
    let dev_text: Vec<String> = std::fs::read_to_string(&dev)
        .expect("dev")
        .lines()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .collect();
    let inputs = tmp.path().join("inputs.txt");
    std::fs::write(&inputs, dev_text.join("\n")).expect("write");
    let o = albert(&[
        "classify",
        "--model",
        s(&out.join("model")),
        "--input",
        s(&inputs),
        "--max-seq-length",
        "32",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let classified: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let expected: Vec<serde_json::Value> =
        std::fs::read_to_string(out.join("dev_predictions.jsonl"))
            .expect("preds")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
    assert_eq!(classified.len(), expected.len());
    let json_inputs = tmp.path().join("inputs.jsonl");
    let json_lines: Vec<String> = dev_text
        .iter()
        .map(|t| serde_json::json!({ "text": t }).to_string())
        .collect();
    std::fs::write(&json_inputs, json_lines.join("\n")).expect("write");
    let o = albert(&[
        "classify",
        "--model",
        s(&out.join("model")),
        "--input",
        s(&json_inputs),
        "--max-seq-length",
        "32",
        "--top-k",
        "5",
        "--batch-size",
        "3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ranked: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(ranked.len(), expected.len());
    for ((c, e), r) in classified.iter().zip(&expected).zip(&ranked) {
        assert_eq!(c["label"], e["prediction"]);
        let r = r.as_array().expect("top-k list");
        assert_eq!(r[0]["label"], c["label"], "{r:?}");
        let scores: Vec<f64> = r
            .iter()
            .map(|x| x["score"].as_f64().expect("score"))
            .collect();
        assert!((scores[0] - c["score"].as_f64().expect("score")).abs() < 1e-6);
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        assert!((scores.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{r:?}");
    }

    // Regression from random weights.
    let sts = shared.join("data/glue-style/stsb_lee/train.tsv");
    let (rtrain, rdev) = (tmp.path().join("rtrain.tsv"), tmp.path().join("rdev.tsv"));
    head(&sts, &rtrain, 0, 24);
    head(&sts, &rdev, 24, 12);
    let rout = tmp.path().join("reg");
    ok(&albert(&[
        "finetune",
        "--task",
        "regression",
        "--model",
        s(&model),
        "--train",
        s(&rtrain),
        "--dev",
        s(&rdev),
        "--out",
        s(&rout),
        "--epochs",
        "1",
        "--init",
        "random",
        "--max-seq-length",
        "64",
    ]));
    let o = albert(&[
        "evaluate",
        "--task",
        "regression",
        "--model",
        s(&rout.join("model")),
        "--data",
        s(&rdev),
    ]);
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && printed.contains("pearson") && printed.contains("spearman"),
        "{printed}"
    );

    // Tagging (CoNLL): the first 40 Brown sentences to train, the next 10 to evaluate.
    let brown = std::fs::read_to_string(shared.join("data/token-tagging/brown_pos/train.conll"))
        .expect("brown");
    let sentences: Vec<&str> = brown.split("\n\n").collect();
    let (ttrain, tdev) = (tmp.path().join("t.conll"), tmp.path().join("d.conll"));
    std::fs::write(&ttrain, sentences[..40].join("\n\n") + "\n").expect("write");
    std::fs::write(&tdev, sentences[40..50].join("\n\n") + "\n").expect("write");
    let tout = tmp.path().join("tag");
    ok(&albert(&[
        "finetune",
        "--task",
        "tagging",
        "--model",
        s(&model),
        "--train",
        s(&ttrain),
        "--dev",
        s(&tdev),
        "--out",
        s(&tout),
        "--epochs",
        "1",
        "--max-seq-length",
        "64",
    ]));
    let o = albert(&[
        "evaluate",
        "--task",
        "tagging",
        "--model",
        s(&tout.join("model")),
        "--data",
        s(&tdev),
        "--max-seq-length",
        "64",
    ]);
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && printed.contains("accuracy"),
        "{printed}"
    );
    let config = std::fs::read_to_string(tout.join("model/config.json")).expect("config");
    assert!(
        config.contains("AlbertForTokenClassification") && config.contains("NOUN"),
        "{config}"
    );

    // Multiple choice (RACE-style): 12 next-paragraph questions to train, 4 to evaluate.
    let items: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(shared.join("data/race-style/nextpara/dev.json")).expect("race"),
    )
    .expect("json");
    let (mtrain, mdev) = (
        tmp.path().join("mc-train.json"),
        tmp.path().join("mc-dev.json"),
    );
    std::fs::write(&mtrain, serde_json::to_string(&items[..12]).expect("json")).expect("write");
    std::fs::write(&mdev, serde_json::to_string(&items[12..16]).expect("json")).expect("write");
    let mout = tmp.path().join("mc");
    ok(&albert(&[
        "finetune",
        "--task",
        "multiple-choice",
        "--model",
        s(&model),
        "--train",
        s(&mtrain),
        "--dev",
        s(&mdev),
        "--out",
        s(&mout),
        "--epochs",
        "1",
        "--max-seq-length",
        "64",
        "--batch-size",
        "4",
    ]));
    let o = albert(&[
        "evaluate",
        "--task",
        "multiple-choice",
        "--model",
        s(&mout.join("model")),
        "--data",
        s(&mdev),
        "--max-seq-length",
        "64",
    ]);
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && printed.contains("accuracy"),
        "{printed}"
    );
    let preds = std::fs::read_to_string(mout.join("dev_predictions.jsonl")).expect("preds");
    assert_eq!(preds.lines().count(), 4);

    // SQuAD v2.0 (the fixture file: 80 questions, 40 unanswerable): train and evaluate on it.
    let squad = shared.join("data/squad-style/fixtures/fixtures-v2.0.json");
    let qout = tmp.path().join("qa");
    ok(&albert(&[
        "finetune",
        "--task",
        "squad2",
        "--model",
        s(&model),
        "--train",
        s(&squad),
        "--dev",
        s(&squad),
        "--out",
        s(&qout),
        "--epochs",
        "3",
        "--learning-rate",
        "3e-3",
        "--max-seq-length",
        "64",
    ]));
    let qmetrics = tmp.path().join("qa.json");
    ok(&albert(&[
        "evaluate",
        "--task",
        "squad2",
        "--model",
        s(&qout.join("model")),
        "--data",
        s(&squad),
        "--max-seq-length",
        "64",
        "--out",
        s(&qmetrics),
    ]));
    let q: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&qmetrics).expect("qa metrics"))
            .expect("json");
    for key in [
        "exact",
        "f1",
        "HasAns_f1",
        "NoAns_exact",
        "best_f1",
        "best_f1_thresh",
    ] {
        assert!(q.contains_key(key), "{key} missing in {q:?}");
    }
    assert_eq!(q["total"].as_f64(), Some(80.0));
    let preds = std::fs::read_to_string(qout.join("dev_predictions.jsonl")).expect("preds");
    assert_eq!(preds.lines().count(), 80);

    // answer: as the pipeline, whole words of the context at its character offsets, with a
    // probability (a barely trained model: any span will do, but it must be whole words).
    let context = "The Eiffel Tower was completed in 1889 in Paris.";
    let o = albert(&[
        "answer",
        "--model",
        s(&qout.join("model")),
        "--question",
        "When was it completed?",
        "--context",
        context,
        "--max-seq-length",
        "64",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let text = a["answer"].as_str().expect("answer");
    let (start, end) = (
        a["start"].as_u64().expect("start") as usize,
        a["end"].as_u64().expect("end") as usize,
    );
    let chars: Vec<char> = context.chars().collect();
    assert_eq!(chars[start..end].iter().collect::<String>(), text, "{a}");
    assert!(
        !text.is_empty() && !text.starts_with(' ') && !text.ends_with(' '),
        "{a}"
    );
    assert!(
        start == 0 || chars[start - 1] == ' ',
        "starts inside a word: {a}"
    );
    assert!(
        end == chars.len() || chars[end] == ' ',
        "ends inside a word: {a}"
    );
    let score = a["score"].as_f64().expect("score");
    assert!(score > 0.0 && score <= 1.0, "{a}");

    // --handle-impossible-answer: "" exactly where the fine-tuning's own SQuAD v2.0 decoding
    // (dev_predictions.jsonl, the same model and windows) predicted no answer; without it,
    // never "".
    let lines: String = albert_heads::tasks::squad::read_squad(&squad)
        .expect("squad")
        .iter()
        .map(|e| {
            serde_json::json!({"question": e.question, "context": e.context}).to_string() + "\n"
        })
        .collect();
    let questions = tmp.path().join("questions.jsonl");
    std::fs::write(&questions, lines).expect("write");
    let qa_model = qout.join("model");
    let answers = |abstain: bool| -> Vec<String> {
        let mut args = vec![
            "answer",
            "--model",
            s(&qa_model),
            "--input",
            s(&questions),
            "--max-seq-length",
            "64",
        ];
        if abstain {
            args.push("--handle-impossible-answer");
        }
        let o = albert(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| {
                let a: serde_json::Value = serde_json::from_str(l).expect("json line");
                a["answer"].as_str().expect("answer").to_string()
            })
            .collect()
    };
    let predicted: Vec<bool> = preds
        .lines()
        .map(|l| {
            let p: serde_json::Value = serde_json::from_str(l).expect("prediction");
            p["prediction"].as_str().expect("prediction").is_empty()
        })
        .collect();
    // (The barely trained model abstains on some or all of them, so the comparison checks the
    // flag, not only the default.)
    assert!(
        predicted.iter().any(|&p| p),
        "no question predicted unanswerable"
    );
    let abstained: Vec<bool> = answers(true).iter().map(String::is_empty).collect();
    assert_eq!(abstained, predicted);
    assert!(answers(false).iter().all(|a| !a.is_empty()));

    // fill-mask with the pretraining model: top-5 candidates, most likely first, as the
    // pipeline prints them.
    let o = albert(&[
        "fill-mask",
        "--model",
        s(&model),
        "--text",
        "It was a [MASK] day.",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let candidates = v.as_array().expect("candidates");
    assert_eq!(candidates.len(), 5);
    let p: Vec<f64> = candidates
        .iter()
        .map(|c| c["score"].as_f64().expect("score"))
        .collect();
    assert!(candidates.iter().all(|c| {
        c["sequence"]
            .as_str()
            .is_some_and(|s| s.contains(c["token_str"].as_str().unwrap_or("?")))
    }));
    assert!(
        p.windows(2).all(|w| w[0] >= w[1]) && p.iter().sum::<f64>() <= 1.0 + 1e-6,
        "{p:?}"
    );
    let o = albert(&["fill-mask", "--model", s(&model), "--text", "No mask here."]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no [MASK]"));

    // embed: one H-sized vector per input; the same text as a plain line and as JSON gives the
    // same vector; padding does not leak into the mean (batch size 1 = batch size 3, where the
    // short inputs are padded to the long one); [CLS] vectors normalised to unit length.
    let texts = tmp.path().join("embed.txt");
    std::fs::write(
        &texts,
        "It was a fine day.\n{\"text\": \"It was a fine day.\"}\nA much longer sentence, with many more words in it than the others have.\tand a pair\n",
    )
    .expect("write");
    let vectors = |extra: &[&str]| -> Vec<Vec<f64>> {
        let mut args = vec!["embed", "--model", s(&model), "--input", s(&texts)];
        args.extend_from_slice(extra);
        let o = albert(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Vec<f64>>(l).expect("vector"))
            .collect()
    };
    let one = vectors(&["--batch-size", "1"]);
    let three = vectors(&["--batch-size", "3"]);
    assert_eq!(one.len(), 3);
    assert!(one.iter().all(|v| v.len() == 32), "hidden size 32");
    assert_eq!(one[0], one[1], "plain and JSON input");
    for (a, b) in one.iter().zip(&three) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-4, "padding changed the mean: {x} vs {y}");
        }
    }
    let cls = vectors(&["--pooling", "cls", "--normalize"]);
    for v in &cls {
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    }
    assert_ne!(cls[0], one[0]);

    // Bad input: a dev label the model does not know, named with file and line.
    let bad = tmp.path().join("bad.tsv");
    std::fs::write(&bad, "sentence\tlabel\nfine\t1\nodd\t7\n").expect("write");
    let o = albert(&[
        "evaluate",
        "--task",
        "classification",
        "--model",
        s(&out.join("model")),
        "--data",
        s(&bad),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.tsv:3") && err.contains("\"7\"") && !err.contains("panicked"),
        "{err}"
    );
    // Not a model directory.
    let o = albert(&[
        "evaluate",
        "--task",
        "classification",
        "--model",
        s(tmp.path()),
        "--data",
        s(&dev),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a model directory"), "{err}");
}
