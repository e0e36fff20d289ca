//! SQuAD v1.1 / v2.0 JSON (`{"version", "data": [{"title", "paragraphs": [{"context", "qas":
//! [{"id", "question", "answers": [{"text", "answer_start"}], "is_impossible"}]}]}]}`), the
//! official files unchanged. `answer_start` counts characters (Python string indices); every
//! answer is checked against its context, and a mismatch is an error naming the file, the line
//! of the question and its id.

use std::path::Path;

use serde::Deserialize;

use super::{line_of, parse_json, read_text};
use crate::error::{HeadsError, Result};

#[derive(Deserialize)]
struct File {
    data: Vec<Article>,
}

#[derive(Deserialize)]
struct Article {
    #[serde(default)]
    title: String,
    paragraphs: Vec<Paragraph>,
}

#[derive(Deserialize)]
struct Paragraph {
    context: String,
    qas: Vec<Qa>,
}

#[derive(Deserialize)]
struct Qa {
    id: serde_json::Value,
    question: String,
    #[serde(default)]
    answers: Vec<RawAnswer>,
    #[serde(default)]
    is_impossible: bool,
}

#[derive(Deserialize)]
struct RawAnswer {
    text: String,
    answer_start: i64,
}

/// A gold answer span.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The answer text.
    pub text: String,
    /// Its first character in the context.
    pub start_char: usize,
}

/// One question with its context.
#[derive(Debug, Clone, PartialEq)]
pub struct SquadExample {
    /// Question id (strings as is; numbers written in decimal).
    pub id: String,
    /// Article title.
    pub title: String,
    /// The question.
    pub question: String,
    /// The paragraph.
    pub context: String,
    /// Gold answers (empty for an unanswerable v2.0 question).
    pub answers: Vec<Answer>,
    /// SQuAD v2.0's `is_impossible`.
    pub is_impossible: bool,
}

/// Reads a SQuAD-format file (plain or `.gz`).
pub fn read_squad(path: &Path) -> Result<Vec<SquadExample>> {
    let text = read_text(path)?;
    let file: File = parse_json(path, &text)?;
    let mut out = Vec::new();
    for article in file.data {
        for paragraph in article.paragraphs {
            let chars: Vec<char> = paragraph.context.chars().collect();
            for qa in paragraph.qas {
                let id = match &qa.id {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let line = || text.find(&format!("\"{id}\"")).map(|at| line_of(&text, at));
                let mut answers = Vec::new();
                for a in &qa.answers {
                    let len = a.text.chars().count();
                    let start = usize::try_from(a.answer_start).ok();
                    let found = start
                        .filter(|s| s + len <= chars.len())
                        .map(|s| chars[s..s + len].iter().collect::<String>());
                    if found.as_deref() != Some(a.text.as_str()) {
                        return Err(HeadsError::data(
                            path,
                            line(),
                            format!(
                                "question {id:?}: answer {:?} is not at answer_start {} of its context (found {:?})",
                                a.text,
                                a.answer_start,
                                found.unwrap_or_default()
                            ),
                        ));
                    }
                    answers.push(Answer {
                        text: a.text.clone(),
                        start_char: a.answer_start as usize,
                    });
                }
                if answers.is_empty() && !qa.is_impossible {
                    return Err(HeadsError::data(
                        path,
                        line(),
                        format!("question {id:?} has no answer and is not marked is_impossible"),
                    ));
                }
                out.push(SquadExample {
                    id,
                    title: article.title.clone(),
                    question: qa.question,
                    context: paragraph.context.clone(),
                    answers: if qa.is_impossible {
                        Vec::new()
                    } else {
                        answers
                    },
                    is_impossible: qa.is_impossible,
                });
            }
        }
    }
    if out.is_empty() {
        return Err(HeadsError::data(path, None, "no question in the file"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("s.json");
        std::fs::write(&p, text).expect("write");
        (dir, p)
    }

    #[test]
    fn reads_v2_and_checks_offsets_in_characters() {
        let (_d, p) = write(
            r#"{"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": "Ça va: Paris is big.",
            "qas": [{"id": "q1", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 7}]},
                    {"id": "q2", "question": "Why?", "answers": [], "is_impossible": true}]}]}]}"#,
        );
        let ex = read_squad(&p).expect("read");
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].answers[0].start_char, 7);
        assert!(ex[1].is_impossible && ex[1].answers.is_empty());
    }

    #[test]
    fn mismatched_offsets_and_bad_json_name_file_and_line() {
        let (_d, p) = write(
            "{\"data\": [{\"title\": \"T\", \"paragraphs\": [{\"context\": \"abc def\",\n\"qas\": [\n{\"id\": \"q9\", \"question\": \"?\", \"answers\": [{\"text\": \"def\", \"answer_start\": 3}]}]}]}]}",
        );
        let e = read_squad(&p).unwrap_err().to_string();
        assert!(
            e.contains("s.json:3") && e.contains("q9") && e.contains("answer_start 3"),
            "{e}"
        );
        let (_d, p) = write("{\"data\": [\n{\"title\": }]}");
        let e = read_squad(&p).unwrap_err().to_string();
        assert!(e.contains("s.json:2") && e.contains("invalid JSON"), "{e}");
        let (_d, p) = write("{\"data\": []}");
        assert!(
            read_squad(&p)
                .unwrap_err()
                .to_string()
                .contains("no question")
        );
    }
}
