//! SQuAD evaluation exactly as the official scripts (`evaluate-v2.0.py`, which reduces to
//! `evaluate-v1.1.py` when every question has an answer): answer normalisation (lower case,
//! ASCII punctuation removed, the articles `a`/`an`/`the` removed, whitespace collapsed), exact
//! match and bag-of-tokens F1 maximised over the gold answers, the HasAns/NoAns breakdown, and
//! the no-answer probability threshold that maximises each score.

use std::collections::{BTreeMap, HashMap};

/// Python's `str.isspace` (what `str.split()` splits on): Rust's whitespace plus U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// A character of Python's `\w` (Unicode): alphanumeric or `_`.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The official `normalize_answer`.
pub fn normalize_answer(s: &str) -> String {
    let lower = s.to_lowercase();
    let no_punct: String = lower
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    // re.sub(r'\b(a|an|the)\b', ' ', text): a maximal run of word characters equal to an article.
    let mut no_articles = String::with_capacity(no_punct.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if matches!(word.as_str(), "a" | "an" | "the") {
            out.push(' ');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in no_punct.chars() {
        if is_word(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut no_articles);
            no_articles.push(c);
        }
    }
    flush(&mut word, &mut no_articles);
    no_articles
        .split(is_py_space)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn tokens(s: &str) -> Vec<String> {
    normalize_answer(s)
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// `compute_exact`: 1 when the normalised strings are equal.
pub fn exact_match(gold: &str, pred: &str) -> f64 {
    f64::from(u8::from(normalize_answer(gold) == normalize_answer(pred)))
}

/// `compute_f1`: bag-of-tokens F1 of the normalised answers (1 when both are empty, 0 when only
/// one is).
pub fn f1(gold: &str, pred: &str) -> f64 {
    let (g, p) = (tokens(gold), tokens(pred));
    if g.is_empty() || p.is_empty() {
        return f64::from(u8::from(g == p));
    }
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for t in &g {
        *counts.entry(t).or_default() += 1;
    }
    let mut same = 0;
    for t in &p {
        if let Some(c) = counts.get_mut(t.as_str())
            && *c > 0
        {
            *c -= 1;
            same += 1;
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / p.len() as f64;
    let recall = same as f64 / g.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// One question to score.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The question id.
    pub id: String,
    /// Gold answer texts (empty for an unanswerable v2.0 question).
    pub answers: Vec<String>,
}

impl Question {
    /// Has a gold answer (the script's `bool(qa['answers'])`: the raw list, not normalised).
    pub fn has_answer(&self) -> bool {
        !self.answers.is_empty()
    }
}

/// Raw per-question scores: max over golds of exact and F1; a question whose golds all
/// normalise to "" counts as unanswerable (gold `""`).
fn raw_scores(q: &Question, pred: &str) -> (f64, f64) {
    let golds: Vec<&str> = q
        .answers
        .iter()
        .map(String::as_str)
        .filter(|a| !normalize_answer(a).is_empty())
        .collect();
    let golds = if golds.is_empty() { vec![""] } else { golds };
    let em = golds
        .iter()
        .map(|g| exact_match(g, pred))
        .fold(0.0, f64::max);
    let f = golds.iter().map(|g| f1(g, pred)).fold(0.0, f64::max);
    (em, f)
}

/// The official evaluation's output, keyed as `evaluate-v2.0.py` prints it (`exact`, `f1`,
/// `total`, `HasAns_*`, `NoAns_*`, and with no-answer probabilities `best_exact`,
/// `best_exact_thresh`, `best_f1`, `best_f1_thresh`). Scores are percentages.
pub type Report = BTreeMap<String, f64>;

/// Evaluates `predictions` (id → answer text, `""` for "no answer"). With `na_probs` (id → the
/// model's no-answer probability or score) the best thresholds are searched as the script's
/// `find_all_best_thresh` does; the headline numbers apply the script's default threshold
/// of 1.0. Questions without a prediction count as wrong answers "" (the script warns).
pub fn evaluate(
    questions: &[Question],
    predictions: &HashMap<String, String>,
    na_probs: Option<&HashMap<String, f64>>,
) -> Report {
    let mut exact = HashMap::new();
    let mut f1s = HashMap::new();
    for q in questions {
        let pred = predictions.get(&q.id).map_or("", String::as_str);
        let (e, f) = raw_scores(q, pred);
        exact.insert(q.id.as_str(), e);
        f1s.insert(q.id.as_str(), f);
    }
    let has: HashMap<&str, bool> = questions
        .iter()
        .map(|q| (q.id.as_str(), q.has_answer()))
        .collect();
    let threshold = 1.0;
    let apply = |scores: &HashMap<&str, f64>| -> HashMap<String, f64> {
        scores
            .iter()
            .map(|(id, &s)| {
                let p = na_probs.and_then(|m| m.get(*id)).copied().unwrap_or(0.0);
                let v = if p > threshold {
                    f64::from(u8::from(!has[id]))
                } else {
                    s
                };
                ((*id).to_string(), v)
            })
            .collect()
    };
    let (exact_t, f1_t) = (apply(&exact), apply(&f1s));
    let mut report = Report::new();
    let mut block = |prefix: &str, keep: &dyn Fn(&Question) -> bool| {
        let ids: Vec<&str> = questions
            .iter()
            .filter(|q| keep(q))
            .map(|q| q.id.as_str())
            .collect();
        if ids.is_empty() {
            return;
        }
        let n = ids.len() as f64;
        let mean = |m: &HashMap<String, f64>| 100.0 * ids.iter().map(|i| m[*i]).sum::<f64>() / n;
        report.insert(format!("{prefix}exact"), mean(&exact_t));
        report.insert(format!("{prefix}f1"), mean(&f1_t));
        report.insert(format!("{prefix}total"), n);
    };
    block("", &|_| true);
    block("HasAns_", &|q| q.has_answer());
    block("NoAns_", &|q| !q.has_answer());
    if let Some(na) = na_probs {
        for (name, scores) in [("exact", &exact), ("f1", &f1s)] {
            let (best, thresh) = best_threshold(questions, predictions, scores, na, &has);
            report.insert(format!("best_{name}"), best);
            report.insert(format!("best_{name}_thresh"), thresh);
        }
    }
    report
}

/// `find_best_thresh`: start from answering nothing (all NoAns right), then admit questions in
/// increasing no-answer probability and keep the best running score.
fn best_threshold(
    questions: &[Question],
    predictions: &HashMap<String, String>,
    scores: &HashMap<&str, f64>,
    na: &HashMap<String, f64>,
    has: &HashMap<&str, bool>,
) -> (f64, f64) {
    let no_answers = questions.iter().filter(|q| !has[q.id.as_str()]).count() as f64;
    let mut current = no_answers;
    let (mut best, mut best_thresh) = (current, 0.0);
    let mut order: Vec<(&str, f64)> = questions
        .iter()
        .map(|q| (q.id.as_str(), na.get(&q.id).copied().unwrap_or(0.0)))
        .collect();
    // Python's sorted() is stable: equal probabilities keep dataset order.
    order.sort_by(|a, b| a.1.total_cmp(&b.1));
    for (id, p) in order {
        let diff = if has[id] {
            scores[id]
        } else if predictions.get(id).is_some_and(|a| !a.is_empty()) {
            -1.0
        } else {
            0.0
        };
        current += diff;
        if current > best {
            best = current;
            best_thresh = p;
        }
    }
    (100.0 * best / questions.len().max(1) as f64, best_thresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // Expected values checked with the official script's normalize_answer in Python 3.
    fn normalisation_follows_the_official_script() {
        assert_eq!(normalize_answer("The  Eiffel Tower!"), "eiffel tower");
        assert_eq!(normalize_answer("an apple, a pear"), "apple pear");
        // Articles only as whole words; punctuation removed before the article pass.
        assert_eq!(normalize_answer("theater"), "theater");
        assert_eq!(normalize_answer("the-end"), "theend");
        assert_eq!(normalize_answer("A.B.C."), "abc");
        // Non-ASCII punctuation is kept; \b sees it as a non-word character.
        assert_eq!(normalize_answer("the—end"), "—end");
        assert_eq!(normalize_answer("Über  Straße\u{1f}x"), "über straße x");
        assert_eq!(normalize_answer(""), "");
    }

    #[test]
    fn f1_and_exact_match_hand_values() {
        assert_eq!(exact_match("The Denver Broncos", "denver broncos"), 1.0);
        assert_eq!(exact_match("Denver Broncos", "Broncos"), 0.0);
        // gold 2 tokens, pred 1 common of 1: P 1, R 1/2 → F1 2/3.
        assert!((f1("Denver Broncos", "the Broncos") - 2.0 / 3.0).abs() < 1e-12);
        // Repeated tokens count with multiplicity: gold "x x y", pred "x y y": common x and y
        // (2 tokens); P 2/3, R 2/3.
        assert!((f1("x x y", "x y y") - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(f1("", ""), 1.0);
        assert_eq!(f1("", "something"), 0.0);
        assert_eq!(f1("a", "the"), 1.0, "both normalise to empty");
    }

    fn q(id: &str, answers: &[&str]) -> Question {
        Question {
            id: id.into(),
            answers: answers.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn v2_report_with_thresholds() {
        let questions = vec![
            q("1", &["Paris", "the city of Paris"]),
            q("2", &["1066"]),
            q("3", &[]),
            q("4", &[]),
        ];
        let predictions: HashMap<String, String> = [
            ("1", "city of Paris"),
            ("2", "in 1066 AD"),
            ("3", ""),
            ("4", "Normandy"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let r = evaluate(&questions, &predictions, None);
        // exact: q1 1 ("city of paris" = normalised gold 2), q2 0, q3 1, q4 0 → 50%.
        assert!((r["exact"] - 50.0).abs() < 1e-9);
        // f1: q1 1, q2 2·(1/3·1)/(1/3+1) = 0.5, q3 1, q4 0 → 62.5%.
        assert!((r["f1"] - 62.5).abs() < 1e-9);
        assert!((r["HasAns_exact"] - 50.0).abs() < 1e-9);
        assert!((r["HasAns_f1"] - 75.0).abs() < 1e-9);
        assert!((r["NoAns_exact"] - 50.0).abs() < 1e-9);
        assert_eq!(r["total"], 4.0);
        assert_eq!(r["HasAns_total"], 2.0);

        // No-answer probabilities: q4's high probability should make it abstain.
        let na: HashMap<String, f64> = [("1", 0.1), ("2", 0.3), ("3", 0.9), ("4", 0.8)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let r = evaluate(&questions, &predictions, Some(&na));
        // Start 2 (both NoAns right); +1 (q1, p .1) → 3 best@0.1; +0 (q2 exact) ;
        // q4 (p .8, answered) −1 → 2; q3 (p .9, empty) 0. best_exact 75% at 0.1.
        assert!((r["best_exact"] - 75.0).abs() < 1e-9);
        assert!((r["best_exact_thresh"] - 0.1).abs() < 1e-12);
        // F1: 2 → 3 (0.1) → 3.5 (0.3) → 2.5 → 2.5: best 87.5% at 0.3.
        assert!((r["best_f1"] - 87.5).abs() < 1e-9);
        assert!((r["best_f1_thresh"] - 0.3).abs() < 1e-12);
        // The default threshold 1.0 changes nothing here.
        assert!((r["exact"] - 50.0).abs() < 1e-9);
    }
}
