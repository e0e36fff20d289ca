//! Multiple choice (RACE-style) with [`AlbertForMultipleChoice`]: each option becomes
//! `[CLS] article [SEP] question-with-option [SEP]` (a cloze question's `_` is replaced by the
//! option, otherwise the option follows the question, as ALBERT's `race_utils.py`), the longer
//! side truncated first. Examples with fewer options than others in a batch get padding options
//! whose logits are pushed to −10⁴, so any number of options works.

use std::collections::BTreeMap;
use std::path::Path;

use albert_core::{AlbertConfig, int_tensor};
use albert_tokenizer::{AlbertTokenizer, EncodeOptions, TruncationStrategy};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use serde_json::json;

use super::FinetuneTask;
use crate::error::{HeadsError, Result};
use crate::progress::Progress;
use crate::tasks::race::ChoiceExample;
use crate::{AlbertForMultipleChoice, MultipleChoiceInput};

/// Encoded questions.
#[derive(Debug, Clone)]
pub struct ChoiceData {
    /// Per question, per option: `(ids, token types)`.
    pub inputs: Vec<Vec<(Vec<u32>, Vec<u32>)>>,
    /// The right option per question.
    pub labels: Vec<usize>,
    /// Question ids.
    pub ids: Vec<String>,
}

/// The second segment of an option: the question with `_` filled, or question + option.
pub fn option_text(question: &str, option: &str) -> String {
    if question.contains('_') {
        question.replacen('_', option, 1)
    } else {
        format!("{question} {option}")
    }
}

/// Tokenizes every option of `examples`; an example without an answer is an error.
pub fn encode(
    tokenizer: &AlbertTokenizer,
    examples: &[ChoiceExample],
    max_seq_length: usize,
    path: &Path,
) -> Result<ChoiceData> {
    let options = EncodeOptions {
        truncation: Some((max_seq_length, TruncationStrategy::LongestFirst)),
        padding: None,
    };
    let mut data = ChoiceData {
        inputs: Vec::new(),
        labels: Vec::new(),
        ids: Vec::new(),
    };
    for e in examples {
        let label = e.label.ok_or_else(|| {
            HeadsError::data(path, None, format!("question {:?} has no answer", e.id))
        })?;
        let pairs: Vec<(String, Option<String>)> = e
            .options
            .iter()
            .map(|o| (e.article.clone(), Some(option_text(&e.question, o))))
            .collect();
        let enc = tokenizer.encode_batch(&pairs, &options)?;
        data.inputs
            .push(enc.into_iter().map(|x| (x.ids, x.type_ids)).collect());
        data.labels.push(label);
        data.ids.push(e.id.clone());
    }
    Ok(data)
}

/// `[b, c, n]` inputs of the questions `idx` and the `[b, c]` bias that removes padding options.
fn batch(
    data: &ChoiceData,
    idx: &[usize],
    pad: u32,
    device: &Device,
) -> (MultipleChoiceInput, Tensor<2>) {
    let c = idx.iter().map(|&i| data.inputs[i].len()).max().unwrap_or(1);
    let n = idx
        .iter()
        .flat_map(|&i| data.inputs[i].iter().map(|o| o.0.len()))
        .max()
        .unwrap_or(2);
    let (mut ids, mut types, mut padding, mut bias) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for &i in idx {
        for k in 0..c {
            let (row_ids, row_types) = data.inputs[i]
                .get(k)
                .map_or((&[][..], &[][..]), |(a, b)| (a.as_slice(), b.as_slice()));
            let mut r: Vec<i64> = row_ids.iter().map(|&x| i64::from(x)).collect();
            let real = r.len().max(1);
            r.resize(n, i64::from(pad));
            let mut t: Vec<i64> = row_types.iter().map(|&x| i64::from(x)).collect();
            t.resize(n, 0);
            ids.push(r);
            types.push(t);
            // A padding option attends to its first position only (never an all-masked row).
            padding.extend((0..n).map(|p| p >= real));
            bias.push(if k < data.inputs[i].len() {
                0.0f32
            } else {
                -1e4
            });
        }
    }
    let b = idx.len();
    let input = MultipleChoiceInput {
        input_ids: int_tensor(&ids, [b * c, n], device).reshape([b, c, n]),
        token_type_ids: Some(int_tensor(&types, [b * c, n], device).reshape([b, c, n])),
        mask_pad: Some(Tensor::<3, Bool>::from_data(
            TensorData::new(padding, [b, c, n]),
            device,
        )),
    };
    (
        input,
        Tensor::from_data(TensorData::new(bias, [b, c]), device),
    )
}

/// The [`FinetuneTask`] of multiple choice.
#[derive(Debug, Clone, Copy, Default)]
pub struct MultipleChoice;

impl FinetuneTask for MultipleChoice {
    type Model = AlbertForMultipleChoice;
    type Data = ChoiceData;
    /// Chosen option per question.
    type Predictions = Vec<usize>;

    fn body(model: &Self::Model) -> &albert_core::AlbertModel {
        &model.albert
    }

    fn len(data: &ChoiceData) -> usize {
        data.inputs.len()
    }

    fn loss(
        model: &Self::Model,
        _config: &AlbertConfig,
        data: &ChoiceData,
        idx: &[usize],
        pad: u32,
        device: &Device,
    ) -> Result<Tensor<1>> {
        let (input, bias) = batch(data, idx, pad, device);
        let logits = model.forward(input) + bias;
        let labels: Vec<i64> = idx.iter().map(|&i| data.labels[i] as i64).collect();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [idx.len()]), device);
        Ok(model.loss(logits, labels))
    }

    fn predict(
        model: &Self::Model,
        _config: &AlbertConfig,
        data: &ChoiceData,
        batch_size: usize,
        pad: u32,
        device: &Device,
        progress: &Progress,
    ) -> Result<Vec<usize>> {
        let all: Vec<usize> = (0..data.inputs.len()).collect();
        let mut out = Vec::with_capacity(all.len());
        for idx in all.chunks(batch_size.max(1)) {
            progress.inc(idx.len() as u64);
            let (input, bias) = batch(data, idx, pad, device);
            let am = (model.forward(input) + bias).argmax(1).into_data();
            out.extend(
                am.iter::<i64>()
                    .map(|v| usize::try_from(v).unwrap_or_default()),
            );
        }
        Ok(out)
    }

    fn score(data: &ChoiceData, preds: &Vec<usize>, _labels: &[String]) -> BTreeMap<String, f64> {
        crate::metrics::accuracy(&data.labels, preds)
            .map(|a| BTreeMap::from([("accuracy".to_string(), a)]))
            .unwrap_or_default()
    }

    fn write_predictions(
        path: &Path,
        data: &ChoiceData,
        preds: &Vec<usize>,
        _labels: &[String],
    ) -> Result<()> {
        let letter = |i: usize| char::from(b'A' + u8::try_from(i).unwrap_or(25)).to_string();
        let mut text = String::new();
        for (i, p) in preds.iter().enumerate() {
            text.push_str(
                &json!({"id": data.ids[i], "label": letter(data.labels[i]), "prediction": letter(*p)})
                    .to_string(),
            );
            text.push('\n');
        }
        albert_core::io::write_atomic(path, text.as_bytes())?;
        Ok(())
    }
}
