//! Sentence and sentence-pair task files in any of three formats, chosen by extension (after an
//! optional `.gz`): `.csv` (RFC 4180: comma-separated, fields in double quotes may hold commas,
//! newlines and `""`), `.jsonl` / `.json` (one JSON object per line, as `datasets` writes
//! them with `to_json`), anything else GLUE-style TSV ([`super::tsv`]). The columns (or keys)
//! are found by the same names in all three: `sentence`/`text`/`sentence1`/`question1`/…,
//! `sentence2`/`question2`/…, `label`/`gold_label`/`score`/….

use std::path::Path;

use super::read_text;
use super::tsv::{FIRST, TextExample, examples, named_columns, read_tsv};
use crate::error::{HeadsError, Result};

/// The file formats [`read_examples`] understands.
///
/// ```
/// use albert_heads::tasks::table::TableFormat;
/// use std::path::Path;
///
/// assert_eq!(TableFormat::of(Path::new("train.csv.gz")), TableFormat::Csv);
/// assert_eq!(TableFormat::of(Path::new("dev.jsonl")), TableFormat::JsonLines);
/// assert_eq!(TableFormat::of(Path::new("dev.tsv")), TableFormat::Tsv);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Tab-separated, GLUE's layouts.
    Tsv,
    /// Comma-separated with RFC 4180 quoting.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl TableFormat {
    /// The format of `path` by its extension (`.gz` looked through).
    pub fn of(path: &Path) -> Self {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".csv") {
            Self::Csv
        } else if name.ends_with(".jsonl") || name.ends_with(".json") {
            Self::JsonLines
        } else {
            Self::Tsv
        }
    }
}

/// Reads a sentence (pair) task file in the format its extension names ([`TableFormat::of`]).
pub fn read_examples(path: &Path) -> Result<Vec<TextExample>> {
    match TableFormat::of(path) {
        TableFormat::Tsv => read_tsv(path),
        TableFormat::Csv => read_csv(path),
        TableFormat::JsonLines => read_json_lines(path),
    }
}

/// Reads a CSV file with a header row.
pub fn read_csv(path: &Path) -> Result<Vec<TextExample>> {
    let text = read_text(path)?;
    let rows = csv_rows(path, &text)?;
    examples(path, &rows)
}

