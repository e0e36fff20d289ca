//! Task data readers: GLUE-style TSV ([`tsv`]) and the same layouts as CSV or JSON lines
//! ([`table`]), SQuAD v1.1/v2.0 JSON ([`squad`]), RACE JSON
//! ([`race`]) and CoNLL-style token tagging ([`conll`]). Files may be gzip-compressed (`.gz`).
//! Every error names the file and, where there is one, the line.

pub mod conll;
pub mod race;
pub mod squad;
pub mod table;
pub mod tsv;

use std::io::Read;
use std::path::Path;

use crate::error::{HeadsError, Result};

/// The whole text of `path` (gunzipped when it ends in `.gz`), checked to be UTF-8 (the error
/// names the line of the first invalid byte) and not empty.
pub fn read_text(path: &Path) -> Result<String> {
    let raw = std::fs::read(path).map_err(|e| HeadsError::data(path, None, e.to_string()))?;
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| HeadsError::data(path, None, format!("not valid gzip: {e}")))?;
        out
    } else {
        raw
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        HeadsError::data(path, Some(line), "invalid UTF-8")
    })?;
    if text.trim().is_empty() {
        return Err(HeadsError::data(path, None, "the file is empty"));
    }
    Ok(text)
}

/// 1-based line of byte offset `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses JSON, turning syntax errors into file:line errors.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| HeadsError::data(path, Some(e.line()), format!("invalid JSON: {e}")))
}
