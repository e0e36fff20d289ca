//! Inference on model directories: `albert fill-mask` (a pretraining model's masked-LM head)
//! and `albert answer` (a SQuAD-fine-tuned model). `albert classify` lives with fine-tuning.

use std::path::Path;

use albert_core::{AlbertForPreTraining, EncoderOutputs, TokenBatch};
use albert_heads::AlbertForQuestionAnswering;
use albert_heads::finetune::FinetuneTask;
use albert_heads::finetune::qa::{QaData, SpanQa};
use albert_heads::tasks::squad::SquadExample;
use albert_tokenizer::EncodeOptions;
use burn::tensor::{Int, Tensor, TensorData};
use serde_json::json;

use crate::error::{Result, RunnerError};
use crate::finetune::{first_device, load_model, model_dir};

/// The `top_k` most likely tokens at every `[MASK]` of `text`, as
/// `[{"position", "candidates": [{"token", "id", "probability"}]}]`.
pub fn fill_mask(
    model: &Path,
    text: &str,
    top_k: usize,
    device_name: &str,
) -> Result<serde_json::Value> {
    let dir = model_dir(model)?;
    let device = first_device(device_name)?;
    let config = &dir.hf.config;
    let m = load_model(&dir, &device, AlbertForPreTraining::new)?;
    let enc = dir
        .tokenizer
        .encode(text, None, &EncodeOptions::default())
        .map_err(albert_heads::HeadsError::from)?;
    let mask = dir.tokenizer.special_ids().mask;
    let positions: Vec<usize> = (0..enc.ids.len()).filter(|&i| enc.ids[i] == mask).collect();
    if positions.is_empty() {
        return Err(RunnerError::Usage(format!(
            "the text has no [MASK] token: {text:?}"
        )));
    }
    let batch = TokenBatch {
        input_ids: vec![enc.ids.iter().map(|&x| i64::from(x)).collect()],
        token_type_ids: None,
        attention_mask: None,
    };
    let input = batch.to_input(config, &device)?;
    let body = m.albert.forward(input, EncoderOutputs::default());
    let rows: Vec<i64> = positions.iter().map(|&p| p as i64).collect();
    let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [positions.len()]), &device);
    let probs = burn::tensor::activation::softmax(m.mlm_logits_at(body.last_hidden_state, rows), 1);
    let v = config.vocab_size;
    let flat: Vec<f32> = probs.into_data().iter::<f32>().collect();
    let mut out = Vec::new();
    for (k, &p) in positions.iter().enumerate() {
        let row = &flat[k * v..(k + 1) * v];
        let mut order: Vec<usize> = (0..v).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
        let candidates: Vec<serde_json::Value> = order
            .iter()
            .take(top_k)
            .map(|&id| {
                let id32 = u32::try_from(id).unwrap_or(u32::MAX);
                json!({
                    "token": dir.tokenizer.id_to_token(id32),
                    "id": id,
                    "probability": row[id],
                })
            })
            .collect();
        out.push(json!({"position": p, "candidates": candidates}));
    }
    Ok(serde_json::Value::Array(out))
}

/// The answer to `question` in `context` with a SQuAD-fine-tuned model: `{"answer",
/// "null_score_diff"}` (`answer` "" when a v2.0 model abstains).
pub fn answer(
    model: &Path,
    question: &str,
    context: &str,
    max_seq_length: usize,
    device_name: &str,
) -> Result<serde_json::Value> {
    let dir = model_dir(model)?;
    let device = first_device(device_name)?;
    let config = &dir.hf.config;
    let m = load_model(&dir, &device, AlbertForQuestionAnswering::new)?;
    let example = SquadExample {
        id: "q".into(),
        title: String::new(),
        question: question.into(),
        context: context.into(),
        answers: Vec::new(),
        is_impossible: true,
    };
    let max_len = max_seq_length.min(config.max_position_embeddings);
    let data = QaData {
        features: albert_heads::features::qa::qa_features(
            &dir.tokenizer,
            std::slice::from_ref(&example),
            &albert_heads::features::qa::QaWindowConfig {
                max_seq_length: max_len,
                doc_stride: 128.min(max_len / 3).max(1),
                max_query_length: 64.min(max_len / 3).max(1),
            },
        )?,
        examples: vec![example],
        decode: albert_heads::features::qa::QaDecodeConfig::default(),
    };
    let pad = dir.tokenizer.special_ids().pad;
    let answers = SpanQa::predict(&m, config, &data, 16, pad, &device)?;
    let a = answers
        .first()
        .ok_or_else(|| RunnerError::Usage("no answer produced".into()))?;
    Ok(json!({"answer": a.text, "null_score_diff": a.null_score_diff()}))
}
