//! SentencePiece's normaliser (`normalizer.cc`): user-defined symbols pass through untouched,
//! everything else goes through the precompiled rules (longest match first); leading and
//! trailing whitespace is dropped and runs collapsed; spaces become `▁`; a dummy `▁` is
//! prepended. Every output byte remembers the input byte offset it came from, for offsets.

use std::collections::HashSet;

use crate::charsmap::CharsMap;
use crate::proto::NormalizerSpec;

/// `▁` (U+2581), SentencePiece's whitespace marker.
pub const SPACE_SYMBOL: &str = "\u{2581}";

/// A configured normaliser.
#[derive(Debug, Clone)]
pub struct Normalizer {
    charsmap: CharsMap,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
    treat_whitespace_as_suffix: bool,
    user_defined: HashSet<String>,
    max_user_defined_len: usize,
}

/// Normalised text and, for each of its bytes plus one past the end, the input byte offset it
/// came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Normalized {
    /// The normalised text.
    pub text: String,
    /// `text.len() + 1` input offsets (empty when `text` is empty).
    pub to_input: Vec<usize>,
}

impl Normalizer {
    /// A normaliser from a model's spec. `user_defined` are the model's user-defined symbols.
    pub fn new(
        spec: &NormalizerSpec,
        treat_whitespace_as_suffix: bool,
        user_defined: impl IntoIterator<Item = String>,
    ) -> Result<Self, String> {
        let user_defined: HashSet<String> =
            user_defined.into_iter().filter(|s| !s.is_empty()).collect();
        Ok(Self {
            charsmap: CharsMap::parse(&spec.precompiled_charsmap)?,
            add_dummy_prefix: spec.add_dummy_prefix,
            remove_extra_whitespaces: spec.remove_extra_whitespaces,
            escape_whitespaces: spec.escape_whitespaces,
            treat_whitespace_as_suffix,
            max_user_defined_len: user_defined.iter().map(String::len).max().unwrap_or(0),
            user_defined,
        })
    }

    /// The normalised form of the longest prefix rule at the start of `input`, and how many
    /// input bytes it consumed.
    fn normalize_prefix<'a>(&'a self, input: &'a str) -> (&'a str, usize) {
        if self.max_user_defined_len > 0 {
            let longest = (1..=self.max_user_defined_len.min(input.len()))
                .rev()
                .filter(|&n| input.is_char_boundary(n))
                .find(|&n| self.user_defined.contains(&input[..n]));
            if let Some(n) = longest {
                return (&input[..n], n);
            }
        }
        if let Some((n, replacement)) = self.charsmap.longest_match(input.as_bytes())
            && input.is_char_boundary(n)
        {
            return (replacement, n);
        }
        let n = input.chars().next().map_or(0, char::len_utf8);
        (&input[..n], n)
    }

    /// Normalises `input`.
    pub fn normalize(&self, input: &str) -> Normalized {
        let mut rest = input;
        let mut consumed = 0;
        if self.remove_extra_whitespaces {
            while !rest.is_empty() {
                let (piece, n) = self.normalize_prefix(rest);
                if piece != " " {
                    break;
                }
                rest = &rest[n..];
                consumed += n;
            }
        }
        if rest.is_empty() {
            return Normalized::default();
        }
        let mut out = Normalized {
            text: String::with_capacity(rest.len() * 3),
            to_input: Vec::with_capacity(rest.len() * 3),
        };
        let add_ws = |out: &mut Normalized, consumed: usize, escape: bool| {
            let ws = if escape { SPACE_SYMBOL } else { " " };
            out.text.push_str(ws);
            out.to_input.extend(std::iter::repeat_n(consumed, ws.len()));
        };
        if !self.treat_whitespace_as_suffix && self.add_dummy_prefix {
            add_ws(&mut out, consumed, self.escape_whitespaces);
        }
        let mut is_prev_space = self.remove_extra_whitespaces;
        while !rest.is_empty() {
            let (piece, n) = self.normalize_prefix(rest);
            let mut sp = piece;
            while is_prev_space && sp.starts_with(' ') {
                sp = &sp[1..];
            }
            if !sp.is_empty() {
                for ch in sp.chars() {
                    if ch == ' ' && self.escape_whitespaces {
                        add_ws(&mut out, consumed, true);
                    } else {
                        out.text.push(ch);
                        out.to_input
                            .extend(std::iter::repeat_n(consumed, ch.len_utf8()));
                    }
                }
                is_prev_space = sp.ends_with(' ');
            }
            consumed += n;
            rest = &rest[n..];
            if !self.remove_extra_whitespaces {
                is_prev_space = false;
            }
        }
        if self.remove_extra_whitespaces {
            let ws = if self.escape_whitespaces {
                SPACE_SYMBOL
            } else {
                " "
            };
            while out.text.ends_with(ws) {
                let len = out.text.len() - ws.len();
                consumed = out.to_input[len];
                out.text.truncate(len);
                out.to_input.truncate(len);
            }
        }
        if self.treat_whitespace_as_suffix && self.add_dummy_prefix {
            add_ws(&mut out, consumed, self.escape_whitespaces);
        }
        out.to_input.push(consumed);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(user: &[&str]) -> Normalizer {
        Normalizer::new(
            &NormalizerSpec::default(),
            false,
            user.iter().map(|s| s.to_string()),
        )
        .expect("spec")
    }

    #[test]
    fn whitespace_rules_and_offsets() {
        let n = identity(&[]);
        let out = n.normalize("  ab  c ");
        assert_eq!(out.text, "▁ab▁c");
        // '▁' (3 bytes) from offset 2, 'a' 2, 'b' 3, '▁' from the space at 4, 'c' 6; the
        // trailing space is dropped, so the end maps to where it began (7).
        assert_eq!(out.to_input, vec![2, 2, 2, 2, 3, 4, 4, 4, 6, 7]);
        assert_eq!(n.normalize("   ").text, "");
    }

    #[test]
    fn user_defined_symbols_are_kept_whole() {
        let n = identity(&["▁▁x"]);
        assert_eq!(n.normalize("a ▁▁x").text, "▁a▁▁▁x");
    }
}
