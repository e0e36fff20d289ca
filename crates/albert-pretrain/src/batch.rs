//! [`PretrainBatch`]: instances padded into tensors. The padding mask becomes the model's
//! `Bool` mask here (true = padding), and masked positions are flattened to `row · n + column`
//! so the MLM head runs only on them.

use albert_core::AlbertInput;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::data::Instance;

/// A batch on the device.
#[derive(Debug, Clone)]
pub struct PretrainBatch {
    /// Ids, segment ids and padding mask, `[B, n]`.
    pub input: AlbertInput,
    /// `[K]` flattened masked positions.
    pub masked_positions: Tensor<1, Int>,
    /// `[K]` original ids at those positions.
    pub masked_labels: Tensor<1, Int>,
    /// `[B]` sentence-level labels.
    pub sentence_labels: Tensor<1, Int>,
    /// Sequences in the batch.
    pub sequences: usize,
    /// Real (non-padding) tokens in the batch.
    pub tokens: usize,
    /// Masked positions in the batch.
    pub predictions: usize,
}

/// Pads `instances` to the longest one (or to `pad_to` when given and longer) with `pad_id`.
pub fn collate(
    instances: &[Instance],
    pad_to: Option<usize>,
    pad_id: u32,
    device: &Device,
) -> PretrainBatch {
    let b = instances.len();
    let n = instances
        .iter()
        .map(|i| i.input_ids.len())
        .max()
        .unwrap_or(1)
        .max(pad_to.unwrap_or(0));
    let mut ids = vec![i64::from(pad_id); b * n];
    let mut types = vec![0i64; b * n];
    let mut pad = vec![true; b * n];
    let (mut positions, mut labels) = (Vec::new(), Vec::new());
    for (r, inst) in instances.iter().enumerate() {
        for (c, (&id, &t)) in inst.input_ids.iter().zip(&inst.segment_ids).enumerate() {
            ids[r * n + c] = i64::from(id);
            types[r * n + c] = i64::from(t);
            pad[r * n + c] = false;
        }
        for (&p, &l) in inst.masked_positions.iter().zip(&inst.masked_labels) {
            positions.push((r * n + p) as i64);
            labels.push(i64::from(l));
        }
    }
    let sentence: Vec<i64> = instances
        .iter()
        .map(|i| i64::from(i.sentence_label))
        .collect();
    let int2 = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [b, n]), device);
    let int1 = |v: Vec<i64>| {
        let k = v.len();
        Tensor::<1, Int>::from_data(TensorData::new(v, [k]), device)
    };
    let predictions = positions.len();
    PretrainBatch {
        input: AlbertInput::new(int2(ids))
            .with_token_type_ids(int2(types))
            .with_mask_pad(Tensor::<2, Bool>::from_data(
                TensorData::new(pad, [b, n]),
                device,
            )),
        masked_positions: int1(positions),
        masked_labels: int1(labels),
        sentence_labels: int1(sentence),
        sequences: b,
        tokens: instances.iter().map(|i| i.input_ids.len()).sum(),
        predictions,
    }
}
