//! Inference on model directories: `albert classify` (a fine-tuned sequence model),
//! `albert fill-mask` (a pretraining model's masked-LM head) and `albert answer` (a
//! SQuAD-fine-tuned model).

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use crate::error::{Result, RunnerError};
use crate::pipeline::{LabelScore, MaskCandidate, Pipeline, PipelineOptions, Task};

/// `albert classify`: classify (or score) text with a fine-tuned sequence model: one input per
/// line (`text`, `text<TAB>pair` or `{"text", "text_pair"}`) from --input or stdin, one JSON
/// line out per input (`{"label", "score"}`, as transformers' pipeline), streamed per batch.
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
    /// Print the N best labels as a list of `{label, score}` (the pipeline's `top_k`) instead
    /// of the best one.
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Where and in which precision the model runs.
    #[command(flatten)]
    pub on: crate::device::DeviceArgs,
}

impl ClassifyArgs {
    /// Runs `albert classify`.
    pub fn run(&self) -> Result<()> {
        let _precision = albert_core::precision::autocast(self.on.precision);
        let n = classify(
            &self.model,
            self.input.as_deref(),
            self.batch_size,
            self.max_seq_length,
            self.top_k,
            &self.on.device,
        )?;
        eprintln!("classified {n} inputs");
        Ok(())
    }
}

/// `albert fill-mask`: predict the tokens at each [MASK] of a text with a pretraining model
/// (JSON on stdout); without `--text`, one text per input line (plain or `{"text"}`) from
/// --input or stdin, one JSON line out per text, streamed per batch.
#[derive(Debug, Clone, Args)]
pub struct FillMaskArgs {
    /// Model directory with an `AlbertForPreTraining` checkpoint (a pretraining run's `model/`).
    #[arg(long)]
    pub model: PathBuf,
    /// Text with one or more `[MASK]`.
    #[arg(long, conflicts_with = "input")]
    pub text: Option<String>,
    /// Input file of texts, one per line (default without --text: stdin).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Texts per batch (with --input or stdin).
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Candidates per mask.
    #[arg(long, default_value_t = 5)]
    pub top_k: usize,
    /// Where and in which precision the model runs.
    #[command(flatten)]
    pub on: crate::device::DeviceArgs,
}

impl FillMaskArgs {
    /// Runs `albert fill-mask`.
    pub fn run(&self) -> Result<()> {
        let _precision = albert_core::precision::autocast(self.on.precision);
        if let Some(text) = &self.text {
            println!(
                "{}",
                fill_mask(&self.model, text, self.top_k, &self.on.device)?
            );
            return Ok(());
        }
        let pipeline = Pipeline::load(
            &self.model,
            &PipelineOptions {
                batch_size: self.batch_size,
                ..options(Task::FillMask, &self.on.device, usize::MAX)
            },
        )?;
        let n = stream_lines(
            self.input.as_deref(),
            self.batch_size,
            fill_mask_input,
            |texts| {
                let results = pipeline.fill_mask(texts, self.top_k)?;
                write_lines(results.into_iter().map(fill_mask_json))
            },
        )?;
        eprintln!("filled {n} texts");
        Ok(())
    }
}

/// `albert answer`: answer a question from a context with a SQuAD-fine-tuned model (JSON on
/// stdout); without `--question`/`--context`, one `{"question", "context"}` JSON object per
/// input line from --input or stdin, one JSON line out per object, streamed per batch.
#[derive(Debug, Clone, Args)]
pub struct AnswerArgs {
    /// Model directory written by `albert finetune --task squad1|squad2`.
    #[arg(long)]
    pub model: PathBuf,
    /// The question.
    #[arg(long, requires = "context", conflicts_with = "input")]
    pub question: Option<String>,
    /// The context passage.
    #[arg(long, requires = "question")]
    pub context: Option<String>,
    /// Input file of `{"question", "context"}` lines (default without --question: stdin).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Questions per batch (with --input or stdin).
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Tokens per window.
    #[arg(long, default_value_t = 384)]
    pub max_seq_length: usize,
    /// Answer "" when the model's no-answer score beats its best span (SQuAD v2.0 models;
    /// transformers' `handle_impossible_answer=True`); by default the best span is returned.
    #[arg(long)]
    pub handle_impossible_answer: bool,
    /// Where and in which precision the model runs.
    #[command(flatten)]
    pub on: crate::device::DeviceArgs,
}

