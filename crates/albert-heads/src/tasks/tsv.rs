//! GLUE-style TSV files: tab-separated, no quoting, a header line naming the columns. The
//! columns are found by name, which covers every GLUE task's official layout (SST-2 `sentence
//! label`; MRPC `Quality … #1 String #2 String`; STS-B `… sentence1 sentence2 score`; QQP
//! `… question1 question2 is_duplicate`; MNLI `… sentence1 sentence2 … gold_label`; QNLI
//! `index question sentence label`; RTE/WNLI `index sentence1 sentence2 label`) and the generic
//! `label<TAB>text`, `sentence<TAB>label` and `score<TAB>sentence1<TAB>sentence2` layouts.
//! CoLA's files have no header (`source label original-label sentence`): they are recognised by
//! shape. The same layouts are read from CSV and JSON lines ([`super::table`]).

use std::path::Path;

use super::read_text;
use crate::error::{HeadsError, Result};

/// A gold label as written in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    /// A class name (`0`, `entailment`, `sports`).
    Class(String),
    /// A regression target (STS-B `score`).
    Score(f64),
}

/// One row.
#[derive(Debug, Clone, PartialEq)]
pub struct TextExample {
    /// First text.
    pub text_a: String,
    /// Second text of a pair task.
    pub text_b: Option<String>,
    /// The gold label; `None` in unlabelled (test) files.
    pub label: Option<Label>,
    /// 1-based line in the file.
    pub line: usize,
}

pub(crate) const FIRST: [&str; 6] = [
    "sentence1",
    "question1",
    "#1 String",
    "question",
    "sentence",
    "text",
];
const SECOND: [&str; 3] = ["sentence2", "question2", "#2 String"];
const LABEL: [&str; 5] = ["gold_label", "label", "is_duplicate", "Quality", "score"];

/// Column indices of a layout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Columns {
    a: usize,
    b: Option<usize>,
    label: Option<usize>,
    score: bool,
    /// Whether the first row is a header (every layout but CoLA's).
    pub(crate) header: bool,
}

/// Among column (or key) `names`: the first text, the second text and the label, by the names
/// of [`FIRST`], [`SECOND`] and [`LABEL`] in that order of preference (QNLI: `question` +
/// `sentence`). `None` when no name is a text column.
pub(crate) fn named_columns(names: &[&str]) -> Option<(usize, Option<usize>, Option<usize>)> {
    let find = |cands: &[&str]| cands.iter().find_map(|c| names.iter().position(|n| n == c));
    let a = find(&FIRST)?;
    let b = find(&SECOND).or_else(|| {
        (names[a] == "question")
            .then(|| names.iter().position(|n| *n == "sentence"))
            .flatten()
    });
    Some((a, b, find(&LABEL)))
}

/// The layout named by a first row's fields.
pub(crate) fn columns(path: &Path, first_row: &[&str]) -> Result<Columns> {
    let names: Vec<&str> = first_row.iter().map(|n| n.trim()).collect();
    if let Some((a, b, label)) = named_columns(&names) {
        return Ok(Columns {
            a,
            b,
            label,
            score: label.is_some_and(|l| names[l] == "score"),
            header: true,
        });
    }
    // CoLA: no header, 4 columns, the second a 0/1 label.
    if names.len() == 4 && matches!(names[1], "0" | "1") {
        return Ok(Columns {
            a: 3,
            b: None,
            label: Some(1),
            score: false,
            header: false,
        });
    }
    Err(HeadsError::data(
        path,
        Some(1),
        format!(
            "cannot tell the layout: the header names no text column (expected one of {FIRST:?}) and the file is not CoLA's 4 headerless columns"
        ),
    ))
}

/// Reads a GLUE-style TSV file.
pub fn read_tsv(path: &Path) -> Result<Vec<TextExample>> {
    let text = read_text(path)?;
    let rows: Vec<(usize, Vec<&str>)> = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.split('\t').collect()))
        .collect();
    examples(path, &rows)
}

