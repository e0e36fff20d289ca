//! [`TokenBatch`]: token ids on the host, validated against a config before they become
//! tensors. This is the boundary where HF-style 1/0 attention masks become the `Bool` padding
//! masks the model takes (`true` = padding).

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::config::AlbertConfig;
use crate::error::{AlbertError, Result};
use crate::model::AlbertInput;

/// A rectangular batch of token ids with optional token types and attention mask
/// (HF convention: 1 = real token, 0 = padding).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenBatch {
    /// `B` rows of `n` ids.
    pub input_ids: Vec<Vec<i64>>,
    /// `B` rows of `n` segment ids, or none (all zeros).
    pub token_type_ids: Option<Vec<Vec<i64>>>,
    /// `B` rows of `n` values in {0, 1}, or none (no padding).
    pub attention_mask: Option<Vec<Vec<i64>>>,
}

impl TokenBatch {
    /// `[B, n]`.
    pub fn dims(&self) -> [usize; 2] {
        [
            self.input_ids.len(),
            self.input_ids.first().map_or(0, Vec::len),
        ]
    }

    /// Checks shapes and value ranges against `config`; every problem is named by row and
    /// column.
    pub fn validate(&self, config: &AlbertConfig) -> Result<()> {
        let [b, n] = self.dims();
        if b == 0 || n == 0 {
            return Err(AlbertError::input(format!(
                "empty batch ({b} rows of {n} tokens)"
            )));
        }
        if n > config.max_position_embeddings {
            return Err(AlbertError::input(format!(
                "sequence length {n} exceeds max_position_embeddings {}",
                config.max_position_embeddings
            )));
        }
        check_rows(
            "input_ids",
            &self.input_ids,
            b,
            n,
            0,
            config.vocab_size as i64,
        )?;
        if let Some(types) = &self.token_type_ids {
            check_rows(
                "token_type_ids",
                types,
                b,
                n,
                0,
                config.type_vocab_size as i64,
            )?;
        }
        if let Some(mask) = &self.attention_mask {
            check_rows("attention_mask", mask, b, n, 0, 2)?;
        }
        Ok(())
    }

    /// Validates, then uploads to `device`.
    pub fn to_input(&self, config: &AlbertConfig, device: &Device) -> Result<AlbertInput> {
        self.validate(config)?;
        let dims = self.dims();
        let mut input = AlbertInput::new(int_tensor(&self.input_ids, dims, device));
        if let Some(types) = &self.token_type_ids {
            input = input.with_token_type_ids(int_tensor(types, dims, device));
        }
        if let Some(mask) = &self.attention_mask {
            let pad: Vec<bool> = mask.iter().flatten().map(|&m| m == 0).collect();
            input = input.with_mask_pad(Tensor::<2, Bool>::from_data(
                TensorData::new(pad, dims),
                device,
            ));
        }
        Ok(input)
    }
}

fn check_rows(name: &str, rows: &[Vec<i64>], b: usize, n: usize, lo: i64, hi: i64) -> Result<()> {
    if rows.len() != b {
        return Err(AlbertError::input(format!(
            "{name} has {} rows, input_ids has {b}",
            rows.len()
        )));
    }
    for (r, row) in rows.iter().enumerate() {
        if row.len() != n {
            return Err(AlbertError::input(format!(
                "{name} row {r} has {} values, expected {n} (rows must be padded to one length)",
                row.len()
            )));
        }
        if let Some((c, v)) = row.iter().enumerate().find(|(_, v)| !(lo..hi).contains(*v)) {
            return Err(AlbertError::input(format!(
                "{name}[{r}][{c}] = {v} is out of range {lo}..{hi}"
            )));
        }
    }
    Ok(())
}

/// Uploads a validated rectangular `[B, n]` integer batch.
pub fn int_tensor(rows: &[Vec<i64>], dims: [usize; 2], device: &Device) -> Tensor<2, Int> {
    let flat: Vec<i64> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, dims), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> AlbertConfig {
        AlbertConfig::new()
            .with_vocab_size(10)
            .with_max_position_embeddings(4)
    }

    #[test]
    fn rejects_ragged_out_of_range_and_too_long() {
        let ok = TokenBatch {
            input_ids: vec![vec![2, 5, 3], vec![2, 3, 0]],
            token_type_ids: Some(vec![vec![0, 0, 0], vec![0, 0, 1]]),
            attention_mask: Some(vec![vec![1, 1, 1], vec![1, 1, 0]]),
        };
        ok.validate(&tiny()).expect("valid");
        let cases = [
            (
                TokenBatch {
                    input_ids: vec![vec![2, 5], vec![2]],
                    ..Default::default()
                },
                "row 1 has 1 values",
            ),
            (
                TokenBatch {
                    input_ids: vec![vec![2, 10]],
                    ..Default::default()
                },
                "input_ids[0][1] = 10",
            ),
            (
                TokenBatch {
                    input_ids: vec![vec![-1]],
                    ..Default::default()
                },
                "input_ids[0][0] = -1",
            ),
            (
                TokenBatch {
                    input_ids: vec![vec![1; 5]],
                    ..Default::default()
                },
                "exceeds max_position",
            ),
            (
                TokenBatch {
                    input_ids: vec![],
                    ..Default::default()
                },
                "empty batch",
            ),
            (
                TokenBatch {
                    token_type_ids: Some(vec![vec![0, 0, 2], vec![0, 0, 0]]),
                    ..ok.clone()
                },
                "token_type_ids[0][2] = 2",
            ),
            (
                TokenBatch {
                    attention_mask: Some(vec![vec![1, 1, 1]]),
                    ..ok.clone()
                },
                "attention_mask has 1 rows",
            ),
        ];
        for (batch, needle) in cases {
            let err = batch.validate(&tiny()).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
