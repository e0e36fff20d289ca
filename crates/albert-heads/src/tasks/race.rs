//! RACE-style multiple choice: objects `{"id", "article", "questions": [..], "options":
//! [[..], ..], "answers": ["A", ..]}`, one per article, with any number of options. A file may
//! hold one object (the official RACE release: one `.txt` file of JSON per article) or a list
//! of them; a directory is read file by file in name order. Each question becomes one example.

use std::path::Path;

use serde::Deserialize;

use super::{parse_json, read_text};
use crate::error::{HeadsError, Result};

#[derive(Deserialize)]
struct Article {
    #[serde(default)]
    id: String,
    article: String,
    questions: Vec<String>,
    options: Vec<Vec<String>>,
    #[serde(default)]
    answers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<Article>),
    One(Article),
}

/// One question with its options.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceExample {
    /// `{article id}-{question index}`.
    pub id: String,
    /// The passage.
    pub article: String,
    /// The question (RACE's cloze questions contain `_`).
    pub question: String,
    /// The options.
    pub options: Vec<String>,
    /// Index of the right option (`A` = 0); `None` when the file has no answers.
    pub label: Option<usize>,
}

fn examples(path: &Path, a: Article, out: &mut Vec<ChoiceExample>) -> Result<()> {
    if a.options.len() != a.questions.len()
        || (!a.answers.is_empty() && a.answers.len() != a.questions.len())
    {
        return Err(HeadsError::data(
            path,
            None,
            format!(
                "article {:?}: {} questions, {} option lists, {} answers",
                a.id,
                a.questions.len(),
                a.options.len(),
                a.answers.len()
            ),
        ));
    }
    for (q, (question, options)) in a.questions.into_iter().zip(a.options).enumerate() {
        let label = match a.answers.get(q) {
            None => None,
            Some(letter) => {
                let index = match letter.trim().as_bytes() {
                    [c @ b'A'..=b'Z'] => Some(usize::from(c - b'A')),
                    _ => None,
                }
                .filter(|&i| i < options.len());
                Some(index.ok_or_else(|| {
                    HeadsError::data(
                        path,
                        None,
                        format!(
                            "article {:?} question {q}: answer {letter:?} is not a letter of one of its {} options",
                            a.id,
                            options.len()
                        ),
                    )
                })?)
            }
        };
        if options.len() < 2 {
            return Err(HeadsError::data(
                path,
                None,
                format!("article {:?} question {q}: fewer than 2 options", a.id),
            ));
        }
        out.push(ChoiceExample {
            id: format!("{}-{q}", a.id),
            article: a.article.clone(),
            question,
            options,
            label,
        });
    }
    Ok(())
}

/// Reads a RACE-style file or directory (plain or `.gz` files).
pub fn read_race(path: &Path) -> Result<Vec<ChoiceExample>> {
    let mut files = Vec::new();
    if path.is_dir() {
        let entries =
            std::fs::read_dir(path).map_err(|e| HeadsError::data(path, None, e.to_string()))?;
        for e in entries {
            let p = e
                .map_err(|e| HeadsError::data(path, None, e.to_string()))?
                .path();
            if p.is_file() {
                files.push(p);
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut out = Vec::new();
    for f in &files {
        let text = read_text(f)?;
        match parse_json::<OneOrMany>(f, &text)? {
            OneOrMany::Many(v) => {
                for a in v {
                    examples(f, a, &mut out)?;
                }
            }
            OneOrMany::One(a) => examples(f, a, &mut out)?,
        }
    }
    if out.is_empty() {
        return Err(HeadsError::data(path, None, "no question found"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lists_single_objects_and_rejects_bad_answers() {
        let dir = tempfile::tempdir().expect("tmp");
        let one = dir.path().join("1.txt");
        std::fs::write(
            &one,
            r#"{"id": "a", "article": "P.", "questions": ["Q1?", "Q2 _."], "options": [["x","y","z"],["u","v"]], "answers": ["C","A"]}"#,
        )
        .expect("write");
        let ex = read_race(&one).expect("one");
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].label, Some(2));
        assert_eq!(ex[1].options, vec!["u", "v"]);
        let two = dir.path().join("2.txt");
        std::fs::write(
            &two,
            r#"[{"id": "b", "article": "P.", "questions": ["Q?"], "options": [["x","y"]], "answers": ["C"]}]"#,
        )
        .expect("write");
        let e = read_race(&two).unwrap_err().to_string();
        assert!(e.contains("2.txt") && e.contains("\"C\""), "{e}");
        std::fs::remove_file(&two).expect("rm");
        assert_eq!(read_race(dir.path()).expect("dir").len(), 2);
    }
}
