//! `tokenizer.json` through the `tokenizers` library: exactly HF's fast tokenizer.

use std::path::Path;

use crate::encoding::Sequence;
use crate::error::{Result, TokenizerError};

/// A `tokenizer.json` model.
#[derive(Debug, Clone)]
pub struct FastTokenizer {
    inner: tokenizers::Tokenizer,
}

impl FastTokenizer {
    /// Reads a `tokenizer.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| TokenizerError::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses `tokenizer.json` bytes; `source` names them in errors.
    pub fn from_bytes(bytes: &[u8], source: &Path) -> Result<Self> {
        let corrupt = |message: String| TokenizerError::Corrupt {
            path: source.to_path_buf(),
            what: "tokenizer.json",
            message,
        };
        // `tokenizers` panics (`expect("Precompiled")`) on a charsmap that is not base64, as
        // fuzzing found: check those first, and turn any other panic of its reader into the
        // same error.
        check_precompiled_charsmaps(bytes).map_err(corrupt)?;
        let inner = std::panic::catch_unwind(|| tokenizers::Tokenizer::from_bytes(bytes))
            .map_err(|_| corrupt("the tokenizers library failed while reading it".into()))?
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(Self { inner })
    }

    /// Wraps a `tokenizers` tokenizer.
    pub fn from_tokenizer(inner: tokenizers::Tokenizer) -> Self {
        Self { inner }
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Tokenizes one text without special tokens; offsets are bytes into `text`.
    pub fn tokenize(&self, text: &str) -> Result<Sequence> {
        // A corrupt normaliser trie makes `tokenizers` index out of bounds: an error, not a
        // crash of the caller.
        let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.inner.encode(text, false)
        }))
        .map_err(|_| TokenizerError::Library("the tokenizers library failed on this text".into()))?
        .map_err(|e| TokenizerError::Library(e.to_string()))?;
        Ok(Sequence {
            ids: e.get_ids().to_vec(),
            tokens: e.get_tokens().to_vec(),
            offsets: e.get_offsets().to_vec(),
        })
    }

    /// The id of a token.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The token of an id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Decodes ids.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| TokenizerError::Library(e.to_string()))
    }
}

/// Every `{"type": "Precompiled", "precompiled_charsmap": …}` normaliser in a `tokenizer.json`
/// must hold base64 (what `tokenizers` assumes without checking). Bytes that are not JSON pass:
/// `tokenizers` reports those itself.
fn check_precompiled_charsmaps(bytes: &[u8]) -> std::result::Result<(), String> {
    use base64::Engine as _;
    fn walk(v: &serde_json::Value) -> std::result::Result<(), String> {
        match v {
            serde_json::Value::Object(o) => {
                if o.get("type").and_then(serde_json::Value::as_str) == Some("Precompiled") {
                    let map = o
                        .get("precompiled_charsmap")
                        .and_then(serde_json::Value::as_str)
                        .ok_or("a Precompiled normalizer without a precompiled_charsmap string")?;
                    let blob = base64::engine::general_purpose::STANDARD
                        .decode(map)
                        .map_err(|e| format!("precompiled_charsmap is not base64: {e}"))?;
                    // What `spm_precompiled::Precompiled::from` needs (it fails with a panic
                    // in `tokenizers` otherwise): the layout our own reader checks, not empty,
                    // replacements in UTF-8.
                    if blob.is_empty() {
                        return Err("precompiled_charsmap is empty".into());
                    }
                    let map = crate::charsmap::CharsMap::parse(&blob)
                        .map_err(|e| format!("precompiled_charsmap: {e}"))?;
                    std::str::from_utf8(map.replacements())
                        .map_err(|_| "precompiled_charsmap's replacements are not UTF-8")?;
                }
                o.values().try_for_each(walk)
            }
            serde_json::Value::Array(a) => a.iter().try_for_each(walk),
            _ => Ok(()),
        }
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v) => walk(&v),
        Err(_) => Ok(()),
    }
}
