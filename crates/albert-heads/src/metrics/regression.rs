//! Correlation metrics (STS-B): Pearson's r and Spearman's ρ as SciPy computes them.

/// Pearson correlation; `None` for fewer than 2 points, unequal lengths, or a constant input
/// (SciPy returns NaN there).
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() < 2 || x.len() != y.len() {
        return None;
    }
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// 1-based ranks, ties sharing their average rank (SciPy `rankdata(method="average")`).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = average;
        }
        i = j + 1;
    }
    out
}

/// Spearman rank correlation: Pearson's r of the average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() {
        return None;
    }
    pearson(&ranks(x), &ranks(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_matches_hand_computation() {
        // x = 1..5, y = [2, 4, 5, 4, 5]: sxy = 6, sxx = 10, syy = 6 → r = 6 / sqrt(60).
        let r = pearson(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 4.0, 5.0, 4.0, 5.0]).unwrap();
        assert!((r - 6.0 / 60f64.sqrt()).abs() < 1e-12);
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(pearson(&[1.0], &[1.0]), None);
    }

    #[test]
    fn spearman_uses_average_ranks() {
        // y ranks with ties: [1, 2.5, 4.5, 2.5, 4.5]; x ranks 1..5: sxy 7, sxx 10, syy 9 → 7/sqrt(90).
        // scipy.stats.spearmanr([1,2,3,4,5], [2,4,5,4,5]).correlation = 0.7378647873726218
        let r = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 4.0, 5.0, 4.0, 5.0]).unwrap();
        assert!((r - 0.737_864_787_372_621_8).abs() < 1e-12, "{r}");
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        // Monotone but non-linear: ρ = 1.
        let r = spearman(&[1.0, 2.0, 3.0], &[1.0, 8.0, 27.0]).unwrap();
        assert!((r - 1.0).abs() < 1e-12);
    }
}
