//! Inference on model directories: `albert classify` (a fine-tuned sequence model),
//! `albert fill-mask` (a pretraining model's masked-LM head) and `albert answer` (a
//! SQuAD-fine-tuned model).

use std::path::{Path, PathBuf};

use albert_core::{AlbertForPreTraining, EncoderOutputs, TokenBatch};
use albert_heads::finetune::FinetuneTask;
use albert_heads::finetune::qa::SpanQa;
use albert_heads::finetune::qa_data;
use albert_heads::finetune::seqcls;
use albert_heads::tasks::squad::SquadExample;
use albert_heads::{AlbertForQuestionAnswering, AlbertForSequenceClassification};
use albert_tokenizer::EncodeOptions;
use burn::tensor::{Int, Tensor, TensorData};
use clap::Args;
use serde_json::json;

use crate::error::{Result, RunnerError};
use crate::finetune::{first_device, load_model, model_dir};

/// `albert classify`: classify (or score) text with a fine-tuned sequence model: one input per
/// line (`text` or `text<TAB>pair`) from --input or stdin, one JSON line out per input.
#[derive(Debug, Clone, Args)]
pub struct ClassifyArgs {
    /// Model directory written by `albert finetune` (or an HF classifier).
    #[arg(long)]
    pub model: PathBuf,
    /// Input file (default: stdin).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Sequences per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 128)]
    pub max_seq_length: usize,
    /// cpu (flex), wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Precision of the matrix products: fp32, or bf16 (bf16 operands, f32 accumulation;
    /// LayerNorm, softmax, GELU and the weights stay f32).
    #[arg(long, default_value = "fp32", value_parser = crate::device::precision_parser())]
    pub precision: albert_core::precision::Precision,
}

impl ClassifyArgs {
    /// Runs `albert classify`.
    pub fn run(&self) -> Result<()> {
        let _precision = albert_core::precision::autocast(self.precision);
        let n = classify(
            &self.model,
            self.input.as_deref(),
            self.batch_size,
            self.max_seq_length,
            &self.device,
        )?;
        eprintln!("classified {n} inputs");
        Ok(())
    }
}

/// `albert fill-mask`: predict the tokens at each [MASK] of a text with a pretraining model
/// (JSON on stdout).
#[derive(Debug, Clone, Args)]
pub struct FillMaskArgs {
    /// Model directory with an `AlbertForPreTraining` checkpoint (a pretraining run's `model/`).
    #[arg(long)]
    pub model: PathBuf,
    /// Text with one or more `[MASK]`.
    #[arg(long)]
    pub text: String,
    /// Candidates per mask.
    #[arg(long, default_value_t = 5)]
    pub top_k: usize,
    /// cpu (flex), wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Precision of the matrix products: fp32, or bf16 (bf16 operands, f32 accumulation;
    /// LayerNorm, softmax, GELU and the weights stay f32).
    #[arg(long, default_value = "fp32", value_parser = crate::device::precision_parser())]
    pub precision: albert_core::precision::Precision,
}

impl FillMaskArgs {
    /// Runs `albert fill-mask`.
    pub fn run(&self) -> Result<()> {
        let _precision = albert_core::precision::autocast(self.precision);
        println!(
            "{}",
            fill_mask(&self.model, &self.text, self.top_k, &self.device)?
        );
        Ok(())
    }
}

/// `albert answer`: answer a question from a context with a SQuAD-fine-tuned model (JSON on
/// stdout).
#[derive(Debug, Clone, Args)]
pub struct AnswerArgs {
    /// Model directory written by `albert finetune --task squad1|squad2`.
    #[arg(long)]
    pub model: PathBuf,
    /// The question.
    #[arg(long)]
    pub question: String,
    /// The context passage.
    #[arg(long)]
    pub context: String,
    /// Tokens per window.
    #[arg(long, default_value_t = 384)]
    pub max_seq_length: usize,
    /// cpu (flex), wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Precision of the matrix products: fp32, or bf16 (bf16 operands, f32 accumulation;
    /// LayerNorm, softmax, GELU and the weights stay f32).
    #[arg(long, default_value = "fp32", value_parser = crate::device::precision_parser())]
    pub precision: albert_core::precision::Precision,
}

impl AnswerArgs {
    /// Runs `albert answer`.
    pub fn run(&self) -> Result<()> {
        let _precision = albert_core::precision::autocast(self.precision);
        let a = answer(
            &self.model,
            &self.question,
            &self.context,
            self.max_seq_length,
            &self.device,
        )?;
        println!("{a}");
        Ok(())
    }
}

