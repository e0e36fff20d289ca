//! # albert-tokenizer
//!
//! ALBERT's SentencePiece unigram tokenizer, without burn and without Python:
//! - [`SentencePieceModel`]: `spiece.model` read natively (a small protobuf codec, the
//!   precompiled normalisation rules, the unigram Viterbi of `sentencepiece`);
//! - [`AlbertTokenizer`]: ALBERT's full pipeline on top — from a `spiece.model` it gives exactly
//!   the ids of HF's slow `AlbertTokenizer` (the original `tokenization.py`: whitespace
//!   collapse, ``` `` ```/`''` → `"`, NFKD without accents, lower-casing, the digit-comma
//!   re-split); from a `tokenizer.json` exactly HF's fast tokenizer (through the `tokenizers`
//!   crate). Both add `[CLS] A [SEP] (B [SEP])`, token types, offsets (bytes and characters),
//!   masks, truncation and padding;
//! - [`train`](mod@train) (feature `train`, on by default): a unigram vocabulary trained from text
//!   files, written as `spiece.model`. Without the feature the crate only reads and encodes
//!   (no C++ build, no progress bar).
//!
//! ```no_run
//! use albert_tokenizer::{AlbertTokenizer, EncodeOptions};
//!
//! # fn main() -> albert_tokenizer::Result<()> {
//! let tok = AlbertTokenizer::from_path("model_dir")?; // spiece.model or tokenizer.json inside
//! let e = tok.encode("Hello, world!", Some("Second segment."), &EncodeOptions::default())?;
//! println!("{:?} {:?}", e.ids, e.type_ids);
//! # Ok(()) }
//! ```

mod charsmap;
mod encoding;
mod error;
mod fast;
pub mod lines;
mod native;
mod normalizer;
pub mod preprocess;
pub mod proto;
mod spm;
#[cfg(feature = "train")]
mod tokenizer_json;
#[cfg(feature = "train")]
pub mod train;
mod unigram;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use encoding::{EncodeOptions, Encoding, Padding, Sequence, TruncationStrategy};
pub use error::{Result, TokenizerError};
pub use fast::FastTokenizer;
pub use native::{NativeTokenizer, SPECIAL_TOKENS, SpecialIds};
pub use normalizer::{Normalized, Normalizer, SPACE_SYMBOL};
pub use spm::{SentencePieceModel, SpmPiece};
#[cfg(feature = "train")]
pub use train::{TrainedVocabulary, TrainerConfig, train};

use encoding::{Template, assemble, pad};

/// Which implementation an [`AlbertTokenizer`] runs. (One lives per tokenizer, so the size
/// difference between variants does not matter.)
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Backend {
    /// `spiece.model`, native: HF slow / original `tokenization.py` behaviour.
    SentencePiece(NativeTokenizer),
    /// `tokenizer.json` through `tokenizers`: HF fast behaviour.
    TokenizerJson(FastTokenizer),
}

/// ALBERT's tokenizer from either model format.
///
/// ```
/// use albert_tokenizer::{AlbertTokenizer, EncodeOptions, Padding, TruncationStrategy};
///
/// # fn main() -> albert_tokenizer::Result<()> {
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/albert-mini-mixed");
/// let tok = AlbertTokenizer::from_path(dir)?;
/// let e = tok.encode("Hello, world!", Some("Bye."), &EncodeOptions::default())?;
/// let special = tok.special_ids();
/// assert_eq!((e.ids[0], *e.ids.last().unwrap()), (special.cls, special.sep));
/// assert_eq!(e.type_ids.last(), Some(&1)); // the pair's segment
/// assert_eq!(tok.decode(&e.ids, true)?, "hello, world! bye.");
/// // Truncated to 6 tokens (specials included), padded to 8.
/// let options = EncodeOptions {
///     truncation: Some((6, TruncationStrategy::LongestFirst)),
///     padding: Some(Padding::Fixed(8)),
/// };
/// let e = tok.encode("a rather long first segment of text", Some("and more"), &options)?;
/// assert_eq!(e.ids.len(), 8);
/// assert_eq!(e.attention_mask.iter().sum::<u32>(), 6);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AlbertTokenizer {
    backend: Backend,
    specials: SpecialIds,
    template: Template,
}

