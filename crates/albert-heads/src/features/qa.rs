//! SQuAD features and answers, as the reference `run_squad.py` / `run_qa.py` build them:
//! `[CLS] question [SEP] context window [SEP]` with the question cut to `max_query_length`
//! tokens and the context cut into windows `doc_stride` tokens apart; the answer's character
//! span mapped to token positions (the `[CLS]` position when the answer is not inside the
//! window, or there is none); and, after the model, the n-best span search over every window of
//! an example with `max_answer_length`, the null score for SQuAD v2.0, and the answer text cut
//! from the original context by the tokens' offsets.

use albert_tokenizer::AlbertTokenizer;

use crate::error::Result;
use crate::tasks::squad::SquadExample;

/// Window settings (the ALBERT paper's SQuAD defaults: 384 / 128 / 64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QaWindowConfig {
    /// Tokens per feature, specials included.
    pub max_seq_length: usize,
    /// Tokens between the starts of consecutive context windows.
    pub doc_stride: usize,
    /// Question tokens kept.
    pub max_query_length: usize,
}

impl Default for QaWindowConfig {
    fn default() -> Self {
        Self {
            max_seq_length: 384,
            doc_stride: 128,
            max_query_length: 64,
        }
    }
}

/// One model input window of one example.
#[derive(Debug, Clone, PartialEq)]
pub struct QaFeature {
    /// Index of the example in the input slice.
    pub example: usize,
    /// `[CLS] q [SEP] window [SEP]`.
    pub input_ids: Vec<u32>,
    /// 0 for `[CLS] q [SEP]`, 1 after.
    pub token_type_ids: Vec<u32>,
    /// Byte span in the example's context of each position (`None` outside the window).
    pub context_spans: Vec<Option<(usize, usize)>>,
    /// Answer start position (0 = `[CLS]`: no answer in this window).
    pub start_position: usize,
    /// Answer end position (inclusive).
    pub end_position: usize,
}

/// Byte offset of character `c` in `s` (the end for `c == chars`).
fn byte_of_char(s: &str, c: usize) -> usize {
    s.char_indices().nth(c).map_or(s.len(), |(b, _)| b)
}

/// Builds the features of `examples`.
pub fn qa_features(
    tokenizer: &AlbertTokenizer,
    examples: &[SquadExample],
    config: &QaWindowConfig,
) -> Result<Vec<QaFeature>> {
    let special = tokenizer.special_ids();
    let mut out = Vec::new();
    for (e, ex) in examples.iter().enumerate() {
        let mut question = tokenizer.tokenize(&ex.question)?.ids;
        question.truncate(config.max_query_length);
        let context = tokenizer.tokenize(&ex.context)?;
        let window = config
            .max_seq_length
            .saturating_sub(question.len() + 3)
            .max(1);
        // The first answer's byte span (training label); none for unanswerable questions.
        let answer = ex.answers.first().map(|a| {
            let start = byte_of_char(&ex.context, a.start_char);
            let end = byte_of_char(&ex.context, a.start_char + a.text.chars().count());
            (start, end)
        });
        let answer_tokens = answer.and_then(|(s, t)| {
            let first = context.offsets.iter().position(|o| o.1 > s)?;
            let last = context.offsets.iter().rposition(|o| o.0 < t)?;
            (first <= last).then_some((first, last))
        });
        let mut begin = 0;
        loop {
            let end = (begin + window).min(context.len());
            let offset = question.len() + 2;
            let mut ids = Vec::with_capacity(config.max_seq_length);
            ids.push(special.cls);
            ids.extend_from_slice(&question);
            ids.push(special.sep);
            ids.extend_from_slice(&context.ids[begin..end]);
            ids.push(special.sep);
            let mut types = vec![0; offset];
            types.resize(ids.len(), 1);
            let mut spans = vec![None; offset];
            spans.extend(context.offsets[begin..end].iter().copied().map(Some));
            spans.push(None);
            let (start_position, end_position) = match answer_tokens {
                Some((a, b)) if a >= begin && b < end => (a - begin + offset, b - begin + offset),
                _ => (0, 0),
            };
            out.push(QaFeature {
                example: e,
                input_ids: ids,
                token_type_ids: types,
                context_spans: spans,
                start_position,
                end_position,
            });
            if end >= context.len() {
                break;
            }
            begin += config.doc_stride.min(window).max(1);
        }
    }
    Ok(out)
}

