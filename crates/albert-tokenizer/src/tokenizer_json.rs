//! Rendering a vocabulary as a `tokenizer.json` for the `tokenizers` library, with ALBERT's
//! pipeline: the normaliser of HF's ALBERT converter (`` ` `` quotes, NFKD, accents stripped,
//! lower-case, the SentencePiece rules, runs of spaces collapsed) plus a final strip of leading
//! and trailing whitespace (what `preprocess_text` does, so whitespace-only text encodes to
//! nothing, as in `spiece.model`); `Metaspace` pre-tokenisation; the unigram model; the
//! `[CLS] A [SEP] B [SEP]` template.
//!
//! Two choices keep it as close as a `tokenizer.json` can be to the `spiece.model` path:
//! user-defined symbols stay ordinary vocabulary pieces (HF's converter since mid-2024 makes
//! them added tokens, which puts a `▁` after each of them), and pieces ending in a digit and a
//! comma lose 100 from their score (HF's stand-in for the digit-comma re-split).

use base64::Engine as _;
use serde_json::{Value, json};

use crate::error::{Result, TokenizerError};
use crate::proto::{Piece, PieceType};

fn special_entry(id: usize, content: &str) -> Value {
    json!({
        "id": id, "content": content, "single_word": false, "lstrip": content == "[MASK]",
        "rstrip": false, "normalized": false, "special": true
    })
}

/// The `tokenizer.json` text for `pieces` (in id order) with SentencePiece rules `charsmap`.
pub fn render(pieces: &[Piece], charsmap: &[u8]) -> Result<String> {
    let id_of = |p: &str| pieces.iter().position(|x| x.piece == p);
    let need = |p: &str| {
        id_of(p).ok_or_else(|| TokenizerError::Invalid(format!("the vocabulary has no {p}")))
    };
    let (cls, sep, unk) = (need("[CLS]")?, need("[SEP]")?, need("<unk>")?);
    let added: Vec<Value> = pieces
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.kind, PieceType::Control | PieceType::Unknown))
        .map(|(i, p)| special_entry(i, &p.piece))
        .collect();
    let vocab: Vec<Value> = pieces
        .iter()
        .map(|p| {
            let chars: Vec<char> = p.piece.chars().collect();
            let n = chars.len();
            let digit_comma = n > 1 && chars[n - 1] == ',' && chars[n - 2].is_numeric();
            let score = f64::from(p.score) - if digit_comma { 100.0 } else { 0.0 };
            json!([p.piece, score])
        })
        .collect();
    let metaspace = json!({"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "always", "split": true});
    let doc = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Replace", "pattern": {"String": "``"}, "content": "\""},
            {"type": "Replace", "pattern": {"String": "''"}, "content": "\""},
            {"type": "NFKD"},
            {"type": "StripAccents"},
            {"type": "Lowercase"},
            {"type": "Precompiled", "precompiled_charsmap": base64::engine::general_purpose::STANDARD.encode(charsmap)},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
            {"type": "Strip", "strip_left": true, "strip_right": true}
        ]},
        "pre_tokenizer": metaspace,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [cls], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [sep], "tokens": ["[SEP]"]}
            }
        },
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": unk, "vocab": vocab, "byte_fallback": false}
    });
    let mut text =
        serde_json::to_string_pretty(&doc).map_err(|e| TokenizerError::Invalid(e.to_string()))?;
    text.push('\n');
    // Validate: `tokenizers` must accept what we write.
    tokenizers::Tokenizer::from_bytes(text.as_bytes()).map_err(|e| {
        TokenizerError::Library(format!("rendered tokenizer.json does not load: {e}"))
    })?;
    Ok(text)
}