impl AlbertTokenizer {
    /// Loads `spiece.model`, `tokenizer.json`, or a directory holding either (`spiece.model`
    /// is preferred when both are there). Files are recognised by their extension (`.model`,
    /// `.json`).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if path.is_dir() {
            for name in ["spiece.model", "tokenizer.json"] {
                let candidate = path.join(name);
                if candidate.is_file() {
                    return Self::from_path(candidate);
                }
            }
            return Err(TokenizerError::Invalid(format!(
                "{}: no spiece.model or tokenizer.json in this directory",
                path.display()
            )));
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                Self::from_backend(Backend::TokenizerJson(FastTokenizer::from_file(path)?))
            }
            Some("model") => Self::from_spm(SentencePieceModel::from_file(path)?),
            _ => {
                if !path.exists() {
                    return Err(TokenizerError::io(
                        path,
                        std::io::Error::from(std::io::ErrorKind::NotFound),
                    ));
                }
                Err(TokenizerError::Invalid(format!(
                    "{}: expected a spiece.model (.model), a tokenizer.json (.json) or a directory",
                    path.display()
                )))
            }
        }
    }

    /// ALBERT's tokenizer on a SentencePiece model.
    pub fn from_spm(model: SentencePieceModel) -> Result<Self> {
        Self::from_backend(Backend::SentencePiece(NativeTokenizer::new(model)?))
    }

    /// Wraps a backend, looking up the special tokens in its vocabulary.
    pub fn from_backend(backend: Backend) -> Result<Self> {
        let specials = match &backend {
            Backend::SentencePiece(n) => n.specials(),
            Backend::TokenizerJson(f) => SpecialIds::find(|t| f.token_to_id(t))?,
        };
        let token = |id: u32| -> String {
            match &backend {
                Backend::SentencePiece(n) => {
                    n.model().id_to_piece(id).unwrap_or_default().to_string()
                }
                Backend::TokenizerJson(f) => f.id_to_token(id).unwrap_or_default(),
            }
        };
        let template = Template {
            cls: (specials.cls, token(specials.cls)),
            sep: (specials.sep, token(specials.sep)),
            pad: (specials.pad, token(specials.pad)),
        };
        Ok(Self {
            backend,
            specials,
            template,
        })
    }

    /// The implementation in use.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The special tokens' ids.
    pub fn special_ids(&self) -> SpecialIds {
        self.specials
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        match &self.backend {
            Backend::SentencePiece(n) => n.model().vocab_size(),
            Backend::TokenizerJson(f) => f.vocab_size(),
        }
    }

    /// The token string of an id (the SentencePiece piece, `▁` included).
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        match &self.backend {
            Backend::SentencePiece(n) => n.model().id_to_piece(id).map(str::to_string),
            Backend::TokenizerJson(f) => f.id_to_token(id),
        }
    }

    /// Tokenizes one text without special tokens.
    pub fn tokenize(&self, text: &str) -> Result<Sequence> {
        match &self.backend {
            Backend::SentencePiece(n) => Ok(n.tokenize(text)),
            Backend::TokenizerJson(f) => f.tokenize(text),
        }
    }

    /// Encodes a text, or a pair, as ALBERT's input.
    pub fn encode(
        &self,
        text: &str,
        pair: Option<&str>,
        options: &EncodeOptions,
    ) -> Result<Encoding> {
        let a = self.tokenize(text)?;
        let b = match pair {
            Some(p) => Some((self.tokenize(p)?, p)),
            None => None,
        };
        assemble(&self.template, a, text, b, options)
    }

    /// Encodes many inputs in parallel (rayon), in order; [`Padding::Longest`] pads to the
    /// longest of the batch.
    pub fn encode_batch(
        &self,
        inputs: &[(String, Option<String>)],
        options: &EncodeOptions,
    ) -> Result<Vec<Encoding>> {
        let mut out = inputs
            .par_iter()
            .map(|(text, pair)| self.encode(text, pair.as_deref(), options))
            .collect::<Result<Vec<_>>>()?;
        if options.padding == Some(Padding::Longest) {
            let longest = out.iter().map(|e| e.ids.len()).max().unwrap_or(0);
            for e in &mut out {
                pad(e, &self.template, longest);
            }
        }
        Ok(out)
    }

    /// Text of `ids`.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        match &self.backend {
            Backend::SentencePiece(n) => Ok(n.decode(ids, skip_special_tokens)),
            Backend::TokenizerJson(f) => f.decode(ids, skip_special_tokens),
        }
    }
}

/// `path/name` when `path` is a directory, else `path` (used by the CLI and the trainer).
pub fn resolve_in_dir(path: &Path, name: &str) -> PathBuf {
    if path.is_dir() {
        path.join(name)
    } else {
        path.to_path_buf()
    }
}

// The README's examples compile (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
