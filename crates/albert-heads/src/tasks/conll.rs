//! CoNLL-style token tagging: one token per line with its tag in the last column (tab- or
//! space-separated, so CoNLL-2003's four columns work too), a blank line after each sentence,
//! `-DOCSTART-` lines skipped.

use std::path::Path;

use super::read_text;
use crate::error::{HeadsError, Result};

/// One sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct TaggedSentence {
    /// Tokens.
    pub tokens: Vec<String>,
    /// One tag per token.
    pub tags: Vec<String>,
    /// 1-based line of the first token.
    pub line: usize,
}

/// Reads a CoNLL-style file (plain or `.gz`).
pub fn read_conll(path: &Path) -> Result<Vec<TaggedSentence>> {
    let text = read_text(path)?;
    let mut out = Vec::new();
    let mut current = TaggedSentence {
        tokens: Vec::new(),
        tags: Vec::new(),
        line: 1,
    };
    for (i, line) in text.lines().chain([""]).enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.tokens.is_empty() {
                let next = TaggedSentence {
                    tokens: Vec::new(),
                    tags: Vec::new(),
                    line: i + 2,
                };
                out.push(std::mem::replace(&mut current, next));
            } else {
                current.line = i + 2;
            }
            continue;
        }
        if line.starts_with("-DOCSTART-") {
            continue;
        }
        let fields: Vec<&str> = if line.contains('\t') {
            line.split('\t').collect()
        } else {
            line.split(' ').filter(|f| !f.is_empty()).collect()
        };
        match (fields.first(), fields.last()) {
            (Some(token), Some(tag)) if fields.len() >= 2 && !tag.is_empty() => {
                current.tokens.push((*token).to_string());
                current.tags.push((*tag).to_string());
            }
            _ => {
                return Err(HeadsError::data(
                    path,
                    Some(i + 1),
                    format!("expected `token<TAB>tag`, found {line:?}"),
                ));
            }
        }
    }
    if out.is_empty() {
        return Err(HeadsError::data(path, None, "no sentence found"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_and_errors() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("t.conll");
        std::fs::write(
            &p,
            "-DOCSTART- O\n\nThe\tDET\ncat\tNOUN\n\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n",
        )
        .expect("write");
        let s = read_conll(&p).expect("read");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].tokens, vec!["The", "cat"]);
        assert_eq!(s[0].line, 3);
        assert_eq!(s[1].tags, vec!["B-ORG", "O"]);
        assert_eq!(s[1].line, 7);
        std::fs::write(&p, "The\tDET\nlonely\n").expect("write");
        let e = read_conll(&p).unwrap_err().to_string();
        assert!(e.contains("t.conll:2"), "{e}");
    }
}
