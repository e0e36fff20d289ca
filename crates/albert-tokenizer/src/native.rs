//! The ALBERT tokenizer on a native `spiece.model`, step for step as the original
//! `tokenization.py` and HF's slow `AlbertTokenizer`:
//! 1. special tokens written in the text (`[CLS]`, `[SEP]`, `[MASK]`, `<pad>`, `<unk>`) are split
//!    off and keep their ids (`[MASK]` strips the whitespace before it);
//! 2. every other chunk is preprocessed ([`crate::preprocess`]) and segmented by SentencePiece;
//! 3. a piece longer than one character that ends in a digit and `,` is re-encoded without the
//!    comma and the comma appended as its own piece (`▁9,` → `▁9` `,`).

use crate::encoding::Sequence;
use crate::error::{Result, TokenizerError};
use crate::normalizer::SPACE_SYMBOL;
use crate::preprocess::{preprocess, py_isspace};
use crate::spm::SentencePieceModel;

/// Ids of ALBERT's special tokens, read from the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialIds {
    /// `<pad>`.
    pub pad: u32,
    /// `<unk>`.
    pub unk: u32,
    /// `[CLS]`.
    pub cls: u32,
    /// `[SEP]`.
    pub sep: u32,
    /// `[MASK]`.
    pub mask: u32,
}

/// The special tokens' texts, in id-lookup order.
pub const SPECIAL_TOKENS: [&str; 5] = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"];

impl SpecialIds {
    /// Looks the five special tokens up with `lookup`; all must exist.
    pub fn find(lookup: impl Fn(&str) -> Option<u32>) -> Result<Self> {
        let get = |t: &str| {
            lookup(t)
                .ok_or_else(|| TokenizerError::Invalid(format!("the vocabulary has no {t} token")))
        };
        Ok(Self {
            pad: get("<pad>")?,
            unk: get("<unk>")?,
            cls: get("[CLS]")?,
            sep: get("[SEP]")?,
            mask: get("[MASK]")?,
        })
    }

