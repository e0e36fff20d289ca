//! Reading and tokenizing a pretraining corpus: plain or `.gz` text, one sentence or paragraph
//! per line, a blank line between documents (the format of `../shared/data/pretrain`).

use std::path::PathBuf;

use albert_tokenizer::lines::for_each_line;
use albert_tokenizer::{AlbertTokenizer, SpecialIds};
use rayon::prelude::*;

use super::sentences::split_sentences;
use crate::error::{PretrainError, Result};

/// A document: its segments (sentences or lines), each a list of token ids.
pub type Document = Vec<Vec<u32>>;

/// Documents as raw text: a list of documents, each a list of lines.
pub type TextDocuments = Vec<Vec<String>>;

/// Reads `files` into documents of lines. Blank (whitespace-only) lines separate documents;
/// a file boundary also ends a document. Errors name the file and line.
pub fn read_documents(files: &[PathBuf]) -> Result<TextDocuments> {
    let mut docs: TextDocuments = Vec::new();
    for path in files {
        docs.push(Vec::new());
        for_each_line(path, |_, line| {
            let line = line.trim();
            if line.is_empty() {
                docs.push(Vec::new());
            } else if let Some(doc) = docs.last_mut() {
                doc.push(line.to_string());
            }
            Ok::<(), PretrainError>(())
        })?;
    }
    docs.retain(|d| !d.is_empty());
    Ok(docs)
}

/// Counts describing a tokenized corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CorpusStats {
    /// Documents kept (non-empty after tokenization).
    pub documents: usize,
    /// Segments (sentences or lines).
    pub segments: usize,
    /// Tokens.
    pub tokens: usize,
}

/// A tokenized corpus plus what instance creation needs to know about the vocabulary.
#[derive(Debug, Clone)]
pub struct TokenizedCorpus {
    /// Documents of segments of token ids.
    pub documents: Vec<Document>,
    /// Per vocabulary id: does the piece start a word (`create_pretraining_data.py`
    /// `_is_start_piece_sp`)?
    pub word_start: Vec<bool>,
    /// The special tokens' ids.
    pub specials: SpecialIds,
}

/// The punctuation set of the original's `_is_start_piece_sp` (it has no `'`, `<`, `=`, `>`).
const SPECIAL_PIECES: &str = "!\"#$%&()*+,-./:;?@[\\]^_`{|}~";

/// The original's word-start rule for SentencePiece pieces: a piece starts a word when it
/// begins with `▁` or `<`, is one of its punctuation characters, or contains a character that
/// is neither an ASCII letter nor one of them (digits, `'` and non-Latin text always start).
pub fn is_start_piece(piece: &str) -> bool {
    let special = |c: char| SPECIAL_PIECES.contains(c);
    piece.starts_with('\u{2581}')
        || piece.starts_with('<')
        || (piece.chars().count() == 1 && piece.chars().all(special))
        || !piece.chars().all(|c| {
            c.to_lowercase()
                .all(|l| l.is_ascii_lowercase() || special(l))
        })
}

impl TokenizedCorpus {
    /// Tokenizes documents of lines (in parallel; the result does not depend on thread count).
    /// With `split` each line is first cut into sentences.
    pub fn tokenize(
        docs: &TextDocuments,
        tokenizer: &AlbertTokenizer,
        split: bool,
    ) -> Result<Self> {
        let documents: Vec<Document> = docs
            .par_iter()
            .map(|doc| -> Result<Document> {
                let mut segments = Vec::new();
                for line in doc {
                    let parts: Vec<&str> = if split {
                        split_sentences(line)
                    } else {
                        vec![line.as_str()]
                    };
                    for part in parts {
                        let ids = tokenizer.tokenize(part)?.ids;
                        if !ids.is_empty() {
                            segments.push(ids);
                        }
                    }
                }
                Ok(segments)
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|d| !d.is_empty())
            .collect();
        if documents.is_empty() {
            return Err(PretrainError::Corpus("no document has any token".into()));
        }
        let word_start = (0..tokenizer.vocab_size() as u32)
            .map(|id| tokenizer.id_to_token(id).is_none_or(|p| is_start_piece(&p)))
            .collect();
        Ok(Self {
            documents,
            word_start,
            specials: tokenizer.special_ids(),
        })
    }

    /// Reads and tokenizes `files`.
    pub fn from_files(files: &[PathBuf], tokenizer: &AlbertTokenizer, split: bool) -> Result<Self> {
        let docs = read_documents(files)?;
        if docs.is_empty() {
            return Err(PretrainError::Corpus(format!(
                "no text in {}",
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Self::tokenize(&docs, tokenizer, split)
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.word_start.len()
    }

    /// Counts.
    pub fn stats(&self) -> CorpusStats {
        CorpusStats {
            documents: self.documents.len(),
            segments: self.documents.iter().map(Vec::len).sum(),
            tokens: self.documents.iter().flatten().map(Vec::len).sum(),
        }
    }

    /// Splits off every `every`-th document (the first of each block of `every`) as held-out
    /// data: `(train, held_out)`. Deterministic; needs at least two documents.
    pub fn split_held_out(mut self, every: usize) -> Result<(Self, Self)> {
        if self.documents.len() < 2 || every < 2 {
            return Err(PretrainError::Corpus(format!(
                "cannot hold out documents: {} document(s), every {every}",
                self.documents.len()
            )));
        }
        let (mut train, mut held) = (Vec::new(), Vec::new());
        for (i, d) in std::mem::take(&mut self.documents).into_iter().enumerate() {
            if i % every == 0 {
                held.push(d)
            } else {
                train.push(d)
            }
        }
        if train.is_empty() {
            return Err(PretrainError::Corpus(
                "no training document left after holding out".into(),
            ));
        }
        let held_out = Self {
            documents: held,
            ..self.clone()
        };
        self.documents = train;
        Ok((self, held_out))
    }

    /// Path-free constructor for tests and tools: documents already tokenized.
    pub fn from_documents(
        documents: Vec<Document>,
        word_start: Vec<bool>,
        specials: SpecialIds,
    ) -> Self {
        Self {
            documents,
            word_start,
            specials,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_start_rule_matches_the_original() {
        for (piece, start) in [
            ("▁the", true),
            ("<unk>", true),
            (",", true),
            ("ing", false),
            ("'s", true),
            ("s,", false),
            ("12", true),
            ("é", true),
            ("ab-c", false),
        ] {
            assert_eq!(is_start_piece(piece), start, "{piece}");
        }
    }

    #[test]
    fn documents_split_on_blank_lines_and_utf8_errors_name_the_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("c.txt");
        std::fs::write(&p, "a b\nc\n\n \nd\n").expect("write");
        assert_eq!(
            read_documents(std::slice::from_ref(&p)).expect("read"),
            vec![vec!["a b", "c"], vec!["d"]]
        );
        std::fs::write(&p, b"ok\n\xff\n").expect("write");
        let err = read_documents(&[p]).unwrap_err().to_string();
        assert!(err.ends_with("c.txt:2: invalid UTF-8"), "{err}");
    }
}
