use super::*;
use crate::matmul::{stored, test_values as values};

/// A line's symmetric int8 quantisation, written out: its scale `max|v| / 127` and the
/// integers `round(v · 127 / max|v|)`, ties to even.
fn quantised(line: &[f32]) -> (f32, Vec<i64>) {
    let amax = line.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if amax == 0.0 {
        return (0.0, vec![0; line.len()]);
    }
    let q = line
        .iter()
        .map(|v| (v * (127.0 / amax)).round_ties_even() as i64)
        .collect();
    (amax / 127.0, q)
}

/// `start + a·b` the way the module documentation defines it, from the quantised integers'
/// plain sum in i64 (no unsigned offset): the reference every path must equal bit for bit.
fn reference(start: &[f32], a: &[f32], b: &[f32], [m, k, n]: [usize; 3]) -> Vec<f32> {
    let rows: Vec<(f32, Vec<i64>)> = (0..m).map(|i| quantised(&a[i * k..(i + 1) * k])).collect();
    let cols: Vec<(f32, Vec<i64>)> = (0..n)
        .map(|j| quantised(&(0..k).map(|l| b[l * n + j]).collect::<Vec<_>>()))
        .collect();
    let mut out = start.to_vec();
    for (i, (sa, qa)) in rows.iter().enumerate() {
        for (j, (sb, qb)) in cols.iter().enumerate() {
            let sum: i64 = qa.iter().zip(qb).map(|(x, y)| x * y).sum();
            out[i * n + j] += sum as f32 * (sa * sb);
        }
    }
    out
}

/// Every available path equals the reference bit for bit, over shapes with partial row
/// blocks, partial panels, inner dimensions that are not a multiple of 4, a transposed right
/// operand (the tied decoder's layout) and an all-zero input row; the output starts from
/// non-zero values (`dst + a·b`). And the result is the float product within the
/// quantisation's error bound.
#[test]
fn int8_products_match_the_quantised_sums() {
    let paths: Vec<Int8Path> = Int8Path::ALL
        .into_iter()
        .filter(|p| p.available())
        .collect();
    assert!(paths.contains(&Int8Path::Portable));
    eprintln!("int8 paths on this CPU: {paths:?}");
    for (m, k, n) in [
        (1, 1, 1),
        (3, 7, 5),
        (9, 16, 33),
        (37, 33, 70),
        (64, 130, 32),
    ] {
        let mut a = values(m * k, 1);
        // A zero row: scale 0, every output of it the start value.
        a[..k].iter_mut().for_each(|v| *v = 0.0);
        let b = values(k * n, 2);
        let start = values(m * n, 3);
        let want = reference(&start, &a, &b, [m, k, n]);
        for transposed in [false, true] {
            let b_store = stored(&b, [k, n], transposed);
            let packed = PackedI8::new(&Matrix::stored_view(&b_store, [k, n], transposed));
            assert_eq!(packed.dims(), [k, n]);
            for &path in &paths {
                let mut dst = start.clone();
                gemm_int8_add(&mut dst, &Matrix::block(&a, 0, m, k, k), &packed, path);
                assert_eq!(dst, want, "{path:?} {m}×{k}×{n} (transposed {transposed})");
            }
        }
        // Against the float product: each factor is off by at most half its scale.
        for i in 0..m {
            let row = &a[i * k..(i + 1) * k];
            let sa = row.iter().fold(0.0f32, |s, v| s.max(v.abs())) / 127.0;
            for j in 0..n {
                let col: Vec<f32> = (0..k).map(|l| b[l * n + j]).collect();
                let sb = col.iter().fold(0.0f32, |s, v| s.max(v.abs())) / 127.0;
                let (mut exact, mut bound) = (f64::from(start[i * n + j]), 1e-5);
                for (&x, &w) in row.iter().zip(&col) {
                    exact += f64::from(x) * f64::from(w);
                    bound += f64::from(x.abs() * sb / 2.0 + w.abs() * sa / 2.0 + sa * sb / 4.0);
                }
                let got = f64::from(want[i * n + j]);
                assert!(
                    (got - exact).abs() <= bound,
                    "[{i}, {j}] of {m}×{k}×{n}: {got} vs {exact} (bound {bound})"
                );
            }
        }
    }
}

/// A weight is quantised once while it is held elsewhere, again when it is another tensor.
#[test]
fn quantised_weights_are_kept_while_their_weight_lives() {
    use burn::tensor::TensorData;
    let w = FlexTensor::from_data(TensorData::new(values(12, 4), [3, 4]));
    let first = quantised_weight(&w);
    assert!(Arc::ptr_eq(&first, &quantised_weight(&w)));
    let other = FlexTensor::from_data(TensorData::new(values(12, 4), [3, 4]));
    assert!(!Arc::ptr_eq(&first, &quantised_weight(&other)));
}

/// A NaN or an infinity in an input row makes that row's outputs NaN, in a weight column that
/// column's (as float32 products would), on every path; the other outputs are unchanged.
#[test]
fn non_finite_values_give_nan_not_silent_numbers() {
    let (m, k, n) = (5, 9, 7);
    let (a, b) = (values(m * k, 11), values(k * n, 12));
    let start = vec![0.5f32; m * n];
    let run = |a: &[f32], b: &[f32], path| {
        let packed = PackedI8::new(&Matrix::block(b, 0, k, n, n));
        let mut dst = start.clone();
        gemm_int8_add(&mut dst, &Matrix::block(a, 0, m, k, k), &packed, path);
        dst
    };
    for path in Int8Path::ALL.into_iter().filter(|p| p.available()) {
        let clean = run(&a, &b, path);
        assert!(clean.iter().all(|v| v.is_finite()));
        let mut a_nan = a.clone();
        a_nan[2 * k + 3] = f32::NAN;
        let mut b_inf = b.clone();
        b_inf[4 * n + 5] = f32::INFINITY;
        let mut b_nan = b.clone();
        b_nan[n + 1] = f32::NAN;
        for (got, bad_row, bad_col) in [
            (run(&a_nan, &b, path), Some(2), None),
            (run(&a, &b_inf, path), None, Some(5)),
            (run(&a, &b_nan, path), None, Some(1)),
        ] {
            for i in 0..m {
                for j in 0..n {
                    let (g, c) = (got[i * n + j], clean[i * n + j]);
                    if Some(i) == bad_row || Some(j) == bad_col {
                        assert!(g.is_nan(), "{path:?} [{i}, {j}]: {g}");
                    } else {
                        assert_eq!(g, c, "{path:?} [{i}, {j}]");
                    }
                }
            }
        }
    }
}
