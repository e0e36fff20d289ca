//! Classification metrics over label indices, with scikit-learn's definitions (including its
//! zero-division convention: a score whose denominator is 0 is 0).

/// Share of positions where `pred == gold`; `None` when empty or of different lengths.
pub fn accuracy(gold: &[usize], pred: &[usize]) -> Option<f64> {
    if gold.is_empty() || gold.len() != pred.len() {
        return None;
    }
    let right = gold.iter().zip(pred).filter(|(g, p)| g == p).count();
    Some(right as f64 / gold.len() as f64)
}

/// `(true positives, false positives, false negatives)` of `label`.
fn counts(gold: &[usize], pred: &[usize], label: usize) -> (usize, usize, usize) {
    let mut c = (0, 0, 0);
    for (&g, &p) in gold.iter().zip(pred) {
        match (g == label, p == label) {
            (true, true) => c.0 += 1,
            (false, true) => c.1 += 1,
            (true, false) => c.2 += 1,
            (false, false) => {}
        }
    }
    c
}

fn f1_of(tp: usize, fp: usize, fn_: usize) -> f64 {
    let denominator = 2 * tp + fp + fn_;
    if denominator == 0 {
        0.0
    } else {
        2.0 * tp as f64 / denominator as f64
    }
}

/// F1 of the positive class `positive` (sklearn `f1_score(average="binary")`, GLUE's MRPC/QQP F1
/// with `positive = 1`).
pub fn f1_binary(gold: &[usize], pred: &[usize], positive: usize) -> Option<f64> {
    if gold.is_empty() || gold.len() != pred.len() {
        return None;
    }
    let (tp, fp, fn_) = counts(gold, pred, positive);
    Some(f1_of(tp, fp, fn_))
}

/// Unweighted mean of the per-class F1 over every label that occurs in `gold` or `pred`
/// (sklearn `f1_score(average="macro")`).
pub fn f1_macro(gold: &[usize], pred: &[usize]) -> Option<f64> {
    if gold.is_empty() || gold.len() != pred.len() {
        return None;
    }
    let mut labels: Vec<usize> = gold.iter().chain(pred).copied().collect();
    labels.sort_unstable();
    labels.dedup();
    let sum: f64 = labels
        .iter()
        .map(|&l| {
            let (tp, fp, fn_) = counts(gold, pred, l);
            f1_of(tp, fp, fn_)
        })
        .sum();
    Some(sum / labels.len() as f64)
}

/// Matthews correlation coefficient, multi-class form (sklearn `matthews_corrcoef`; CoLA's
/// metric): `(c·s − Σ t_k p_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²))`, 0 when a factor is 0.
pub fn matthews_corrcoef(gold: &[usize], pred: &[usize]) -> Option<f64> {
    if gold.is_empty() || gold.len() != pred.len() {
        return None;
    }
    let k = gold.iter().chain(pred).copied().max().unwrap_or(0) + 1;
    let (mut t, mut p) = (vec![0f64; k], vec![0f64; k]);
    let mut correct = 0f64;
    for (&g, &q) in gold.iter().zip(pred) {
        t[g] += 1.0;
        p[q] += 1.0;
        if g == q {
            correct += 1.0;
        }
    }
    let s = gold.len() as f64;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let cov_tp = correct * s - dot(&t, &p);
    let cov_pp = s * s - dot(&p, &p);
    let cov_tt = s * s - dot(&t, &t);
    if cov_pp * cov_tt == 0.0 {
        return Some(0.0);
    }
    Some(cov_tp / (cov_tt * cov_pp).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    // gold/pred of 10 items; confusion (gold rows × pred cols): [[3, 1], [2, 4]].
    const GOLD: [usize; 10] = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
    const PRED: [usize; 10] = [0, 0, 0, 1, 0, 0, 1, 1, 1, 1];

    #[test]
    fn binary_scores_match_hand_computation() {
        assert_eq!(accuracy(&GOLD, &PRED), Some(0.7));
        // tp 4, fp 1, fn 2: F1 = 8 / (8 + 1 + 2).
        assert!((f1_binary(&GOLD, &PRED, 1).unwrap() - 8.0 / 11.0).abs() < 1e-12);
        // class 0: tp 3, fp 2, fn 1 → 6/9; macro = (6/9 + 8/11) / 2.
        let macro_f1 = (6.0 / 9.0 + 8.0 / 11.0) / 2.0;
        assert!((f1_macro(&GOLD, &PRED).unwrap() - macro_f1).abs() < 1e-12);
        // MCC = (tp·tn − fp·fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (12 − 2) / sqrt(5·6·4·5).
        let mcc = 10.0 / (600.0f64).sqrt();
        assert!((matthews_corrcoef(&GOLD, &PRED).unwrap() - mcc).abs() < 1e-12);
    }

    #[test]
    fn multiclass_mcc_matches_sklearn() {
        // sklearn.metrics.matthews_corrcoef([0,1,2,2,1,0], [0,2,2,1,1,0]) = 0.5
        // (c=4, s=6, t=[2,2,2], p=[2,2,2]: (24−12)/sqrt((36−12)(36−12)) = 0.5).
        let m = matthews_corrcoef(&[0, 1, 2, 2, 1, 0], &[0, 2, 2, 1, 1, 0]).unwrap();
        assert!((m - 0.5).abs() < 1e-12);
    }

    #[test]
    fn degenerate_cases() {
        // Constant prediction: MCC 0 (sklearn convention), F1 of the absent class 0.
        assert_eq!(matthews_corrcoef(&[0, 1, 1], &[1, 1, 1]), Some(0.0));
        assert_eq!(f1_binary(&[0, 0], &[0, 0], 1), Some(0.0));
        assert_eq!(accuracy(&[], &[]), None);
        assert_eq!(accuracy(&[1], &[1, 0]), None);
        // Perfect prediction.
        assert_eq!(matthews_corrcoef(&[0, 1, 2], &[0, 1, 2]), Some(1.0));
        assert_eq!(f1_macro(&[0, 1, 2], &[0, 1, 2]), Some(1.0));
    }
}
