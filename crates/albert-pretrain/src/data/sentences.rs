//! A small rule-based sentence splitter for paragraph-per-line corpora (the original expects
//! one sentence per line; segments are the unit SOP swaps, so paragraphs must be split).
//!
//! A sentence ends at `.`, `!` or `?` (plus closing quotes or brackets) followed by whitespace and
//! then an upper-case letter, a digit or an opening quote — unless the word before the period is
//! a common abbreviation (`Mr.`, `Dr.`, `e.g.`, ...) or a single letter (an initial).

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "cf", "no",
    "vol", "fig", "gen", "col", "lt", "sgt", "capt", "rev", "hon", "mt", "ft", "approx", "dept",
    "est", "inc", "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec",
];

fn is_closing(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']' | '}' | '»' | '”' | '’')
}

fn starts_sentence(c: char) -> bool {
    c.is_uppercase() || c.is_ascii_digit() || matches!(c, '"' | '\'' | '(' | '[' | '«' | '“' | '‘')
}

/// Splits `text` into sentences (trimmed, non-empty).
pub fn split_sentences(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let (_, c) = chars[i];
        if matches!(c, '.' | '!' | '?') {
            let mut end = i + 1;
            while end < chars.len()
                && (is_closing(chars[end].1) || matches!(chars[end].1, '.' | '!' | '?'))
            {
                end += 1;
            }
            let mut next = end;
            while next < chars.len() && chars[next].1.is_whitespace() {
                next += 1;
            }
            let boundary = next > end && next < chars.len() && starts_sentence(chars[next].1) && {
                // The word ending at the period.
                let word_start = chars[..i]
                    .iter()
                    .rposition(|(_, ch)| ch.is_whitespace())
                    .map_or(0, |p| p + 1);
                let word: String = chars[word_start..i]
                    .iter()
                    .map(|(_, ch)| ch.to_ascii_lowercase())
                    .collect();
                let word = word.trim_start_matches(['(', '"', '\'', '[']);
                c != '.'
                    || !(ABBREVIATIONS.contains(&word)
                        || (word.chars().count() == 1 && word.chars().all(char::is_alphabetic)))
            };
            if boundary {
                let byte_end = chars.get(end).map_or(text.len(), |(b, _)| *b);
                let s = text[start..byte_end].trim();
                if !s.is_empty() {
                    out.push(s);
                }
                start = chars[next].0;
                i = next;
                continue;
            }
        }
        i += 1;
    }
    let s = text[start..].trim();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_prose_but_not_abbreviations_or_initials() {
        assert_eq!(
            split_sentences(
                "Mr. Bennet replied that he had not. \"But it is,\" returned she. J. R. Smith left at 5 p.m. today! Did he? 3 left."
            ),
            vec![
                "Mr. Bennet replied that he had not.",
                "\"But it is,\" returned she.",
                "J. R. Smith left at 5 p.m. today!",
                "Did he?",
                "3 left."
            ]
        );
        assert_eq!(
            split_sentences("version 3.14 is out. e.g. this one"),
            vec!["version 3.14 is out. e.g. this one"]
        );
        assert_eq!(split_sentences("  "), Vec::<&str>::new());
        assert_eq!(split_sentences("no end"), vec!["no end"]);
    }
}