/// The `top_k` most likely tokens at every `[MASK]` of `text`, as transformers' fill-mask
/// pipeline prints them: for one mask a list of `{score, token, token_str, sequence}` (`token`
/// the id, `token_str` its text, `sequence` the text with the mask filled, special tokens
/// skipped), for several masks one such list per mask (each `sequence` fills that mask alone
/// and keeps the others). Works with `AlbertForPreTraining` and `AlbertForMaskedLM` checkpoints
/// (the SOP head and the pooler, which fill-mask does not use, may be absent).
pub fn fill_mask(
    model: &Path,
    text: &str,
    top_k: usize,
    device_name: &str,
) -> Result<serde_json::Value> {
    let dir = model_dir(model)?;
    let device = first_device(device_name)?;
    let config = &dir.hf.config;
    let fresh = AlbertForPreTraining::new(
        config,
        &mut albert_core::init::ParamInit::new(0, config.initializer_range),
        &device,
    );
    let (m, _) = albert_core::checkpoint::load_hf(
        fresh,
        std::slice::from_ref(&dir.weights),
        albert_core::checkpoint::MissingPolicy::Unused(&["sop_classifier.", "albert.pooler."]),
    )?;
    let enc = dir
        .tokenizer
        .encode(text, None, &EncodeOptions::default())?;
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
    let mut per_mask = Vec::new();
    for (k, &p) in positions.iter().enumerate() {
        let row = &flat[k * v..(k + 1) * v];
        let mut order: Vec<usize> = (0..v).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
        let mut candidates = Vec::new();
        for &id in order.iter().take(top_k) {
            let id32 = u32::try_from(id).unwrap_or(u32::MAX);
            let mut filled = enc.ids.clone();
            filled[p] = id32;
            // One mask: the pipeline's sequence skips special tokens; with several it keeps
            // them (the other masks stay visible).
            let skip_special = positions.len() == 1;
            candidates.push(json!({
                "score": row[id],
                "token": id,
                "token_str": dir.tokenizer.decode(&[id32], false)?,
                "sequence": dir.tokenizer.decode(&filled, skip_special)?,
            }));
        }
        per_mask.push(serde_json::Value::Array(candidates));
    }
    Ok(if per_mask.len() == 1 {
        per_mask.remove(0)
    } else {
        serde_json::Value::Array(per_mask)
    })
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
    let data = qa_data(&dir.tokenizer, vec![example], max_len, false)?;
    let pad = dir.tokenizer.special_ids().pad;
    let answers = SpanQa::predict(&m, config, &data, 16, pad, &device)?;
    let a = answers
        .first()
        .ok_or_else(|| RunnerError::Usage("no answer produced".into()))?;
    Ok(json!({"answer": a.text, "null_score_diff": a.null_score_diff()}))
}

/// Runs `albert classify`: one JSON line per input line (`text` or `text<TAB>pair`) of `input`
/// (stdin when `None`): `{"label", "probabilities"}` for a classifier, `{"score"}` for a
/// regression model. Returns the number of lines.
pub fn classify(
    model: &Path,
    input: Option<&Path>,
    batch_size: usize,
    max_seq_length: usize,
    device_name: &str,
) -> Result<usize> {
    use std::io::{Read, Write};
    let dir = model_dir(model)?;
    let device = first_device(device_name)?;
    let config = &dir.hf.config;
    let labels = config.labels.clone().unwrap_or_default();
    let n = labels.len().max(1);
    let m = load_model(&dir, &device, |c, i, d| {
        AlbertForSequenceClassification::new(c, n, i, d)
    })?;
    let mut bytes = Vec::new();
    let name = input.map_or_else(|| PathBuf::from("<stdin>"), Path::to_path_buf);
    let io = |e: std::io::Error| RunnerError::Io {
        path: name.clone(),
        source: e,
    };
    match input {
        Some(p) => bytes = std::fs::read(p).map_err(io)?,
        None => {
            std::io::stdin().read_to_end(&mut bytes).map_err(io)?;
        }
    }
    let mut rows = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = std::str::from_utf8(line).map_err(|_| RunnerError::BadFile {
            path: name.clone(),
            message: format!("line {}: invalid UTF-8", i + 1),
        })?;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let (a, b) = match line.split_once('\t') {
            Some((a, b)) => (a.to_string(), Some(b.to_string())),
            None => (line.to_string(), None),
        };
        rows.push((a, b));
    }
    let max_len = max_seq_length.min(config.max_position_embeddings);
    let options = albert_tokenizer::EncodeOptions {
        truncation: Some((max_len, albert_tokenizer::TruncationStrategy::LongestFirst)),
        padding: None,
    };
    let encodings = dir.tokenizer.encode_batch(&rows, &options)?;
    let inputs: Vec<(Vec<u32>, Vec<u32>)> =
        encodings.into_iter().map(|e| (e.ids, e.type_ids)).collect();
    let pad = dir.tokenizer.special_ids().pad;
    let outputs = seqcls::probabilities(&m, config, &inputs, batch_size, pad, &device)?;
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    for p in &outputs {
        let value = if labels.len() >= 2 {
            let best = p
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i);
            let probs: serde_json::Map<String, serde_json::Value> = labels
                .iter()
                .zip(p)
                .map(|(l, v)| (l.clone(), serde_json::json!(v)))
                .collect();
            serde_json::json!({"label": labels[best], "probabilities": probs})
        } else {
            serde_json::json!({"score": p.first()})
        };
        writeln!(w, "{value}").map_err(|e| RunnerError::Io {
            path: PathBuf::from("<stdout>"),
            source: e,
        })?;
    }
    Ok(outputs.len())
}