    /// `(text, id, strips whitespace on its left)` for each special token.
    fn table(&self) -> [(&'static str, u32, bool); 5] {
        [
            ("<pad>", self.pad, false),
            ("<unk>", self.unk, false),
            ("[CLS]", self.cls, false),
            ("[SEP]", self.sep, false),
            ("[MASK]", self.mask, true),
        ]
    }
}

/// ALBERT's tokenizer on a SentencePiece model.
#[derive(Debug, Clone)]
pub struct NativeTokenizer {
    spm: SentencePieceModel,
    specials: SpecialIds,
    lower_case: bool,
}

/// Splits `text` at special tokens: `(byte range, Some(id))` for a special token, `(range,
/// None)` for the text between. The text before an lstrip token loses its trailing whitespace.
fn split_specials(
    text: &str,
    table: &[(&'static str, u32, bool)],
) -> Vec<((usize, usize), Option<u32>)> {
    let mut out: Vec<((usize, usize), Option<u32>)> = Vec::new();
    let mut chunk_start = 0;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let hit = table
            .iter()
            .filter(|(t, _, _)| rest.starts_with(t))
            .max_by_key(|(t, _, _)| t.len());
        if let Some(&(t, id, lstrip)) = hit {
            let mut end = i;
            if lstrip {
                end = chunk_start + text[chunk_start..i].trim_end_matches(py_isspace).len();
            }
            if end > chunk_start {
                out.push(((chunk_start, end), None));
            }
            out.push(((i, i + t.len()), Some(id)));
            i += t.len();
            chunk_start = i;
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    if chunk_start < text.len() {
        out.push(((chunk_start, text.len()), None));
    }
    out
}

fn is_py_digit(c: char) -> bool {
    c.is_numeric()
}

impl NativeTokenizer {
    /// ALBERT's tokenizer (lower-casing) on `spm`.
    pub fn new(spm: SentencePieceModel) -> Result<Self> {
        let specials = SpecialIds::find(|t| {
            let id = spm.piece_to_id(t);
            (spm.id_to_piece(id) == Some(t)).then_some(id)
        })?;
        Ok(Self {
            spm,
            specials,
            lower_case: true,
        })
    }

    /// The SentencePiece model.
    pub fn model(&self) -> &SentencePieceModel {
        &self.spm
    }

    /// The special tokens' ids.
    pub fn specials(&self) -> SpecialIds {
        self.specials
    }

    /// Tokenizes one text (no `[CLS]`/`[SEP]` added), with byte offsets into `text`.
    pub fn tokenize(&self, text: &str) -> Sequence {
        let mut seq = Sequence::default();
        for ((start, end), special) in split_specials(text, &self.specials.table()) {
            if let Some(id) = special {
                seq.push(id, self.piece(id), (start, end));
                continue;
            }
            let chunk = &text[start..end];
            let pre = preprocess(chunk, self.lower_case);
            for piece in self.spm.encode(&pre.text) {
                let (a, b) = piece.span;
                let chars: Vec<char> = piece.text.chars().collect();
                let n = chars.len();
                if n > 1 && chars[n - 1] == ',' && is_py_digit(chars[n - 2]) {
                    self.split_digit_comma(&piece.text, (a, b), &pre, chunk.len(), start, &mut seq);
                    continue;
                }
                let (s, e) = pre.input_span(a, b, chunk.len());
                seq.push(piece.id, self.piece(piece.id), (start + s, start + e));
            }
        }
        seq
    }

    /// `▁12,` → `▁12` `,` (HF `AlbertTokenizer._tokenize`).
    fn split_digit_comma(
        &self,
        piece: &str,
        (a, b): (usize, usize),
        pre: &crate::preprocess::Preprocessed,
        chunk_len: usize,
        chunk_start: usize,
        seq: &mut Sequence,
    ) {
        let body = &piece[..piece.len() - 1];
        let mut subs: Vec<String> = self
            .spm
            .encode(&body.replace(SPACE_SYMBOL, ""))
            .into_iter()
            .map(|p| p.text)
            .collect();
        if !piece.starts_with(SPACE_SYMBOL)
            && let Some(first) = subs.first_mut()
            && first.starts_with(SPACE_SYMBOL)
        {
            if first.as_str() == SPACE_SYMBOL {
                subs.remove(0);
            } else {
                *first = first[SPACE_SYMBOL.len()..].to_string();
            }
        }
        subs.push(",".to_string());
        // Offsets: the comma is the last preprocessed character of the piece; the re-encoded
        // pieces take the characters before it in order.
        let comma_start = pre.text[a..b]
            .char_indices()
            .last()
            .map_or(b, |(i, _)| a + i);
        let mut pos = a;
        let count = subs.len();
        for (k, sub) in subs.into_iter().enumerate() {
            let id = self.spm.piece_to_id(&sub);
            let (s, e) = if k + 1 == count {
                (comma_start, b)
            } else {
                let chars = sub.trim_start_matches(SPACE_SYMBOL).chars().count();
                let end = pre.text[pos..comma_start]
                    .char_indices()
                    .nth(chars)
                    .map_or(comma_start, |(i, _)| pos + i);
                let span = (pos, end);
                pos = end;
                span
            };
            let (s, e) = pre.input_span(s, e, chunk_len);
            seq.push(id, self.piece(id), (chunk_start + s, chunk_start + e));
        }
    }

    fn piece(&self, id: u32) -> String {
        self.spm.id_to_piece(id).unwrap_or_default().to_string()
    }

    /// Text of `ids` (pieces joined, `▁` as space), optionally without special tokens.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> String {
        let specials = [
            self.specials.pad,
            self.specials.cls,
            self.specials.sep,
            self.specials.mask,
            self.specials.unk,
        ];
        let mut out = String::new();
        for &id in ids {
            if skip_special_tokens && specials[..4].contains(&id) {
                continue;
            }
            if let Some(p) = self.spm.id_to_piece(id) {
                out.push_str(p);
            }
        }
        out.replace(SPACE_SYMBOL, " ").trim_start().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_specials_and_lstrips_mask() {
        let table = [("[MASK]", 4, true), ("[CLS]", 2, false)];
        let text = "a  [MASK] b[CLS]";
        let parts = split_specials(text, &table);
        assert_eq!(
            parts,
            vec![
                ((0, 1), None),
                ((3, 9), Some(4)),
                ((9, 11), None),
                ((11, 16), Some(2))
            ]
        );
    }
}