impl AnswerArgs {
    /// Runs `albert answer`.
    pub fn run(&self) -> Result<()> {
        let _precision = albert_core::precision::autocast(self.on.precision);
        let pipeline = Pipeline::load(
            &self.model,
            &PipelineOptions {
                batch_size: self.batch_size,
                handle_impossible_answer: self.handle_impossible_answer,
                ..options(Task::Answer, &self.on.device, self.max_seq_length)
            },
        )?;
        if let (Some(question), Some(context)) = (&self.question, &self.context) {
            let mut answers = pipeline.answer(&[(question.clone(), context.clone())])?;
            println!("{}", json!(answers.remove(0)));
            return Ok(());
        }
        let n = stream_lines(
            self.input.as_deref(),
            self.batch_size,
            answer_input,
            |items| {
                let answers = pipeline.answer(items)?;
                write_lines(answers.into_iter().map(|a| json!(a)))
            },
        )?;
        eprintln!("answered {n} questions");
        Ok(())
    }
}

/// The `top_k` most likely tokens at every `[MASK]` of `text`, as transformers' fill-mask
/// pipeline prints them ([`fill_mask_json`]). Works with `AlbertForPreTraining` and
/// `AlbertForMaskedLM` checkpoints (the SOP head and the pooler, which fill-mask does not use,
/// may be absent). Loads the model for this one call: keep a [`Pipeline`] for many.
pub fn fill_mask(
    model: &Path,
    text: &str,
    top_k: usize,
    device_name: &str,
) -> Result<serde_json::Value> {
    let pipeline = Pipeline::load(model, &options(Task::FillMask, device_name, 128))?;
    let mut per_text = pipeline.fill_mask(&[text.to_string()], top_k)?;
    Ok(fill_mask_json(per_text.remove(0)))
}

/// One text's fill-mask result as the pipeline prints it: for one mask a list of `{score,
/// token, token_str, sequence}` (`token` the id, `token_str` its text, `sequence` the text with
/// the mask filled, special tokens skipped), for several masks one such list per mask (each
/// `sequence` fills that mask alone and keeps the others).
pub fn fill_mask_json(mut per_mask: Vec<Vec<MaskCandidate>>) -> serde_json::Value {
    if per_mask.len() == 1 {
        json!(per_mask.remove(0))
    } else {
        json!(per_mask)
    }
}

/// The answer to `question` in `context` with a SQuAD-fine-tuned model, as transformers'
/// question-answering pipeline prints it: `{"score", "start", "end", "answer"}`, `start`/`end`
/// character offsets into `context`, the span widened to whole words (the pipeline's
/// `align_to_words`). It always answers (`PipelineOptions::handle_impossible_answer` on a
/// [`Pipeline`] abstains).
pub fn answer(
    model: &Path,
    question: &str,
    context: &str,
    max_seq_length: usize,
    device_name: &str,
) -> Result<serde_json::Value> {
    let pipeline = Pipeline::load(model, &options(Task::Answer, device_name, max_seq_length))?;
    let mut answers = pipeline.answer(&[(question.to_string(), context.to_string())])?;
    Ok(json!(answers.remove(0)))
}

/// The options of a one-task CLI pipeline (the precision is the thread's autocast scope).
fn options(task: Task, device: &str, max_seq_length: usize) -> PipelineOptions {
    PipelineOptions {
        task: Some(task),
        device: device.to_string(),
        precision: albert_core::precision::current(),
        max_seq_length,
        ..PipelineOptions::default()
    }
}

