//! SQuAD v1.1 / v2.0 span extraction with [`AlbertForQuestionAnswering`]: training on the
//! windows of [`crate::features::qa`] (start/end cross-entropy, `[CLS]` for "not in this
//! window"), evaluation by decoding every example's windows and scoring with the official
//! SQuAD script's metric (v2.0: also the no-answer threshold that would maximise EM and F1).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use albert_core::AlbertConfig;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde_json::json;

use super::{FinetuneTask, token_batch};
use crate::error::Result;
use crate::features::qa::{QaAnswer, QaDecodeConfig, QaFeature, qa_answers};
use crate::metrics::squad::{Question, evaluate};
use crate::progress::Progress;
use crate::tasks::squad::SquadExample;
use crate::{AlbertForQuestionAnswering, qa_loss};

/// Examples, their windows and how to decode.
#[derive(Debug, Clone)]
pub struct QaData {
    /// The questions.
    pub examples: Vec<SquadExample>,
    /// Their windows (the training units).
    pub features: Vec<QaFeature>,
    /// Span search settings (`version_2` for SQuAD v2.0).
    pub decode: QaDecodeConfig,
}

impl QaData {
    fn inputs(&self) -> Vec<(Vec<u32>, Vec<u32>)> {
        self.features
            .iter()
            .map(|f| (f.input_ids.clone(), f.token_type_ids.clone()))
            .collect()
    }
}

/// The [`FinetuneTask`] of span extraction.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanQa;

impl FinetuneTask for SpanQa {
    type Model = AlbertForQuestionAnswering;
    type Data = QaData;
    type Predictions = Vec<QaAnswer>;

    fn body(model: &Self::Model) -> &albert_core::AlbertModel {
        &model.albert
    }

    fn len(data: &QaData) -> usize {
        data.features.len()
    }

    fn loss(
        model: &Self::Model,
        config: &AlbertConfig,
        data: &QaData,
        idx: &[usize],
        pad: u32,
        device: &Device,
    ) -> Result<Tensor<1>> {
        let inputs: Vec<(Vec<u32>, Vec<u32>)> = idx
            .iter()
            .map(|&i| {
                let f = &data.features[i];
                (f.input_ids.clone(), f.token_type_ids.clone())
            })
            .collect();
        let all: Vec<usize> = (0..idx.len()).collect();
        let input = token_batch(&inputs, &all, pad).to_input(config, device)?;
        let out = model.forward(input, albert_core::EncoderOutputs::default());
        let positions = |f: fn(&QaFeature) -> usize| {
            let v: Vec<i64> = idx.iter().map(|&i| f(&data.features[i]) as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(v, [idx.len()]), device)
        };
        Ok(qa_loss(
            out.start_logits,
            out.end_logits,
            positions(|f| f.start_position),
            positions(|f| f.end_position),
        ))
    }

    fn predict(
        model: &Self::Model,
        config: &AlbertConfig,
        data: &QaData,
        batch_size: usize,
        pad: u32,
        device: &Device,
        progress: &Progress,
    ) -> Result<Vec<QaAnswer>> {
        let inputs = data.inputs();
        let all: Vec<usize> = (0..inputs.len()).collect();
        let (mut starts, mut ends) = (Vec::new(), Vec::new());
        for idx in all.chunks(batch_size.max(1)) {
            progress.inc(idx.len() as u64);
            let input = token_batch(&inputs, idx, pad).to_input(config, device)?;
            let out = model.forward(input, albert_core::EncoderOutputs::default());
            let [_, n] = out.start_logits.dims();
            let s: Vec<f32> = out.start_logits.into_data().iter::<f32>().collect();
            let e: Vec<f32> = out.end_logits.into_data().iter::<f32>().collect();
            for (k, &i) in idx.iter().enumerate() {
                let len = inputs[i].0.len();
                starts.push(s[k * n..k * n + len].to_vec());
                ends.push(e[k * n..k * n + len].to_vec());
            }
        }
        Ok(qa_answers(
            &data.examples,
            &data.features,
            &starts,
            &ends,
            &data.decode,
        ))
    }

    fn score(data: &QaData, preds: &Vec<QaAnswer>, _labels: &[String]) -> BTreeMap<String, f64> {
        let questions: Vec<Question> = data
            .examples
            .iter()
            .map(|e| Question {
                id: e.id.clone(),
                answers: e.answers.iter().map(|a| a.text.clone()).collect(),
            })
            .collect();
        let predictions: HashMap<String, String> = preds
            .iter()
            .map(|a| (data.examples[a.example].id.clone(), a.text.clone()))
            .collect();
        // Headline numbers: the answers as decoded (with the configured null threshold).
        let mut report = evaluate(&questions, &predictions, None);
        if data.decode.version_2 {
            // The script's threshold search over the no-answer scores (null − best span).
            let na: HashMap<String, f64> = preds
                .iter()
                .map(|a| (data.examples[a.example].id.clone(), a.null_score_diff()))
                .collect();
            let best_span: HashMap<String, String> = preds
                .iter()
                .map(|a| {
                    let id = data.examples[a.example].id.clone();
                    (id, a.best_span.clone().unwrap_or_default())
                })
                .collect();
            let with = evaluate(&questions, &best_span, Some(&na));
            for (k, v) in with {
                if k.starts_with("best_") {
                    report.insert(k, v);
                }
            }
        }
        report
    }

    fn write_predictions(
        path: &Path,
        data: &QaData,
        preds: &Vec<QaAnswer>,
        _labels: &[String],
    ) -> Result<()> {
        let mut text = String::new();
        for a in preds {
            let e = &data.examples[a.example];
            let gold: Vec<&str> = e.answers.iter().map(|x| x.text.as_str()).collect();
            text.push_str(
                &json!({"id": e.id, "prediction": a.text, "gold": gold, "null_score_diff": a.null_score_diff()})
                    .to_string(),
            );
            text.push('\n');
        }
        albert_core::io::write_atomic(path, text.as_bytes())?;
        Ok(())
    }
}
