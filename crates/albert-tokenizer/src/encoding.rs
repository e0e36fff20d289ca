//! [`Encoding`]: ids, token types, tokens, offsets and masks of one encoded text or pair, built
//! as ALBERT lays them out (`[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]`), with truncation and
//! padding.

use crate::error::{Result, TokenizerError};

/// One tokenized text before special tokens are added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sequence {
    /// Vocabulary ids.
    pub ids: Vec<u32>,
    /// Token strings.
    pub tokens: Vec<String>,
    /// Byte ranges in the text.
    pub offsets: Vec<(usize, usize)>,
}

impl Sequence {
    /// Appends a token.
    pub fn push(&mut self, id: u32, token: String, span: (usize, usize)) {
        self.ids.push(id);
        self.tokens.push(token);
        self.offsets.push(span);
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn truncate(&mut self, n: usize) {
        self.ids.truncate(n);
        self.tokens.truncate(n);
        self.offsets.truncate(n);
    }
}

/// Which sequence loses tokens when a pair is too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TruncationStrategy {
    /// Remove one token at a time from the longer sequence (the second on ties).
    #[default]
    LongestFirst,
    /// Only truncate the first sequence.
    OnlyFirst,
    /// Only truncate the second sequence.
    OnlySecond,
}

/// How to pad (on the right, with `<pad>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// To the longest encoding of the batch (a single encoding is left as it is).
    Longest,
    /// To this many tokens (longer encodings are left as they are).
    Fixed(usize),
}

/// Encoding options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeOptions {
    /// Maximum total length including `[CLS]`/`[SEP]`, and how to get there.
    pub truncation: Option<(usize, TruncationStrategy)>,
    /// Padding; none by default.
    pub padding: Option<Padding>,
}

/// An encoded text or pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoding {
    /// Vocabulary ids.
    pub ids: Vec<u32>,
    /// Segment ids: 0 through the first `[SEP]`, then 1.
    pub type_ids: Vec<u32>,
    /// Token strings.
    pub tokens: Vec<String>,
    /// `[start, end)` byte offsets into the token's own text (`(0, 0)` for special tokens).
    pub offsets: Vec<(usize, usize)>,
    /// The same offsets in characters (Unicode scalar values).
    pub char_offsets: Vec<(usize, usize)>,
    /// 0 for the text, 1 for the pair text, `None` for special and padding tokens.
    pub sequence_ids: Vec<Option<u8>>,
    /// 1 at `[CLS]`, `[SEP]` and padding.
    pub special_tokens_mask: Vec<u32>,
    /// 1 at real tokens, 0 at padding.
    pub attention_mask: Vec<u32>,
}

/// The tokens an encoding needs besides the text's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub cls: (u32, String),
    pub sep: (u32, String),
    pub pad: (u32, String),
}

fn char_offsets(text: &str, offsets: &[(usize, usize)]) -> Vec<(usize, usize)> {
    // byte index -> char index, for every char boundary and the end.
    let mut index = vec![0usize; text.len() + 1];
    let mut chars = 0;
    for (i, c) in text.char_indices() {
        for k in 0..c.len_utf8() {
            index[i + k] = chars;
        }
        chars += 1;
    }
    index[text.len()] = chars;
    offsets
        .iter()
        .map(|&(s, e)| (index[s.min(text.len())], index[e.min(text.len())]))
        .collect()
}

fn truncate(
    a: &mut Sequence,
    b: Option<&mut Sequence>,
    max_len: usize,
    strategy: TruncationStrategy,
) -> Result<()> {
    let specials = if b.is_some() { 3 } else { 2 };
    let budget = max_len.checked_sub(specials).ok_or_else(|| {
        TokenizerError::Invalid(format!(
            "max length {max_len} leaves no room for the {specials} special tokens"
        ))
    })?;
    let b_len = b.as_ref().map_or(0, |b| b.len());
    if a.len() + b_len <= budget {
        return Ok(());
    }
    match (strategy, b) {
        (TruncationStrategy::LongestFirst, Some(b)) => {
            let (mut na, mut nb) = (a.len(), b.len());
            while na + nb > budget {
                if na > nb { na -= 1 } else { nb -= 1 }
            }
            a.truncate(na);
            b.truncate(nb);
        }
        (TruncationStrategy::OnlySecond, Some(b)) => {
            let keep = budget.checked_sub(a.len()).ok_or_else(|| {
                TokenizerError::Invalid(format!(
                    "only-second truncation: the first text alone has {} tokens, more than {budget}",
                    a.len()
                ))
            })?;
            b.truncate(keep);
        }
        (TruncationStrategy::OnlySecond, None) => {
            return Err(TokenizerError::Invalid(
                "only-second truncation needs a text pair".into(),
            ));
        }
        (_, b) => {
            let b_len = b.map_or(0, |b| b.len());
            let keep = budget.checked_sub(b_len).ok_or_else(|| {
                TokenizerError::Invalid(format!(
                    "only-first truncation: the second text alone has {b_len} tokens, more than {budget}"
                ))
            })?;
            a.truncate(keep);
        }
    }
    Ok(())
}

