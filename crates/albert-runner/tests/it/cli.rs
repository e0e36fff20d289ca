//! The `albert` binary end to end: the exact command-line contract, and clear errors (exit
//! code 1 with a message, never a panic) on bad input.

use std::path::Path;
use std::process::{Command, Output};

use albert_core::checkpoint::{OutTensor, TensorValues, read_safetensors};
use albert_heads::HeadKind;
use albert_runner::parity::{belongs_to, compare};

fn albert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(args)
        .output()
        .expect("run albert")
}

fn ok(args: &[&str]) -> String {
    let out = albert(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "albert {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
}

fn fails(args: &[&str], needle: &str) {
    let out = albert(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "albert {args:?} should fail cleanly, got {:?}:\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains(needle),
        "albert {args:?}: expected {needle:?} in:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn outputs(path: &Path) -> Vec<OutTensor> {
    read_safetensors(path)
        .expect("read outputs")
        .into_iter()
        .map(|t| match t.values {
            TensorValues::F32(values) => OutTensor {
                name: t.name,
                shape: t.shape,
                values,
            },
            other => panic!("{}: not float32: {other:?}", t.name),
        })
        .collect()
}

#[test]
fn forward_combines_body_and_head_only_weights() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let dir = shared.join("fixtures/hf-albert/tiny-groups");
    let tmp = tempfile::tempdir().expect("tmp");
    for (head, file) in [("seqcls", "seqcls.safetensors"), ("mc", "mc.safetensors")] {
        let out = tmp.path().join(format!("{head}.safetensors"));
        let log = ok(&[
            "forward",
            "--config",
            s(&dir.join("config.json")),
            "--weights",
            s(&dir.join("model.safetensors")),
            "--weights",
            s(&dir.join(file)),
            "--head",
            head,
            "--inputs",
            s(&dir.join("inputs.json")),
            "--out",
            s(&out),
            "--device",
            "cpu",
        ]);
        assert!(log.contains("unused: predictions.bias"), "{log}");
        let kind = HeadKind::parse(head).expect("head");
        let report = compare(&dir.join("expected.safetensors"), &outputs(&out), |n| {
            belongs_to(n, kind)
        })
        .expect("compare");
        report.check(1e-4).expect("parity");
        assert!(report.compared.iter().any(|d| d.name.ends_with("/loss")));
    }
}

#[test]
fn export_then_forward_reproduces_the_fixture() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let dir = shared.join("fixtures/hf-albert/tiny");
    let tmp = tempfile::tempdir().expect("tmp");
    let exported = tmp.path().join("qa-model");
    ok(&[
        "export",
        "--config",
        s(&dir.join("qa.config.json")),
        "--weights",
        s(&dir.join("qa.safetensors")),
        "--out",
        s(&exported),
    ]);
    let config = std::fs::read_to_string(exported.join("config.json")).expect("config");
    assert!(config.contains("AlbertForQuestionAnswering"), "{config}");
    let keys: Vec<String> = read_safetensors(exported.join("model.safetensors"))
        .expect("read")
        .into_iter()
        .map(|t| t.name)
        .collect();
    let original: Vec<String> = read_safetensors(dir.join("qa.safetensors"))
        .expect("read")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(keys, original, "exactly HF's key set (no pooler for QA)");
    let out = tmp.path().join("out.safetensors");
    ok(&[
        "forward",
        "--config",
        s(&exported.join("config.json")),
        "--weights",
        s(&exported.join("model.safetensors")),
        "--head",
        "qa",
        "--inputs",
        s(&dir.join("inputs.json")),
        "--out",
        s(&out),
    ]);
    compare(&dir.join("expected.safetensors"), &outputs(&out), |n| {
        belongs_to(n, HeadKind::QuestionAnswering)
    })
    .expect("compare")
    .check(1e-4)
    .expect("parity");
}

#[test]
fn export_writes_the_label_count_the_weights_have() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let dir = shared.join("fixtures/hf-albert/tiny-groups");
    let tmp = tempfile::tempdir().expect("tmp");
    // config.json has no id2label: the 3 labels come from classifier.weight [3, 64].
    ok(&[
        "export",
        "--config",
        s(&dir.join("config.json")),
        "--weights",
        s(&dir.join("model.safetensors")),
        "--weights",
        s(&dir.join("seqcls.safetensors")),
        "--head",
        "seqcls",
        "--out",
        s(tmp.path()),
    ]);
    let hf = albert_core::HfConfig::from_file(tmp.path().join("config.json")).expect("config");
    assert_eq!(hf.config.num_labels(), Some(3));
    assert_eq!(hf.architectures, vec!["AlbertForSequenceClassification"]);
}

