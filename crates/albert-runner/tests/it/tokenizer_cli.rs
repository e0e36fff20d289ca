//! `albert tokenizer encode|train`: the JSON-lines contract, order, and clear errors.

use std::path::Path;
use std::process::Command;

fn albert(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(args)
        .output()
        .expect("run albert")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

#[test]
fn encode_reproduces_both_reference_tokenizers_in_order() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let fixture = shared.join("fixtures/tokenizer");
    let cases: Vec<serde_json::Value> = std::fs::read_to_string(fixture.join("encodings.jsonl"))
        .expect("read")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let tmp = tempfile::tempdir().expect("tmp");
    let input = tmp.path().join("in.jsonl");
    let lines: Vec<String> = cases
        .iter()
        .map(|c| serde_json::json!({"text": c["text"], "text_pair": c["text_pair"]}).to_string())
        .collect();
    std::fs::write(&input, lines.join("\n") + "\n").expect("write");
    for (model, reference_ids, offsets_key) in [
        ("spiece.model", "/slow/input_ids", None),
        ("tokenizer.json", "/input_ids", Some("byte_offsets")),
    ] {
        let out = tmp.path().join(format!("{model}.jsonl"));
        let o = albert(&[
            "tokenizer",
            "encode",
            "--tokenizer",
            s(&fixture.join(model)),
            "--input",
            s(&input),
            "--out",
            s(&out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let got: Vec<serde_json::Value> = std::fs::read_to_string(&out)
            .expect("out")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(got.len(), cases.len());
        for (g, c) in got.iter().zip(&cases) {
            assert_eq!(
                g["input_ids"],
                *c.pointer(reference_ids).expect("ids"),
                "{model} case {}",
                c["id"]
            );
            assert_eq!(
                g["tokens"].as_array().map(Vec::len),
                g["input_ids"].as_array().map(Vec::len)
            );
            assert!(g["token_type_ids"].is_array());
            if let Some(key) = offsets_key {
                assert_eq!(g["offsets"], c[key], "{model} case {}", c["id"]);
            }
        }
    }
}

#[test]
fn train_then_encode_with_the_result() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let vocab = tmp.path().join("vocab");
    let o = albert(&[
        "tokenizer",
        "train",
        "--input",
        s(&shared.join("data/pretrain/sample.txt")),
        "--vocab-size",
        "800",
        "--out",
        s(&vocab),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(vocab.join("spiece.model").is_file() && vocab.join("tokenizer.json").is_file());
    let input = tmp.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"text\": \"It is a truth universally acknowledged.\", \"text_pair\": null}\n",
    )
    .expect("write");
    let out = tmp.path().join("out.jsonl");
    let o = albert(&[
        "tokenizer",
        "encode",
        "--tokenizer",
        s(&vocab),
        "--input",
        s(&input),
        "--out",
        s(&out),
        "--pad-to",
        "32",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&out).expect("out").trim()).expect("json");
    assert_eq!(line["input_ids"].as_array().map(Vec::len), Some(32));
    assert_eq!(line["input_ids"][0], 2);
}

#[test]
fn bad_encode_inputs_name_file_and_line() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let model = shared.join("fixtures/tokenizer/spiece.model");
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out.jsonl");
    for (name, content, needle) in [
        (
            "badjson.jsonl",
            b"{\"text\": \"ok\"}\n{\"text\": oops}\n".to_vec(),
            "badjson.jsonl: line 2",
        ),
        (
            "notext.jsonl",
            b"{\"txt\": \"x\"}\n".to_vec(),
            "line 1: missing field `text`",
        ),
        (
            "utf8.jsonl",
            b"{\"text\": \"a\xffb\"}\n".to_vec(),
            "utf8.jsonl:1: invalid UTF-8",
        ),
    ] {
        let input = tmp.path().join(name);
        std::fs::write(&input, content).expect("write");
        let o = albert(&[
            "tokenizer",
            "encode",
            "--tokenizer",
            s(&model),
            "--input",
            s(&input),
            "--out",
            s(&out),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(needle), "{name}: {err}");
    }
    assert!(!out.exists(), "no partial output on error");
    let o = albert(&[
        "tokenizer",
        "encode",
        "--tokenizer",
        s(tmp.path()),
        "--input",
        s(&out),
        "--out",
        s(&out),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no spiece.model or tokenizer.json"));
}