/// The records of RFC 4180 CSV text with the 1-based line each starts on.
fn csv_rows(path: &Path, text: &str) -> Result<Vec<(usize, Vec<String>)>> {
    let mut rows = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        loop {
            match chars.next() {
                None => {
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some('"') if field.is_empty() => {
                    // A quoted field: up to the closing quote, `""` an escaped quote.
                    loop {
                        match chars.next() {
                            None => {
                                return Err(HeadsError::data(
                                    path,
                                    Some(start),
                                    "a quoted field is never closed",
                                ));
                            }
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some('"') => break,
                            Some(c) => {
                                if c == '\n' {
                                    line += 1;
                                }
                                field.push(c);
                            }
                        }
                    }
                    match chars.peek() {
                        None | Some(',' | '\n' | '\r') => {}
                        Some(c) => {
                            return Err(HeadsError::data(
                                path,
                                Some(line),
                                format!(
                                    "{c:?} after a closing quote (expected , or the line's end)"
                                ),
                            ));
                        }
                    }
                }
                Some(',') => fields.push(std::mem::take(&mut field)),
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some('\n') => {
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some(c) => field.push(c),
            }
        }
        rows.push((start, fields));
    }
    Ok(rows)
}

/// Reads JSON lines: one object per line with a text key, optionally a second text and a label.
pub fn read_json_lines(path: &Path) -> Result<Vec<TextExample>> {
    let text = read_text(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| HeadsError::data(path, Some(line_no), format!("invalid JSON: {e}")))?;
        let Some(object) = value.as_object() else {
            return Err(HeadsError::data(path, Some(line_no), "not a JSON object"));
        };
        let text_of = |key: &str| -> Result<Option<String>> {
            match object.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(HeadsError::data(
                    path,
                    Some(line_no),
                    format!("{key:?} must be a string, not {other}"),
                )),
            }
        };
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let Some((a, b, label)) = named_columns(&keys) else {
            return Err(HeadsError::data(
                path,
                Some(line_no),
                format!("no text key (expected one of {FIRST:?})"),
            ));
        };
        let (a_key, b_key) = (keys[a], b.map(|b| keys[b]));
        let label = match label.map(|l| keys[l]) {
            None => None,
            Some(key) => match &object[key] {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) if s.trim().is_empty() => None,
                serde_json::Value::Number(n) if key == "score" => {
                    Some(super::tsv::Label::Score(n.as_f64().unwrap_or(f64::NAN)))
                }
                serde_json::Value::String(s) if key == "score" => Some(super::tsv::Label::Score(
                    s.trim().parse().map_err(|_| {
                        HeadsError::data(
                            path,
                            Some(line_no),
                            format!("score {s:?} is not a number"),
                        )
                    })?,
                )),
                serde_json::Value::String(s) => {
                    Some(super::tsv::Label::Class(s.trim().to_string()))
                }
                v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
                    Some(super::tsv::Label::Class(v.to_string()))
                }
                other => {
                    return Err(HeadsError::data(
                        path,
                        Some(line_no),
                        format!("label {key:?} must be a string or a number, not {other}"),
                    ));
                }
            },
        };
        out.push(TextExample {
            text_a: text_of(a_key)?.unwrap_or_default(),
            text_b: match b_key {
                Some(k) => text_of(k)?,
                None => None,
            },
            label,
            line: line_no,
        });
    }
    if out.is_empty() {
        return Err(HeadsError::data(path, None, "no example in the file"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::tsv::Label;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        (dir, p)
    }

    /// The same three rows as TSV, CSV (quoted commas, an escaped quote, a newline in a field,
    /// CRLF ends) and JSON lines (numeric and string labels) read to the same examples.
    #[test]
    fn three_formats_read_alike() {
        let (_a, tsv) = write(
            "d.tsv",
            "sentence1\tsentence2\tlabel\nA, b\tsaid \"hi\"\t1\nline one line two\tc\t0\nx\ty\tentailment\n",
        );
        let (_b, csv) = write(
            "d.csv",
            "sentence1,sentence2,label\r\n\"A, b\",\"said \"\"hi\"\"\",1\r\n\"line one line two\",c,0\nx,y,entailment\n",
        );
        let (_c, jsonl) = write(
            "d.jsonl",
            "{\"sentence1\": \"A, b\", \"sentence2\": \"said \\\"hi\\\"\", \"label\": 1}\n\n{\"sentence1\": \"line one line two\", \"sentence2\": \"c\", \"label\": 0}\n{\"sentence1\": \"x\", \"sentence2\": \"y\", \"label\": \"entailment\"}\n",
        );
        let strip = |v: Vec<TextExample>| -> Vec<(String, Option<String>, Option<Label>)> {
            v.into_iter()
                .map(|e| (e.text_a, e.text_b, e.label))
                .collect()
        };
        let want = strip(read_examples(&tsv).expect("tsv"));
        assert_eq!(want.len(), 3);
        assert_eq!(want[0].1.as_deref(), Some("said \"hi\""));
        assert_eq!(strip(read_examples(&csv).expect("csv")), want);
        assert_eq!(strip(read_examples(&jsonl).expect("jsonl")), want);
        // A newline inside quotes: one record, the next starts on its real line.
        let (_d, p) = write("m.csv", "text,label\n\"two\nlines\",pos\nnext,neg\n");
        let rows = read_examples(&p).expect("csv");
        assert_eq!(rows[0].text_a, "two\nlines");
        assert_eq!(rows[1].line, 4);
        // A regression score in JSON lines.
        let (_e, p) = write(
            "s.jsonl",
            "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"score\": 3.5}\n",
        );
        assert_eq!(
            read_examples(&p).expect("score")[0].label,
            Some(Label::Score(3.5))
        );
    }

    #[test]
    fn bad_files_name_file_and_line() {
        let (_a, p) = write("b.csv", "text,label\n\"never closed,1\n");
        let e = read_examples(&p).unwrap_err().to_string();
        assert!(e.contains("b.csv:2") && e.contains("never closed"), "{e}");
        let (_b, p) = write("b.csv", "text,label\n\"a\"x,1\n");
        let e = read_examples(&p).unwrap_err().to_string();
        assert!(e.contains("b.csv:2") && e.contains("closing quote"), "{e}");
        let (_c, p) = write("b.jsonl", "{\"text\": \"a\", \"label\": 1}\n[1, 2]\n");
        let e = read_examples(&p).unwrap_err().to_string();
        assert!(
            e.contains("b.jsonl:2") && e.contains("not a JSON object"),
            "{e}"
        );
        let (_d, p) = write("b.jsonl", "{\"body\": \"a\"}\n");
        let e = read_examples(&p).unwrap_err().to_string();
        assert!(e.contains("b.jsonl:1") && e.contains("no text key"), "{e}");
        let (_e, p) = write("b.jsonl", "{\"text\": 5}\n");
        let e = read_examples(&p).unwrap_err().to_string();
        assert!(e.contains("must be a string"), "{e}");
        let (_f, p) = write("b.jsonl", "{\"text\": \"a\", \"label\": [1]}\n");
        assert!(read_examples(&p).unwrap_err().to_string().contains("label"));
    }
}