/// One input of `albert classify`: a line of `text` or `text<TAB>pair`, or a JSON object
/// `{"text": …, "text_pair": …}` (the pipeline's input form; `text_pair` optional).
fn classify_input(line: &str) -> std::result::Result<(String, Option<String>), String> {
    if line.trim_start().starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
        return crate::serve::request::text_input(&v, "a JSON input")
            .map_err(crate::serve::request::RequestError::message);
    }
    Ok(match line.split_once('\t') {
        Some((a, b)) => (a.to_string(), Some(b.to_string())),
        None => (line.to_string(), None),
    })
}

/// One output line of `albert classify`: as transformers' text-classification pipeline,
/// `{"label", "score"}` for the best label, or with `top_k` the list of the `top_k` best; a
/// regression model (one output) gives its value as `{"score"}` (the pipeline would squash it
/// through a sigmoid).
pub fn classify_json(mut ranked: Vec<LabelScore>, top_k: Option<usize>) -> serde_json::Value {
    match top_k {
        None => json!(ranked.swap_remove(0)),
        Some(_) => json!(ranked),
    }
}

/// Runs `albert classify`: one JSON line per input line of `input` (stdin when `None`; see
/// [`classify_input`] for the forms), read and answered `batch_size` at a time, so results
/// stream out while the input is still being written ([`classify_output`] for the form).
/// Returns the number of inputs.
pub fn classify(
    model: &Path,
    input: Option<&Path>,
    batch_size: usize,
    max_seq_length: usize,
    top_k: Option<usize>,
    device_name: &str,
) -> Result<usize> {
    let pipeline = Pipeline::load(
        model,
        &PipelineOptions {
            batch_size,
            ..options(Task::Classify, device_name, max_seq_length)
        },
    )?;
    let k = top_k.unwrap_or(1);
    stream_inputs(input, batch_size, |rows| {
        let ranked = pipeline.classify(rows, k)?;
        write_lines(ranked.into_iter().map(|r| classify_json(r, top_k)))
    })
}

/// Reads the inputs of `albert classify` / `albert embed` from `input` (stdin when `None`), one
/// per line ([`classify_input`]), and hands them to `emit` `batch_size` at a time as they
/// arrive. Returns how many there were.
pub(crate) fn stream_inputs(
    input: Option<&Path>,
    batch_size: usize,
    emit: impl FnMut(&[(String, Option<String>)]) -> Result<()>,
) -> Result<usize> {
    stream_lines(input, batch_size, classify_input, emit)
}

/// Reads one input per non-empty line of `input` (stdin when `None`), parsed by `parse` (its
/// error is reported with the file and line), and hands them to `emit` `batch_size` at a time
/// as they arrive. Returns how many there were.
pub(crate) fn stream_lines<T>(
    input: Option<&Path>,
    batch_size: usize,
    parse: impl Fn(&str) -> std::result::Result<T, String>,
    mut emit: impl FnMut(&[T]) -> Result<()>,
) -> Result<usize> {
    use std::io::BufRead;
    let name = input.map_or_else(|| PathBuf::from("<stdin>"), Path::to_path_buf);
    let io = |e: std::io::Error| RunnerError::Io {
        path: name.clone(),
        source: e,
    };
    let reader: Box<dyn BufRead> = match input {
        Some(p) => Box::new(std::io::BufReader::new(std::fs::File::open(p).map_err(io)?)),
        None => Box::new(std::io::stdin().lock()),
    };
    let batch_size = batch_size.max(1);
    // A bar on a terminal only (inputs counted; the total when reading a file): stdout carries
    // the results, and logs get the final count from the caller.
    let total = input
        .filter(|_| std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .and_then(|p| std::fs::File::open(p).ok())
        .map(|f| {
            std::io::BufReader::new(f)
                .split(b'\n')
                .map_while(std::result::Result::ok)
                .filter(|l| !l.trim_ascii().is_empty())
                .count() as u64
        });
    let progress = albert_heads::progress::Progress::new(true, total, 0, "inputs", 0);
    let mut emit = |rows: &[T]| -> Result<()> {
        emit(rows)?;
        progress.inc(rows.len() as u64);
        Ok(())
    };
    let mut rows = Vec::with_capacity(batch_size);
    let mut count = 0;
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(io)?;
        let line = std::str::from_utf8(&line).map_err(|_| RunnerError::BadFile {
            path: name.clone(),
            message: format!("line {}: invalid UTF-8", i + 1),
        })?;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let row = parse(line).map_err(|message| RunnerError::BadFile {
            path: name.clone(),
            message: format!("line {}: {message}", i + 1),
        })?;
        rows.push(row);
        count += 1;
        if rows.len() == batch_size {
            emit(&rows)?;
            rows.clear();
        }
    }
    if !rows.is_empty() {
        emit(&rows)?;
    }
    Ok(count)
}