/// Span-search settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QaDecodeConfig {
    /// Start and end candidates kept per window.
    pub n_best: usize,
    /// Longest answer, in tokens.
    pub max_answer_length: usize,
    /// SQuAD v2.0: answer "" when `null score − best span score` exceeds `null_threshold`.
    pub version_2: bool,
    /// The threshold (tuned on dev data with the best-threshold search of the metrics).
    pub null_threshold: f64,
}

impl Default for QaDecodeConfig {
    fn default() -> Self {
        Self {
            n_best: 20,
            max_answer_length: 30,
            version_2: false,
            null_threshold: 0.0,
        }
    }
}

/// The answer of one example.
#[derive(Debug, Clone, PartialEq)]
pub struct QaAnswer {
    /// Example index.
    pub example: usize,
    /// The answer ("" = no answer).
    pub text: String,
    /// The best valid span's text, even when the v2.0 decision was "no answer" (what the
    /// no-answer threshold search admits).
    pub best_span: Option<String>,
    /// Best span score (start + end logit), `-inf` when no valid span exists.
    pub span_score: f64,
    /// Lowest null score (`[CLS]` start + end logit) over the example's windows.
    pub null_score: f64,
}

impl QaAnswer {
    /// `null_score − span_score`: the no-answer score used to tune the threshold.
    pub fn null_score_diff(&self) -> f64 {
        self.null_score - self.span_score
    }
}

fn top(logits: &[f32], n: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    idx.truncate(n);
    idx
}

/// Picks each example's answer from its windows' start/end logits (`logits[f]` belongs to
/// `features[f]`).
pub fn qa_answers(
    examples: &[SquadExample],
    features: &[QaFeature],
    start_logits: &[Vec<f32>],
    end_logits: &[Vec<f32>],
    config: &QaDecodeConfig,
) -> Vec<QaAnswer> {
    let mut answers: Vec<QaAnswer> = (0..examples.len())
        .map(|example| QaAnswer {
            example,
            text: String::new(),
            best_span: None,
            span_score: f64::NEG_INFINITY,
            null_score: f64::INFINITY,
        })
        .collect();
    let mut best_span: Vec<Option<(usize, usize)>> = vec![None; examples.len()];
    for (f, feature) in features.iter().enumerate() {
        let (s, e) = (&start_logits[f], &end_logits[f]);
        let answer = &mut answers[feature.example];
        answer.null_score = answer.null_score.min(f64::from(s[0]) + f64::from(e[0]));
        for &i in &top(s, config.n_best) {
            for &j in &top(e, config.n_best) {
                let (Some(Some(a)), Some(Some(b))) =
                    (feature.context_spans.get(i), feature.context_spans.get(j))
                else {
                    continue;
                };
                if j < i || j - i + 1 > config.max_answer_length {
                    continue;
                }
                let score = f64::from(s[i]) + f64::from(e[j]);
                if score > answer.span_score {
                    answer.span_score = score;
                    best_span[feature.example] = Some((a.0, b.1));
                }
            }
        }
    }
    for (answer, span) in answers.iter_mut().zip(best_span) {
        let context = &examples[answer.example].context;
        let abstain = config.version_2
            && (span.is_none() || answer.null_score_diff() > config.null_threshold);
        answer.best_span = span.map(|(a, b)| context[a..b].to_string());
        if !abstain {
            answer.text = answer.best_span.clone().unwrap_or_default();
        }
    }
    answers
}
