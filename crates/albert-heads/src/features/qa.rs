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
    /// Widen the answer to whole words (whitespace-delimited, as transformers' QA pipeline
    /// does with `align_to_words`): a span starting or ending inside a word ("uth Africa")
    /// takes the whole word ("South Africa"). Off for evaluation, which scores the raw spans as
    /// `run_qa.py` does.
    pub align_to_words: bool,
}

impl Default for QaDecodeConfig {
    fn default() -> Self {
        Self {
            n_best: 20,
            max_answer_length: 30,
            version_2: false,
            null_threshold: 0.0,
            align_to_words: false,
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
    /// `text`'s first and one-past-last character (not byte) in the context; 0 and 0 for "".
    pub start: usize,
    /// See `start`.
    pub end: usize,
    /// The answer's probability as transformers' QA pipeline computes it: the softmax of the
    /// start logits at its first token times the softmax of the end logits at its last, over
    /// the window's context tokens (and `[CLS]` for SQuAD v2.0); for "" the `[CLS]` pair's.
    pub score: f64,
}

impl QaAnswer {
    /// `null_score − span_score`: the no-answer score used to tune the threshold.
    pub fn null_score_diff(&self) -> f64 {
        self.null_score - self.span_score
    }
}

/// The softmax of `logits` at `at` over the positions `keep` admits.
fn probability(logits: &[f32], at: usize, keep: impl Fn(usize) -> bool) -> f64 {
    let kept = || {
        (0..logits.len())
            .filter(|&i| keep(i))
            .map(|i| f64::from(logits[i]))
    };
    let max = kept().fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = kept().map(|l| (l - max).exp()).sum();
    (f64::from(logits[at]) - max).exp() / total
}

/// `(a, b)` (byte span of `context`) without surrounding whitespace, and with `align` widened
/// to the whole whitespace-delimited words it touches.
fn tidy_span(context: &str, (mut a, mut b): (usize, usize), align: bool) -> (usize, usize) {
    let is_space = |c: char| c.is_whitespace();
    while a < b && context[a..].starts_with(is_space) {
        a += context[a..].chars().next().map_or(1, char::len_utf8);
    }
    while b > a && context[..b].ends_with(is_space) {
        b -= context[..b].chars().next_back().map_or(1, char::len_utf8);
    }
    if align && a < b {
        a = context[..a]
            .char_indices()
            .rev()
            .find(|&(_, c)| is_space(c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        b = context[b..].find(is_space).map_or(context.len(), |i| b + i);
    }
    (a, b)
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
            start: 0,
            end: 0,
            score: 0.0,
        })
        .collect();
    let mut best_span: Vec<Option<(usize, usize)>> = vec![None; examples.len()];
    // Per example: the window and token positions of the best span, and of the lowest null.
    let mut best_at: Vec<Option<(usize, usize, usize)>> = vec![None; examples.len()];
    let mut null_at: Vec<Option<usize>> = vec![None; examples.len()];
    for (f, feature) in features.iter().enumerate() {
        let (s, e) = (&start_logits[f], &end_logits[f]);
        let answer = &mut answers[feature.example];
        let null = f64::from(s[0]) + f64::from(e[0]);
        if null < answer.null_score {
            answer.null_score = null;
            null_at[feature.example] = Some(f);
        }
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
                    best_at[feature.example] = Some((f, i, j));
                }
            }
        }
    }
    for (answer, span) in answers.iter_mut().zip(best_span) {
        let e = answer.example;
        let context = &examples[e].context;
        let abstain = config.version_2
            && (span.is_none() || answer.null_score_diff() > config.null_threshold);
        let span = span.map(|s| tidy_span(context, s, config.align_to_words));
        answer.best_span = span.map(|(a, b)| context[a..b].to_string());
        // Softmax over the window's context tokens (and [CLS] when "no answer" is possible).
        let keep = |f: usize| {
            let spans = &features[f].context_spans;
            move |i: usize| {
                (config.version_2 && i == 0) || spans.get(i).is_some_and(Option::is_some)
            }
        };
        if !abstain {
            answer.text = answer.best_span.clone().unwrap_or_default();
            if let (Some((a, _)), Some((f, i, j))) = (span, best_at[e]) {
                answer.start = context[..a].chars().count();
                answer.end = answer.start + answer.text.chars().count();
                answer.score = probability(&start_logits[f], i, keep(f))
                    * probability(&end_logits[f], j, keep(f));
            }
        } else if let Some(f) = null_at[e] {
            answer.score =
                probability(&start_logits[f], 0, keep(f)) * probability(&end_logits[f], 0, keep(f));
        }
    }
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_lose_whitespace_and_align_to_whole_words() {
        let c = "Cape Town, South Africa  is far.";
        let at = |s: &str| c.find(s).expect("in context");
        // "uth Africa" (inside "South") widens to "South Africa"; its leading space goes.
        let (a, b) = tidy_span(c, (at("uth"), at("  is")), true);
        assert_eq!(&c[a..b], "South Africa");
        let (a, b) = tidy_span(c, (at(" South"), at("frica") + 2), true);
        assert_eq!(&c[a..b], "South Africa");
        // Without alignment only the whitespace is trimmed.
        let (a, b) = tidy_span(c, (at(" South"), at("  is") + 1), false);
        assert_eq!(&c[a..b], "South Africa");
        // Punctuation stays with its word, as whitespace-delimited words go.
        let (a, b) = tidy_span(c, (at("Town"), at("Town") + 2), true);
        assert_eq!(&c[a..b], "Town,");
        // Multi-byte characters.
        let u = "le café crème";
        let (a, b) = tidy_span(u, (u.find("fé").expect("fé"), u.len() - 2), true);
        assert_eq!(&u[a..b], "café crème");
    }

    #[test]
    fn probability_is_a_softmax_over_the_kept_positions() {
        let logits = [1.0f32, 2.0, 3.0, 100.0];
        let p = probability(&logits, 2, |i| i < 3);
        let want = (3.0f64).exp() / (1.0f64.exp() + 2.0f64.exp() + 3.0f64.exp());
        assert!((p - want).abs() < 1e-12, "{p} vs {want}");
    }
}
