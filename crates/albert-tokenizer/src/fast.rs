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
        let inner =
            tokenizers::Tokenizer::from_bytes(bytes).map_err(|e| TokenizerError::Corrupt {
                path: source.to_path_buf(),
                what: "tokenizer.json",
                message: e.to_string(),
            })?;
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
        let e = self
            .inner
            .encode(text, false)
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
