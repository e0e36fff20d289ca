//! Any UTF-8 input encodes without panicking, with offsets inside the text on character
//! boundaries; corrupt model files are clear errors.

use crate::common;

use std::path::PathBuf;

use albert_tokenizer::{
    AlbertTokenizer, EncodeOptions, Encoding, SentencePieceModel, TokenizerError,
};
use proptest::prelude::*;

fn fixture(name: &str) -> Option<PathBuf> {
    common::shared_path(&format!("fixtures/tokenizer/{name}"))
}

fn check(tok: &AlbertTokenizer, text: &str, pair: Option<&str>) -> Encoding {
    let e = tok
        .encode(text, pair, &EncodeOptions::default())
        .expect("encode");
    let n = e.ids.len();
    assert!(
        n >= 2
            && [
                e.type_ids.len(),
                e.tokens.len(),
                e.offsets.len(),
                e.char_offsets.len()
            ]
            .iter()
            .all(|&m| m == n)
    );
    let vocab = tok.vocab_size() as u32;
    assert!(e.ids.iter().all(|&id| id < vocab));
    for (i, &(s, t)) in e.offsets.iter().enumerate() {
        let source = match e.sequence_ids[i] {
            Some(1) => pair.unwrap_or_default(),
            _ => text,
        };
        assert!(
            s <= t && t <= source.len(),
            "offset {s}..{t} outside {} bytes",
            source.len()
        );
        assert!(source.is_char_boundary(s) && source.is_char_boundary(t));
    }
    e
}

fn tokenizers() -> Vec<AlbertTokenizer> {
    ["spiece.model", "tokenizer.json"]
        .iter()
        .filter_map(|n| fixture(n))
        .map(|p| AlbertTokenizer::from_path(p).expect("load"))
        .collect()
}

#[test]
fn hostile_inputs_encode() {
    let big_word = "x".repeat(1 << 20);
    let every_plane: String = (0..=0x10ffffu32)
        .step_by(0x1001)
        .filter_map(char::from_u32)
        .collect();
    let controls: String = (0u8..0x20)
        .map(char::from)
        .chain(['\u{7f}', '\u{85}', '\u{200b}', '\u{feff}'])
        .collect();
    for tok in tokenizers() {
        for text in [
            "",
            " ",
            "\t\n\r",
            big_word.as_str(),
            every_plane.as_str(),
            controls.as_str(),
            "[MASK][MASK]",
            "9,9,9,",
            "``''",
        ] {
            check(&tok, text, None);
            check(&tok, text, Some(text));
        }
        let e = check(&tok, &big_word, None);
        assert!(e.ids.len() > 2);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn arbitrary_text_encodes(text in any::<String>(), pair in proptest::option::of(any::<String>())) {
        for tok in tokenizers() {
            check(&tok, &text, pair.as_deref());
        }
    }
}

#[test]
fn corrupt_models_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases: Vec<(&str, Vec<u8>)> = {
        let mut v = vec![
            ("empty.model", Vec::new()),
            (
                "garbage.model",
                b"\xff\xfe not a protobuf \x01\x02".to_vec(),
            ),
            ("garbage.json", b"{\"model\": 42}".to_vec()),
            ("notjson.json", b"\x00\x01\x02".to_vec()),
        ];
        if let Some(real) = fixture("spiece.model") {
            let bytes = std::fs::read(real).expect("read");
            v.push(("truncated.model", bytes[..bytes.len() / 3].to_vec()));
        }
        v
    };
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let err = AlbertTokenizer::from_path(&path).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(name), "{name}: {msg}");
        assert!(
            matches!(
                err,
                TokenizerError::Corrupt { .. } | TokenizerError::Invalid(_)
            ),
            "{name}: {err:?}"
        );
    }
    let err = AlbertTokenizer::from_path(dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no spiece.model or tokenizer.json"), "{err}");
    assert!(SentencePieceModel::from_file(dir.path().join("absent.model")).is_err());
}

/// Found by fuzzing (`fuzz/`, target `tokenizer_json`): a `precompiled_charsmap` that is not
/// base64 made the `tokenizers` library panic; it is a clear error naming the file.
#[test]
fn a_corrupt_precompiled_charsmap_is_an_error_not_a_panic() {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/albert-mini-mixed/tokenizer.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&shipped).expect("shipped tokenizer.json"))
            .expect("json");
    fn corrupt(v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(o) => {
                if o.get("type").and_then(|t| t.as_str()) == Some("Precompiled") {
                    o.insert("precompiled_charsmap".into(), "abc".into());
                    return true;
                }
                o.values_mut().any(corrupt)
            }
            serde_json::Value::Array(a) => a.iter_mut().any(corrupt),
            _ => false,
        }
    }
    assert!(
        corrupt(&mut json),
        "the shipped tokenizer.json has a Precompiled normalizer"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, json.to_string()).expect("write");
    let err = AlbertTokenizer::from_path(&path).expect_err("corrupt charsmap");
    let message = err.to_string();
    assert!(matches!(err, TokenizerError::Corrupt { .. }), "{message}");
    assert!(
        message.contains("tokenizer.json") && message.contains("not base64"),
        "{message}"
    );
}