#[test]
fn info_reports_counts() {
    let text = ok(&["info", "--config", "albert-base-v2"]);
    assert!(text.contains("11,813,810"), "{text}");
    let text = ok(&[
        "info",
        "--config",
        "albert-base-v2",
        "--sharing",
        "none",
        "--head",
        "seqcls",
    ]);
    assert!(text.contains("12 stored, 12 applied"), "{text}");
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let dir = shared.join("fixtures/hf-albert/tiny-groups");
    let text = ok(&[
        "info",
        "--config",
        s(&dir.join("config.json")),
        "--weights",
        s(&dir.join("model.safetensors")),
    ]);
    assert!(
        text.contains("layer -> group: 0 0 1 1") && text.contains("loaded"),
        "{text}"
    );
}

#[test]
fn bad_inputs_fail_cleanly() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let dir = shared.join("fixtures/hf-albert/tiny");
    let tmp = tempfile::tempdir().expect("tmp");
    let config = dir.join("config.json");
    let weights = dir.join("model.safetensors");
    let inputs = dir.join("inputs.json");
    let out = tmp.path().join("o.safetensors");
    let base = |c: &Path, w: &Path, i: &Path, head: &str| -> Vec<String> {
        [
            "forward",
            "--config",
            s(c),
            "--weights",
            s(w),
            "--head",
            head,
            "--inputs",
            s(i),
            "--out",
            s(&out),
        ]
        .iter()
        .map(|x| x.to_string())
        .collect()
    };
    let run = |args: Vec<String>, needle: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(&args, needle);
    };

    let bad_config = tmp.path().join("bad.json");
    std::fs::write(&bad_config, "{\"hidden_size\": 64,").expect("write");
    run(
        base(&bad_config, &weights, &inputs, "pretraining"),
        "bad.json",
    );

    let truncated = tmp.path().join("trunc.safetensors");
    let bytes = std::fs::read(&weights).expect("read");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).expect("write");
    run(
        base(&config, &truncated, &inputs, "pretraining"),
        "trunc.safetensors: not a valid safetensors",
    );

    // Head-only weights: the body is missing (an error for forward).
    let head_only = shared.join("fixtures/hf-albert/tiny-groups/seqcls.safetensors");
    run(
        base(&config, &head_only, &inputs, "seqcls"),
        "missing: albert.embeddings.word_embeddings.weight [1000, 32]",
    );

    // tiny weights under the tiny-groups config: wrong group count -> missing tensors.
    let groups_config = shared.join("fixtures/hf-albert/tiny-groups/config.json");
    run(
        base(&groups_config, &weights, &inputs, "pretraining"),
        "missing: albert.encoder.albert_layer_groups.1",
    );

    // A config with a different hidden size: every tensor mis-shaped.
    let wide = tmp.path().join("wide.json");
    std::fs::write(
        &wide,
        std::fs::read_to_string(&config)
            .expect("read")
            .replace("\"intermediate_size\": 128", "\"intermediate_size\": 256"),
    )
    .expect("write");
    run(
        base(&wide, &weights, &inputs, "pretraining"),
        "expects float [256, 64], the file has float [128, 64]",
    );

    let bad_inputs = tmp.path().join("inputs.json");
    std::fs::write(&bad_inputs, r#"{"format": "albert-reference-inputs/1", "batches": {"x": {"input_ids": [[2, 5000, 3]]}}}"#).expect("write");
    run(
        base(&config, &weights, &bad_inputs, "pretraining"),
        "input_ids[0][1] = 5000 is out of range",
    );
    std::fs::write(&bad_inputs, r#"{"format": "something-else"}"#).expect("write");
    run(
        base(&config, &weights, &bad_inputs, "pretraining"),
        "format",
    );

    // A head that does not exist is a usage error (clap: exit 2, the choices listed); the old
    // short names still work.
    let args = base(&config, &weights, &inputs, "nsp");
    let out = albert(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid value 'nsp'") && stderr.contains("sequence-classification"),
        "{stderr}"
    );
    let summary = ok(&["info", "--config", s(&config), "--head", "qa"]);
    assert!(summary.contains("question-answering head(s)"), "{summary}");
    let mut args = base(&config, &weights, &inputs, "pretraining");
    args.extend(["--device".to_string(), "tpu".to_string()]);
    run(args, "unknown --device");
    // CUDA is never compiled into the test build: the error names the feature to rebuild with.
    let mut args = base(&config, &weights, &inputs, "pretraining");
    args.extend(["--device".to_string(), "cuda".to_string()]);
    run(
        args,
        "--device cuda: this albert binary was built without the `cuda` feature",
    );
    fails(&["info", "--config", "albert-huge-v9"], "not a preset");
}

/// `albert export` converts an original TF1 checkpoint (by its prefix, with its
/// `albert_config.json`) and a `pytorch_model.bin` to `model.safetensors`: every tensor of the
/// `tiny` fixture's own safetensors, value for value, under the same names.
#[test]
fn export_converts_tf_and_pytorch_checkpoints() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let formats = shared.join("fixtures/hf-albert/formats");
    let reference = read_safetensors(shared.join("fixtures/hf-albert/tiny/model.safetensors"))
        .expect("reference");
    let tmp = tempfile::tempdir().expect("tmp");
    for (name, config, weights) in [
        ("tf", "tiny-tf/albert_config.json", "tiny-tf/model.ckpt-0"),
        ("bin", "tiny-bin/config.json", "tiny-bin/pytorch_model.bin"),
    ] {
        let out = tmp.path().join(name);
        ok(&[
            "export",
            "--config",
            s(&formats.join(config)),
            "--weights",
            s(&formats.join(weights)),
            "--out",
            s(&out),
        ]);
        let converted = read_safetensors(out.join("model.safetensors")).expect("converted");
        assert_eq!(converted.len(), reference.len(), "{name}");
        for (got, want) in converted.iter().zip(&reference) {
            assert_eq!(got.name, want.name, "{name}");
            assert_eq!(got.shape, want.shape, "{name}: {}", got.name);
            assert!(got.values == want.values, "{name}: {} differs", got.name);
        }
    }
}

