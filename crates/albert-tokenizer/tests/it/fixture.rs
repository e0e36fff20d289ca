//! Against `../shared/fixtures/tokenizer`: 227 texts encoded by HF's slow `AlbertTokenizer`
//! (Python + sentencepiece), HF's fast tokenizer (`tokenizer.json`), and bare sentencepiece.

use crate::common;

use std::path::{Path, PathBuf};

use albert_tokenizer::{AlbertTokenizer, EncodeOptions, SentencePieceModel};
use serde_json::Value;

fn fixture_dir() -> Option<PathBuf> {
    common::shared_path("fixtures/tokenizer")
}

fn cases(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("encodings.jsonl"))
        .expect("encodings.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("int") as u32)
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("str").to_string())
        .collect()
}

fn encode(tok: &AlbertTokenizer, case: &Value) -> albert_tokenizer::Encoding {
    let text = case["text"].as_str().expect("text");
    let pair = case["text_pair"].as_str();
    tok.encode(text, pair, &EncodeOptions::default())
        .expect("encode")
}

#[test]
fn spiece_model_matches_the_slow_tokenizer_on_every_case() {
    let Some(dir) = fixture_dir() else { return };
    let tok = AlbertTokenizer::from_path(dir.join("spiece.model")).expect("load");
    let mut failures = Vec::new();
    let all = cases(&dir);
    for case in &all {
        let e = encode(&tok, case);
        let slow = &case["slow"];
        if e.ids != u32s(&slow["input_ids"]) || e.type_ids != u32s(&slow["token_type_ids"]) {
            failures.push(format!(
                "case {} {:?}:\n  ours {:?}\n  slow {:?}",
                case["id"],
                case["text"],
                e.tokens,
                strings(&slow["tokens"])
            ));
        }
    }
    eprintln!(
        "spiece.model vs slow: {}/{} identical",
        all.len() - failures.len(),
        all.len()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn tokenizer_json_matches_the_fast_tokenizer_on_every_case() {
    let Some(dir) = fixture_dir() else { return };
    let tok = AlbertTokenizer::from_path(dir.join("tokenizer.json")).expect("load");
    let mut failures = Vec::new();
    let all = cases(&dir);
    for case in &all {
        let e = encode(&tok, case);
        let offsets: Vec<(usize, usize)> = case["byte_offsets"]
            .as_array()
            .expect("offsets")
            .iter()
            .map(|p| {
                (
                    p[0].as_u64().expect("s") as usize,
                    p[1].as_u64().expect("e") as usize,
                )
            })
            .collect();
        let char_offsets: Vec<(usize, usize)> = case["offsets"]
            .as_array()
            .expect("offsets")
            .iter()
            .map(|p| {
                (
                    p[0].as_u64().expect("s") as usize,
                    p[1].as_u64().expect("e") as usize,
                )
            })
            .collect();
        let sequence_ids: Vec<Option<u8>> = case["sequence_ids"]
            .as_array()
            .expect("seq ids")
            .iter()
            .map(|v| v.as_u64().map(|x| x as u8))
            .collect();
        let same = e.ids == u32s(&case["input_ids"])
            && e.type_ids == u32s(&case["token_type_ids"])
            && e.tokens == strings(&case["tokens"])
            && e.offsets == offsets
            && e.char_offsets == char_offsets
            && e.sequence_ids == sequence_ids
            && e.special_tokens_mask == u32s(&case["special_tokens_mask"]);
        let decoded_same =
            tok.decode(&e.ids, true).expect("decode") == case["decoded"].as_str().expect("decoded");
        if !same || !decoded_same {
            failures.push(format!(
                "case {} {:?}: ours {:?} {:?}",
                case["id"], case["text"], e.tokens, e.offsets
            ));
        }
    }
    eprintln!(
        "tokenizer.json vs fast: {}/{} identical",
        all.len() - failures.len(),
        all.len()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn bare_sentencepiece_matches_spm_raw() {
    let Some(dir) = fixture_dir() else { return };
    let model = SentencePieceModel::from_file(dir.join("spiece.model")).expect("load");
    let mut failures = Vec::new();
    let all = cases(&dir);
    for case in &all {
        let pieces = model.encode(case["text"].as_str().expect("text"));
        let ids: Vec<u32> = pieces.iter().map(|p| p.id).collect();
        let texts: Vec<String> = pieces.iter().map(|p| p.text.clone()).collect();
        if ids != u32s(&case["spm_raw"]["ids"]) || texts != strings(&case["spm_raw"]["pieces"]) {
            failures.push(format!(
                "case {} {:?}:\n  ours {texts:?}\n  spm  {:?}",
                case["id"],
                case["text"],
                strings(&case["spm_raw"]["pieces"])
            ));
        }
    }
    eprintln!(
        "native sentencepiece vs spm_raw: {}/{} identical",
        all.len() - failures.len(),
        all.len()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