/// `[CLS] a [SEP] (b [SEP])`, truncated and padded per `options`.
pub(crate) fn assemble(
    template: &Template,
    mut a: Sequence,
    text_a: &str,
    mut b: Option<(Sequence, &str)>,
    options: &EncodeOptions,
) -> Result<Encoding> {
    if let Some((max_len, strategy)) = options.truncation {
        truncate(&mut a, b.as_mut().map(|(s, _)| s), max_len, strategy)?;
    }
    let mut e = Encoding::default();
    let special = |e: &mut Encoding, (id, tok): &(u32, String), type_id: u32| {
        e.ids.push(*id);
        e.type_ids.push(type_id);
        e.tokens.push(tok.clone());
        e.offsets.push((0, 0));
        e.char_offsets.push((0, 0));
        e.sequence_ids.push(None);
        e.special_tokens_mask.push(1);
        e.attention_mask.push(1);
    };
    let body = |e: &mut Encoding, s: Sequence, text: &str, seq: u8| {
        e.char_offsets.extend(char_offsets(text, &s.offsets));
        let n = s.len();
        e.ids.extend(s.ids);
        e.type_ids.extend(std::iter::repeat_n(u32::from(seq), n));
        e.tokens.extend(s.tokens);
        e.offsets.extend(s.offsets);
        e.sequence_ids.extend(std::iter::repeat_n(Some(seq), n));
        e.special_tokens_mask.extend(std::iter::repeat_n(0, n));
        e.attention_mask.extend(std::iter::repeat_n(1, n));
    };
    special(&mut e, &template.cls, 0);
    body(&mut e, a, text_a, 0);
    special(&mut e, &template.sep, 0);
    if let Some((b, text_b)) = b {
        body(&mut e, b, text_b, 1);
        special(&mut e, &template.sep, 1);
    }
    if let Some(Padding::Fixed(n)) = options.padding {
        pad(&mut e, template, n);
    }
    Ok(e)
}

/// Pads `e` on the right to `n` tokens (no-op when already as long).
pub(crate) fn pad(e: &mut Encoding, template: &Template, n: usize) {
    while e.ids.len() < n {
        e.ids.push(template.pad.0);
        e.type_ids.push(0);
        e.tokens.push(template.pad.1.clone());
        e.offsets.push((0, 0));
        e.char_offsets.push((0, 0));
        e.sequence_ids.push(None);
        e.special_tokens_mask.push(1);
        e.attention_mask.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(n: usize) -> Sequence {
        let mut s = Sequence::default();
        for i in 0..n {
            s.push(10 + i as u32, format!("t{i}"), (i, i + 1));
        }
        s
    }

    fn template() -> Template {
        Template {
            cls: (2, "[CLS]".into()),
            sep: (3, "[SEP]".into()),
            pad: (0, "<pad>".into()),
        }
    }

    #[test]
    fn pair_layout_types_and_masks() {
        let e = assemble(
            &template(),
            seq(2),
            "ab",
            Some((seq(1), "c")),
            &EncodeOptions {
                truncation: None,
                padding: Some(Padding::Fixed(8)),
            },
        )
        .expect("encode");
        assert_eq!(e.ids, vec![2, 10, 11, 3, 10, 3, 0, 0]);
        assert_eq!(e.type_ids, vec![0, 0, 0, 0, 1, 1, 0, 0]);
        assert_eq!(e.special_tokens_mask, vec![1, 0, 0, 1, 0, 1, 1, 1]);
        assert_eq!(e.attention_mask, vec![1, 1, 1, 1, 1, 1, 0, 0]);
        assert_eq!(e.sequence_ids[4], Some(1));
    }

    #[test]
    fn truncation_strategies() {
        let opts = |s| EncodeOptions {
            truncation: Some((8, s)),
            padding: None,
        };
        let lens = |e: &Encoding| {
            (
                e.sequence_ids.iter().filter(|s| **s == Some(0)).count(),
                e.sequence_ids.iter().filter(|s| **s == Some(1)).count(),
            )
        };
        let e = assemble(
            &template(),
            seq(6),
            "abcdef",
            Some((seq(4), "wxyz")),
            &opts(TruncationStrategy::LongestFirst),
        )
        .expect("lf");
        assert_eq!(lens(&e), (3, 2));
        let e = assemble(
            &template(),
            seq(6),
            "abcdef",
            Some((seq(4), "wxyz")),
            &opts(TruncationStrategy::OnlyFirst),
        )
        .expect("of");
        assert_eq!(lens(&e), (1, 4));
        let err = assemble(
            &template(),
            seq(6),
            "abcdef",
            Some((seq(4), "wxyz")),
            &opts(TruncationStrategy::OnlySecond),
        )
        .unwrap_err();
        assert!(err.to_string().contains("only-second"));
        let e = assemble(
            &template(),
            seq(10),
            "abcdefghij",
            None,
            &opts(TruncationStrategy::LongestFirst),
        )
        .expect("single");
        assert_eq!(e.ids.len(), 8);
    }

    #[test]
    fn char_offsets_count_characters() {
        assert_eq!(char_offsets("é a", &[(0, 2), (3, 4)]), vec![(0, 1), (2, 3)]);
    }
}
