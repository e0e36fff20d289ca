//! ALBERT's text preprocessing (`tokenization.py` `preprocess_text`, HF
//! `AlbertTokenizer.preprocess_text`): strip and collapse whitespace, ` `` ` and `''` → `"`,
//! NFKD then drop combining marks, lower-case. Each output character remembers the byte range
//! of the input character it came from, so offsets can be reported in the original text.

use unicode_normalization::char::{canonical_combining_class, decompose_compatible};

/// Python's `str.isspace()`: Unicode White_Space plus the separators U+001C..U+001F.
pub fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Preprocessed text with, per output byte, the input byte range of its source character.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preprocessed {
    /// The text handed to SentencePiece.
    pub text: String,
    /// For each byte of `text`: the `[start, end)` input bytes of the character it came from.
    pub source: Vec<(usize, usize)>,
}

impl Preprocessed {
    /// The input byte range covered by `text[start..end]` (an empty range at `start`'s source
    /// when `start == end`).
    pub fn input_span(&self, start: usize, end: usize, input_len: usize) -> (usize, usize) {
        let at = |i: usize| self.source.get(i).map_or(input_len, |s| s.0);
        if end <= start {
            let p = at(start);
            return (p, p);
        }
        let first = at(start);
        let last = self.source.get(end - 1).map_or(input_len, |s| s.1);
        (first, last.max(first))
    }
}

/// Runs ALBERT's preprocessing on `input` (lower-casing when `lower_case`).
pub fn preprocess(input: &str, lower_case: bool) -> Preprocessed {
    // 1. " ".join(text.strip().split()): whitespace runs become one space.
    let mut chars: Vec<(char, usize, usize)> = Vec::with_capacity(input.len());
    let mut pending_space: Option<(usize, usize)> = None;
    for (i, c) in input.char_indices() {
        let span = (i, i + c.len_utf8());
        if py_isspace(c) {
            if pending_space.is_none() {
                pending_space = Some(span);
            }
            continue;
        }
        if let Some(s) = pending_space.take()
            && !chars.is_empty()
        {
            chars.push((' ', s.0, s.1));
        }
        chars.push((c, span.0, span.1));
    }
    // 2. `` and '' become " (two passes, like the two str.replace calls).
    for quote in ['`', '\''] {
        let mut out = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            if chars[i].0 == quote && chars.get(i + 1).is_some_and(|n| n.0 == quote) {
                out.push(('"', chars[i].1, chars[i + 1].2));
                i += 2;
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        chars = out;
    }
    // 3. NFKD, dropping combining marks (canonical combining class != 0).
    let mut decomposed = Vec::with_capacity(chars.len());
    for &(c, s, e) in &chars {
        decompose_compatible(c, |d| {
            if canonical_combining_class(d) == 0 {
                decomposed.push((d, s, e));
            }
        });
    }
    // 4. Lower-case with full Unicode rules (final sigma needs the whole string).
    let mut text = String::with_capacity(decomposed.len());
    let mut source = Vec::with_capacity(decomposed.len());
    if lower_case {
        let whole: String = decomposed.iter().map(|x| x.0).collect();
        let mut lowered = whole.to_lowercase().chars().collect::<Vec<_>>().into_iter();
        for &(c, s, e) in &decomposed {
            for _ in c.to_lowercase() {
                if let Some(l) = lowered.next() {
                    text.push(l);
                    source.extend(std::iter::repeat_n((s, e), l.len_utf8()));
                }
            }
        }
    } else {
        for &(c, s, e) in &decomposed {
            text.push(c);
            source.extend(std::iter::repeat_n((s, e), c.len_utf8()));
        }
    }
    Preprocessed { text, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_preprocess_text() {
        // " ".join(s.strip().split()).replace("``", '"').replace("''", '"'), NFKD, no marks, lower
        let cases = [
            ("  Héllo\t\nWORLD  ", "hello world"),
            ("``quoted'' and '''", "\"quoted\" and \"'"),
            ("ﬁne Ｆｕｌｌ ½", "fine full 1⁄2"),
            ("ΟΔΟΣ ΣΑΣ", "οδος σας"),
            ("a\u{1c}b\u{a0}c", "a b c"),
            ("", ""),
            (" \t ", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(preprocess(input, true).text, expected, "{input:?}");
        }
    }

    #[test]
    fn spans_point_into_the_original() {
        let input = "  Café  X";
        let p = preprocess(input, true);
        assert_eq!(p.text, "cafe x");
        // "e" comes from "é" (bytes 5..7), the space from the whitespace run start (7..8).
        assert_eq!(p.input_span(3, 4, input.len()), (5, 7));
        assert_eq!(p.input_span(0, 4, input.len()), (2, 7));
        assert_eq!(p.input_span(4, 5, input.len()), (7, 8));
        assert_eq!(&input[p.input_span(5, 6, input.len()).0..], "X");
    }
}