/// The model shipped in the repository (`models/albert-mini-mixed`) loads (body and MLM head,
/// every tensor required) with the model card's shape and fills a mask with a ranked
/// distribution.
#[test]
fn shipped_model_loads_and_fills_masks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/albert-mini-mixed");
    let v = albert_runner::infer::fill_mask(&dir, "It was a [MASK] day.", 5, "cpu")
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let candidates = v.as_array().expect("one mask: a list");
    assert_eq!(candidates.len(), 5);
    let scores: Vec<f64> = candidates
        .iter()
        .map(|c| c["score"].as_f64().expect("score"))
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(scores.iter().sum::<f64>() <= 1.0 + 1e-6 && scores[0] > 0.0);
    let hf = albert_core::HfConfig::from_file(dir.join("config.json")).expect("config");
    assert_eq!(
        (
            hf.config.vocab_size,
            hf.config.hidden_size,
            hf.config.num_hidden_layers
        ),
        (8000, 128, 4),
        "the model card's shape"
    );
}

/// `albert fill-mask` without `--text` reads one text per line (plain or `{"text"}`) and prints
/// one JSON line per text, each what `--text` prints for it alone, though they ran as one batch;
/// a line without a mask fails with the file and line named.
#[test]
fn fill_mask_reads_many_texts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/albert-mini-mixed");
    let tmp = tempfile::tempdir().expect("tmp");
    let texts = [
        "It was a [MASK] day.",
        "The [MASK] of the [MASK] was long and dull.",
    ];
    let input = tmp.path().join("texts.jsonl");
    std::fs::write(
        &input,
        format!(
            "{}\n\n{}\n",
            texts[0],
            serde_json::json!({ "text": texts[1] })
        ),
    )
    .expect("write");
    let stdout = |args: &[&str]| {
        let o = albert(args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let out = stdout(&[
        "fill-mask",
        "--model",
        s(&dir),
        "--input",
        s(&input),
        "--top-k",
        "3",
    ]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2);
    for (text, got) in texts.iter().zip(&lines) {
        let alone: serde_json::Value = serde_json::from_str(&stdout(&[
            "fill-mask",
            "--model",
            s(&dir),
            "--text",
            text,
            "--top-k",
            "3",
        ]))
        .expect("json");
        assert!(
            albert_runner::serve::client::json_close(got, &alone, 1e-5),
            "{text}: batch {got} vs alone {alone}"
        );
    }
    std::fs::write(&input, "It was a [MASK] day.\nno mask\n").expect("write");
    fails(
        &["fill-mask", "--model", s(&dir), "--input", s(&input)],
        "line 2: no [MASK]",
    );
}

/// `--precision int8` is for inference: fine-tuning refuses it before reading anything, with
/// the way out in the message; and it runs the fixtures' forward on the CPU (its accuracy is
/// `bf16_parity`'s).
#[test]
fn int8_runs_inference_and_refuses_training() {
    fails(
        &[
            "finetune",
            "--task",
            "classification",
            "--model",
            "no-such-model",
            "--train",
            "no-such.tsv",
            "--dev",
            "no-such.tsv",
            "--out",
            "no-such-out",
            "--precision",
            "int8",
        ],
        "--precision int8 is for inference only",
    );
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let dir = shared.join("fixtures/hf-albert/tiny");
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("int8.safetensors");
    forward_pretraining(&dir, &dir, &out, &["--precision", "int8"]);
    assert!(!outputs(&out).is_empty());
}

/// `albert export --dtype bf16` (and fp16) stores the weights in two bytes each: the file is
/// about half the float32 export's size, every value is the nearest bfloat16 (half) of the
/// original, and a float32 forward pass from it lands within the same bound as a forward in
/// that precision (twice PyTorch's autocast deviation; every tensor is rounded here, the
/// embeddings, LayerNorms and biases too, which autocast keeps in float32) while still moving
/// the outputs (it did round).
#[test]
fn export_stores_bf16_and_fp16_weights() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let dir = shared.join("fixtures/hf-albert/tiny");
    let tmp = tempfile::tempdir().expect("tmp");
    let export = |dtype: &str| {
        let out = tmp.path().join(dtype);
        ok(&[
            "export",
            "--config",
            s(&dir.join("config.json")),
            "--weights",
            s(&dir.join("model.safetensors")),
            "--out",
            s(&out),
            "--dtype",
            dtype,
        ]);
        out
    };
    let full = export("fp32");
    let size = |d: &Path| {
        std::fs::metadata(d.join("model.safetensors"))
            .expect("size")
            .len()
    };
    let original = read_safetensors(full.join("model.safetensors")).expect("read");
    for (dtype, precision) in [("bf16", "bf16"), ("fp16", "fp16")] {
        let half = export(dtype);
        let ratio = size(&half) as f64 / size(&full) as f64;
        assert!((0.45..0.55).contains(&ratio), "{dtype}: size ratio {ratio}");
        let stored = read_safetensors(half.join("model.safetensors")).expect("read");
        assert_eq!(stored.len(), original.len());
        for (a, b) in original.iter().zip(&stored) {
            let (TensorValues::F32(a), TensorValues::F32(b)) = (&a.values, &b.values) else {
                panic!("float tensors");
            };
            let want: Vec<f32> = a
                .iter()
                .map(|&v| match dtype {
                    "bf16" => albert_core::precision::round_bf16(v),
                    _ => albert_core::precision::round_f16(v),
                })
                .collect();
            assert_eq!(&want, b, "{dtype} {}", a.len());
        }
        let out = tmp.path().join(format!("{dtype}.out.safetensors"));
        forward_pretraining(&half, &dir, &out, &[]);
        let report = compare(&dir.join("expected.safetensors"), &outputs(&out), |n| {
            n.ends_with("/prediction_logits") && !n.starts_with("long/")
        })
        .expect("compare");
        let worst = report
            .compared
            .iter()
            .map(|d| f64::from(d.max_abs_diff))
            .fold(0.0, f64::max);
        let bound = albert_testdata::deviation_bound(precision, "tiny", "prediction_logits");
        eprintln!("{dtype} export: size {ratio:.3} of fp32, logits within {worst:.3e}");
        assert!(
            worst <= bound && worst > 1e-6,
            "{dtype}: logits {worst:e} (bound {bound:e})"
        );
    }
}

/// `albert forward --head pretraining` of the model directory `model` (`config.json`,
/// `model.safetensors`) on `fixture`'s `inputs.json` into `out`, with `extra` arguments.
fn forward_pretraining(model: &Path, fixture: &Path, out: &Path, extra: &[&str]) {
    let (config, weights) = (model.join("config.json"), model.join("model.safetensors"));
    let inputs = fixture.join("inputs.json");
    let mut args = vec![
        "forward",
        "--config",
        s(&config),
        "--weights",
        s(&weights),
        "--head",
        "pretraining",
        "--inputs",
        s(&inputs),
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    ok(&args);
}
