//! Token classification end to end: a tagger fine-tuned with `albert finetune --task tagging`
//! tags dev sentences through `albert tag`, the typed `TokenClassification` pipeline and
//! `POST /v1/tag` of `albert serve`, and all three give, word for word, the tags `finetune`
//! wrote for the same model in `dev_predictions.jsonl` — sentences longer than a window too.

use std::net::TcpListener;
use std::path::Path;

use albert_runner::pipeline::{Pipeline, PipelineOptions, TokenClassification};
use albert_runner::serve::client::{Client, json_close};
use albert_runner::serve::{Server, ServerConfig};
use serde_json::{Value, json};

use super::finetune_cli::{albert, ok, pretrained, s};

/// The first `n` sentences (after `skip`) of a CoNLL file whose number of words lies in
/// `words`.
fn sentences(
    path: &Path,
    n: usize,
    skip: usize,
    words: std::ops::RangeInclusive<usize>,
) -> Vec<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).expect("read");
    text.split("\n\n")
        .map(|block| {
            block
                .lines()
                .filter_map(|l| l.split_once('\t'))
                .map(|(w, t)| (w.to_string(), t.to_string()))
                .collect::<Vec<_>>()
        })
        .filter(|s| words.contains(&s.len()))
        .skip(skip)
        .take(n)
        .collect()
}

fn write_conll(path: &Path, sentences: &[Vec<(String, String)>]) {
    let text: Vec<String> = sentences
        .iter()
        .map(|s| s.iter().map(|(w, t)| format!("{w}\t{t}\n")).collect())
        .collect();
    std::fs::write(path, text.join("\n")).expect("write");
}

#[test]
fn tag_cli_pipeline_and_server_agree_with_finetune() {
    let Some(shared) = albert_testdata::shared() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let brown = shared.join("data/token-tagging/brown_pos/train.conll");
    let (train, dev) = (tmp.path().join("train.conll"), tmp.path().join("dev.conll"));
    write_conll(&train, &sentences(&brown, 48, 0, 1..=16));
    // Twelve short dev sentences, and two of 50 words or more: longer than the 64 tokens of a
    // window, so finetune, `albert tag`, the pipeline and the server all tag them in windows.
    let mut dev_sentences = sentences(&brown, 12, 48, 1..=16);
    dev_sentences.extend(sentences(&brown, 2, 0, 50..=usize::MAX));
    write_conll(&dev, &dev_sentences);
    let out = tmp.path().join("tagger");
    let model = pretrained(&shared, tmp.path());
    ok(&albert(&[
        "finetune",
        "--task",
        "tagging",
        "--model",
        s(&model),
        "--train",
        s(&train),
        "--dev",
        s(&dev),
        "--out",
        s(&out),
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--learning-rate",
        "1e-3",
        "--max-seq-length",
        "64",
    ]));
    let tagger = out.join("model");
    let expected: Vec<Vec<String>> = std::fs::read_to_string(out.join("dev_predictions.jsonl"))
        .expect("predictions")
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json");
            serde_json::from_value(v["prediction"].clone()).expect("tags")
        })
        .collect();
    let texts: Vec<String> = dev_sentences
        .iter()
        .map(|s| {
            s.iter()
                .map(|(w, _)| w.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();

    // The CLI, streamed in batches of 5.
    let input = tmp.path().join("texts.txt");
    std::fs::write(&input, texts.join("\n")).expect("write");
    let o = albert(&[
        "tag",
        "--model",
        s(&tagger),
        "--input",
        s(&input),
        "--batch-size",
        "5",
        "--max-seq-length",
        "64",
    ]);
    ok(&o);
    let printed: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(printed.len(), texts.len());
    for ((words, want), text) in printed.iter().zip(&expected).zip(&texts) {
        let words = words.as_array().expect("a list per text");
        let got: Vec<&str> = words
            .iter()
            .map(|w| w["entity"].as_str().expect("entity"))
            .collect();
        assert_eq!(got, *want, "{text}");
        let chars: Vec<char> = text.chars().collect();
        for (i, w) in words.iter().enumerate() {
            assert_eq!(w["index"], i);
            let (start, end) = (
                w["start"].as_u64().expect("start"),
                w["end"].as_u64().expect("end"),
            );
            let span: String = chars[start as usize..end as usize].iter().collect();
            assert_eq!(span, w["word"].as_str().expect("word"));
            let score = w["score"].as_f64().expect("score");
            assert!(score > 0.0 && score <= 1.0, "{w}");
        }
    }

    // The typed pipeline.
    let typed = TokenClassification::with_options(
        &tagger,
        &PipelineOptions {
            max_seq_length: 64,
            ..PipelineOptions::default()
        },
    )
    .expect("load");
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tags = typed.call(&refs).expect("tag");
    assert!(json_close(
        &json!(tags),
        &Value::Array(printed.clone()),
        1e-6
    ));

    // The server.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let model = tagger.clone();
    let server = Server::start(
        listener,
        move || {
            Pipeline::load(
                &model,
                &PipelineOptions {
                    max_seq_length: 64,
                    ..PipelineOptions::default()
                },
            )
        },
        ServerConfig::default(),
    )
    .expect("start");
    let mut client = Client::new(server.addr());
    let r = client
        .post("/v1/tag", &json!({"inputs": texts}))
        .expect("post");
    assert_eq!(r.status, 200);
    assert!(json_close(
        &r.json().expect("json"),
        &Value::Array(printed.clone()),
        1e-6
    ));
    let r = client
        .post("/v1/tag", &json!({"inputs": texts[0]}))
        .expect("post");
    assert!(json_close(&r.json().expect("json"), &printed[0], 1e-6));
    let r = client
        .post("/v1/classify", &json!({"inputs": ["x"]}))
        .expect("post");
    assert_eq!(r.status, 404, "a tagger does not classify");
    server.shutdown().expect("shutdown");
}