/// One text input line (`albert fill-mask`, `albert tag`): the line, or `{"text": …}`.
pub(crate) fn text_line(line: &str) -> std::result::Result<String, String> {
    if line.trim_start().starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
        return v["text"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "a JSON input needs a \"text\" string".to_string());
    }
    Ok(line.to_string())
}

/// One input of `albert fill-mask --input`: a [`text_line`] with a `[MASK]`.
fn fill_mask_input(line: &str) -> std::result::Result<String, String> {
    let text = text_line(line)?;
    if !text.contains("[MASK]") {
        return Err(format!("no [MASK] in {text:?}"));
    }
    Ok(text)
}

/// One input of `albert answer --input`: `{"question": …, "context": …}`.
fn answer_input(line: &str) -> std::result::Result<(String, String), String> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let field = |k: &str| {
        v[k].as_str().map(str::to_string).ok_or_else(|| {
            format!("needs a \"{k}\" string (one {{\"question\", \"context\"}} object per line)")
        })
    };
    Ok((field("question")?, field("context")?))
}

/// Writes one JSON value per line to stdout and flushes (so results stream).
pub(crate) fn write_lines(values: impl Iterator<Item = serde_json::Value>) -> Result<()> {
    use std::io::Write;
    let out_err = |e: std::io::Error| RunnerError::Io {
        path: PathBuf::from("<stdout>"),
        source: e,
    };
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    for v in values {
        writeln!(w, "{v}").map_err(out_err)?;
    }
    w.flush().map_err(out_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_reads_lines_tabs_and_json() {
        assert_eq!(classify_input("good film"), Ok(("good film".into(), None)));
        assert_eq!(classify_input("a\tb"), Ok(("a".into(), Some("b".into()))));
        assert_eq!(
            classify_input(r#"{"text": "a\tb", "text_pair": "c"}"#),
            Ok(("a\tb".into(), Some("c".into())))
        );
        assert!(classify_input(r#"{"txt": "a"}"#).is_err_and(|e| e.contains("\"text\"")));
        assert!(classify_input(r#"{"text": "a", "text_pair": 3}"#).is_err());
        assert!(classify_input("{oops").is_err_and(|e| e.contains("invalid JSON")));
    }

    #[test]
    fn classify_prints_the_pipeline_form() {
        let ranked = || {
            vec![
                LabelScore {
                    label: Some("pos".into()),
                    score: 0.7,
                },
                LabelScore {
                    label: Some("neg".into()),
                    score: 0.2,
                },
            ]
        };
        assert_eq!(
            classify_json(ranked(), None),
            serde_json::json!({"label": "pos", "score": 0.7f32})
        );
        assert_eq!(
            classify_json(ranked(), Some(2)),
            serde_json::json!([{"label": "pos", "score": 0.7f32}, {"label": "neg", "score": 0.2f32}])
        );
    }
}
