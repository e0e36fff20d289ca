//! Training with ALBERT's recipe: the vocabulary's layout, both output files, the round trip
//! through `spiece.model` and `tokenizer.json` with identical encodings, and (when Python's
//! `sentencepiece` is installed) that the library loads our `spiece.model` and segments as we do.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use albert_tokenizer::lines::read_lines;
use albert_tokenizer::proto::{ModelProto, PieceType};
use albert_tokenizer::{AlbertTokenizer, EncodeOptions, SentencePieceModel, TrainerConfig, train};

fn corpus() -> Option<PathBuf> {
    common::shared_path("data/pretrain/sample.txt")
}

#[test]
fn trained_vocabulary_round_trips_through_both_formats() {
    let Some(corpus) = corpus() else { return };
    let lines = read_lines(&corpus).expect("read");
    let (train_lines, held_out) = lines.split_at(lines.len() * 9 / 10);
    let dir = tempfile::tempdir().expect("tmp");
    let train_file = dir.path().join("train.txt");
    std::fs::write(&train_file, train_lines.join("\n")).expect("write");
    let config = TrainerConfig {
        vocab_size: 1500,
        ..TrainerConfig::default()
    };
    let vocab = train(&[train_file], &config).expect("train");
    assert_eq!(vocab.pieces.len(), 1500);
    let names: Vec<&str> = vocab.pieces[..13]
        .iter()
        .map(|p| p.piece.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]", "(", ")", "\"", "-", ".", "–", "£", "€"
        ]
    );
    assert_eq!(vocab.pieces[1].kind, PieceType::Unknown);
    assert_eq!(vocab.pieces[5].kind, PieceType::UserDefined);
    assert!(
        vocab.pieces[13..]
            .windows(2)
            .all(|w| w[0].score >= w[1].score),
        "sorted by score"
    );

    let out = dir.path().join("vocab");
    vocab.save(&out).expect("save");
    let bytes = std::fs::read(out.join("spiece.model")).expect("read");
    let proto = ModelProto::decode(&bytes).expect("decode");
    assert_eq!(proto.pieces, vocab.pieces);
    assert_eq!(
        proto.encode(),
        bytes,
        "spiece.model re-encodes byte for byte"
    );

    let spm = AlbertTokenizer::from_path(out.join("spiece.model")).expect("spm");
    let json = AlbertTokenizer::from_path(out.join("tokenizer.json")).expect("json");
    let mut texts: Vec<&str> = held_out.iter().map(String::as_str).collect();
    texts.extend([
        "",
        "   ",
        "3.14 and 9,9 (1,000,000)",
        "``Quoted'' — £5 – €10",
        "Café NAÏVE résumé",
    ]);
    for text in &texts {
        let a = spm
            .encode(text, None, &EncodeOptions::default())
            .expect("spm encode");
        let b = json
            .encode(text, None, &EncodeOptions::default())
            .expect("json encode");
        assert_eq!(a.ids, b.ids, "{text:?}: {:?} vs {:?}", a.tokens, b.tokens);
    }
}

#[test]
fn python_sentencepiece_loads_our_model() {
    let Some(corpus) = corpus() else { return };
    let has_spm = Command::new("python3")
        .args(["-c", "import sentencepiece"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_spm {
        assert!(
            std::env::var("ALBERT_REQUIRE_PYTHON_SPM").map_or(true, |v| v != "1"),
            "ALBERT_REQUIRE_PYTHON_SPM=1 but python3 cannot import sentencepiece"
        );
        eprintln!("skipping: python3 with sentencepiece not found");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let config = TrainerConfig {
        vocab_size: 1000,
        ..TrainerConfig::default()
    };
    let vocab = train(std::slice::from_ref(&corpus), &config).expect("train");
    vocab.save(dir.path()).expect("save");
    let model_path = dir.path().join("spiece.model");
    let ours = SentencePieceModel::from_file(&model_path).expect("load");
    let lines: Vec<String> = read_lines(&corpus)
        .expect("read")
        .into_iter()
        .take(200)
        .collect();
    let input = dir.path().join("lines.json");
    std::fs::write(&input, serde_json::to_string(&lines).expect("json")).expect("write");
    let script = "import json,sys,sentencepiece as s; m=s.SentencePieceProcessor(model_file=sys.argv[1]); \
                  print(json.dumps([m.encode(t) for t in json.load(open(sys.argv[2]))]))";
    let output = Command::new("python3")
        .args([
            "-c",
            script,
            model_path.to_str().expect("utf-8"),
            input.to_str().expect("utf-8"),
        ])
        .output()
        .expect("python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: Vec<Vec<u32>> = serde_json::from_slice(&output.stdout).expect("ids");
    for (line, ids) in lines.iter().zip(&theirs) {
        let mine: Vec<u32> = ours.encode(line).iter().map(|p| p.id).collect();
        assert_eq!(&mine, ids, "{line:?}");
    }
}

#[test]
fn bad_training_input_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n  \n").expect("write");
    let err = train(&[empty], &TrainerConfig::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("empty") && err.contains("empty.txt"), "{err}");
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, b"fine line\nbad \xff byte\n").expect("write");
    let err = train(&[bad], &TrainerConfig::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.txt:2: invalid UTF-8"), "{err}");
    let err = train(&[dir.path().join("absent.txt")], &TrainerConfig::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent.txt"), "{err}");
    let tiny = TrainerConfig {
        vocab_size: 10,
        ..TrainerConfig::default()
    };
    assert!(
        train(&[dir.path().join("x")], &tiny)
            .unwrap_err()
            .to_string()
            .contains("vocab size 10")
    );
}