/// The examples of `rows` (1-based line, fields), the first of which is the header (or a CoLA
/// row); blank rows are skipped.
pub(crate) fn examples<S: AsRef<str>>(
    path: &Path,
    rows: &[(usize, Vec<S>)],
) -> Result<Vec<TextExample>> {
    let Some((_, first)) = rows.first() else {
        return Err(HeadsError::data(path, None, "the file is empty"));
    };
    let first: Vec<&str> = first.iter().map(AsRef::as_ref).collect();
    let cols = columns(path, &first)?;
    let mut out = Vec::new();
    for (line_no, fields) in &rows[usize::from(cols.header)..] {
        let line_no = *line_no;
        let fields: Vec<&str> = fields.iter().map(AsRef::as_ref).collect();
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let need = [Some(cols.a), cols.b]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
        if fields.len() <= need {
            return Err(HeadsError::data(
                path,
                Some(line_no),
                format!(
                    "{} fields, the layout needs at least {}",
                    fields.len(),
                    need + 1
                ),
            ));
        }
        let label = match cols.label.and_then(|l| fields.get(l)).map(|s| s.trim()) {
            None | Some("") => None,
            Some(v) if cols.score => Some(Label::Score(v.parse().map_err(|_| {
                HeadsError::data(path, Some(line_no), format!("score {v:?} is not a number"))
            })?)),
            Some(v) => Some(Label::Class(v.to_string())),
        };
        out.push(TextExample {
            text_a: fields[cols.a].to_string(),
            text_b: cols.b.map(|b| fields[b].to_string()),
            label,
            line: line_no,
        });
    }
    if out.is_empty() {
        return Err(HeadsError::data(path, None, "no example after the header"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("f.tsv");
        std::fs::write(&p, text).expect("write");
        (dir, p)
    }

    #[test]
    fn glue_layouts() {
        let cases = [
            ("sentence\tlabel\nit is good\t1\n", "it is good", None, "1"),
            (
                "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t7\t8\tA s\tB s\n",
                "A s",
                Some("B s"),
                "1",
            ),
            (
                "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n0\t1\t2\tq a?\tq b?\t0\n",
                "q a?",
                Some("q b?"),
                "0",
            ),
            (
                "index\tquestion\tsentence\tlabel\n0\tWho?\tHim.\tentailment\n",
                "Who?",
                Some("Him."),
                "entailment",
            ),
            (
                "index\tsentence1\tsentence2\tlabel1\tgold_label\n0\tP\tH\tneutral\tcontradiction\n",
                "P",
                Some("H"),
                "contradiction",
            ),
            (
                "gj04\t1\t\tThe book was read.\n",
                "The book was read.",
                None,
                "1",
            ),
            (
                "label\ttext\nsports\tA match.\n",
                "A match.",
                None,
                "sports",
            ),
        ];
        for (text, a, b, label) in cases {
            let (_d, p) = write(text);
            let rows = read_tsv(&p).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(rows.len(), 1, "{text:?}");
            assert_eq!(rows[0].text_a, a);
            assert_eq!(rows[0].text_b.as_deref(), b);
            assert_eq!(rows[0].label, Some(Label::Class(label.into())));
        }
        let (_d, p) = write("score\tsentence1\tsentence2\n3.8\tx\ty\n");
        assert_eq!(
            read_tsv(&p).expect("stsb")[0].label,
            Some(Label::Score(3.8))
        );
    }

    #[test]
    fn bad_files_name_file_and_line() {
        let (_d, p) = write("sentence1\tsentence2\tlabel\na\tb\t1\nonly one field\n");
        let e = read_tsv(&p).unwrap_err().to_string();
        assert!(e.contains("f.tsv:3") && e.contains("fields"), "{e}");
        let (_d, p) = write("score\tsentence1\tsentence2\nhigh\tx\ty\n");
        let e = read_tsv(&p).unwrap_err().to_string();
        assert!(e.contains("f.tsv:2") && e.contains("not a number"), "{e}");
        let (_d, p) = write("foo\tbar\n1\t2\n");
        assert!(read_tsv(&p).unwrap_err().to_string().contains("layout"));
        let (_d, p) = write("");
        assert!(read_tsv(&p).unwrap_err().to_string().contains("empty"));
        let (_d, p) = write("sentence\tlabel\n");
        assert!(read_tsv(&p).unwrap_err().to_string().contains("no example"));
    }
}
