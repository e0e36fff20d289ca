//! The `albert-reference-inputs/1` format of `../shared/fixtures/hf-albert/*/inputs.json`:
//! named batches of token ids with every label kind, plus multiple-choice batches.

use std::collections::BTreeMap;
use std::path::Path;

use albert_core::TokenBatch;
use serde::Deserialize;

use crate::error::{Result, RunnerError};

/// The format tag this reader understands.
pub const FORMAT: &str = "albert-reference-inputs/1";

/// A whole inputs file.
#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceInputs {
    /// Must be [`FORMAT`].
    pub format: String,
    /// Named batches (single or paired sequences).
    #[serde(default)]
    pub batches: BTreeMap<String, InputBatch>,
    /// Named multiple-choice batches.
    #[serde(default)]
    pub multiple_choice: BTreeMap<String, ChoiceBatch>,
}

/// One batch with its labels (each optional).
#[derive(Debug, Clone, Deserialize)]
pub struct InputBatch {
    /// `[B, n]`.
    pub input_ids: Vec<Vec<i64>>,
    /// `[B, n]`, 1 = token, 0 = padding.
    pub attention_mask: Option<Vec<Vec<i64>>>,
    /// `[B, n]`.
    pub token_type_ids: Option<Vec<Vec<i64>>>,
    /// `[B, n]`, `-100` = not predicted.
    pub mlm_labels: Option<Vec<Vec<i64>>>,
    /// `[B]`, 0 = in order, 1 = swapped.
    pub sop_labels: Option<Vec<i64>>,
    /// `[B]` class ids (or scores for a regression head).
    pub seqcls_labels: Option<Vec<f64>>,
    /// `[B, n]`, `-100` at special and padding tokens.
    pub tokcls_labels: Option<Vec<Vec<i64>>>,
    /// `[B]`.
    pub qa_start_positions: Option<Vec<i64>>,
    /// `[B]`.
    pub qa_end_positions: Option<Vec<i64>>,
}

/// A multiple-choice batch: `[B, C, n]` inputs and `[B]` labels.
#[derive(Debug, Clone, Deserialize)]
pub struct ChoiceBatch {
    /// `[B, C, n]`.
    pub input_ids: Vec<Vec<Vec<i64>>>,
    /// `[B, C, n]`.
    pub attention_mask: Option<Vec<Vec<Vec<i64>>>>,
    /// `[B, C, n]`.
    pub token_type_ids: Option<Vec<Vec<Vec<i64>>>>,
    /// `[B]`.
    pub labels: Option<Vec<i64>>,
}

impl InputBatch {
    /// The token part, for validation and upload.
    pub fn tokens(&self) -> TokenBatch {
        TokenBatch {
            input_ids: self.input_ids.clone(),
            token_type_ids: self.token_type_ids.clone(),
            attention_mask: self.attention_mask.clone(),
        }
    }
}

impl ChoiceBatch {
    /// `(B, C)`; the rows of all choices flattened into one `[B·C, n]` token batch.
    pub fn flatten(&self) -> ((usize, usize), TokenBatch) {
        let b = self.input_ids.len();
        let c = self.input_ids.first().map_or(0, Vec::len);
        let flat = |x: &Vec<Vec<Vec<i64>>>| x.iter().flatten().cloned().collect::<Vec<_>>();
        (
            (b, c),
            TokenBatch {
                input_ids: flat(&self.input_ids),
                token_type_ids: self.token_type_ids.as_ref().map(flat),
                attention_mask: self.attention_mask.as_ref().map(flat),
            },
        )
    }

    /// Checks that every example has the same number of choices.
    pub fn check(&self, name: &str) -> Result<()> {
        let (_, c) = (
            self.input_ids.len(),
            self.input_ids.first().map_or(0, Vec::len),
        );
        let ragged = |x: &Vec<Vec<Vec<i64>>>| x.iter().position(|choices| choices.len() != c);
        for (what, rows) in [
            ("input_ids", Some(&self.input_ids)),
            ("attention_mask", self.attention_mask.as_ref()),
            ("token_type_ids", self.token_type_ids.as_ref()),
        ] {
            if let Some(rows) = rows {
                if rows.len() != self.input_ids.len() {
                    return Err(RunnerError::Usage(format!(
                        "multiple_choice.{name}.{what} has {} examples, input_ids has {}",
                        rows.len(),
                        self.input_ids.len()
                    )));
                }
                if let Some(i) = ragged(rows) {
                    return Err(RunnerError::Usage(format!(
                        "multiple_choice.{name}.{what}[{i}] does not have {c} choices"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl ReferenceInputs {
    /// Reads and checks the format tag.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| RunnerError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let inputs: ReferenceInputs =
            serde_json::from_str(&text).map_err(|e| RunnerError::BadFile {
                path: path.to_path_buf(),
                message: format!("not an {FORMAT} file: {e}"),
            })?;
        if inputs.format != FORMAT {
            return Err(RunnerError::BadFile {
                path: path.to_path_buf(),
                message: format!("format is {:?}, expected {FORMAT:?}", inputs.format),
            });
        }
        Ok(inputs)
    }
}
