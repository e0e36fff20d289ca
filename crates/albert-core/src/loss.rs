//! Losses shared by the pretraining objectives and the downstream heads.

use burn::tensor::{Int, Tensor};

/// Label value ignored by [`cross_entropy`] (PyTorch's and HF's `-100`).
pub const IGNORE_INDEX: i64 = -100;

/// Mean cross-entropy over the targets whose label is not `ignore_index`
/// (PyTorch `F.cross_entropy(logits, labels, ignore_index=...)`).
///
/// Labels other than `ignore_index` must lie in `0..C`; validate host-side data before
/// uploading it. When every label is ignored the loss is 0 (PyTorch returns NaN, which would
/// poison a training step).
///
/// # Shapes
/// - `logits`: `[N, C]`
/// - `labels`: `[N]`
/// - output: `[1]`
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>, ignore_index: i64) -> Tensor<1> {
    let [n, _] = logits.dims();
    let ignored = labels.clone().equal_elem(ignore_index);
    let safe_labels = labels.mask_fill(ignored.clone(), 0).reshape([n, 1]);
    let picked = crate::ops::log_softmax(logits)
        .gather(1, safe_labels)
        .reshape([n]);
    let keep = ignored.bool_not().float();
    let count = keep.clone().sum().clamp_min(1.0);
    -(picked * keep).sum() / count
}

/// Mean squared error (HF regression heads: `MSELoss` on squeezed logits).
///
/// # Shapes
/// - `predictions`, `targets`: `[N]`
/// - output: `[1]`
pub fn mse(predictions: Tensor<1>, targets: Tensor<1>) -> Tensor<1> {
    (predictions - targets).powi_scalar(2).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn cross_entropy_matches_hand_computation_and_ignores() {
        let device = Device::flex();
        // Row 0: logits [0, ln 3] -> p(class 1) = 3/4; row 1 ignored; row 2: uniform over 2.
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 3f32.ln(), 5.0, -5.0, 1.0, 1.0], [3, 2]),
            &device,
        );
        let labels =
            Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, IGNORE_INDEX, 0], [3]), &device);
        let loss: f32 = cross_entropy(logits, labels, IGNORE_INDEX).into_scalar();
        let expected = (-(0.75f32.ln()) + 2f32.ln()) / 2.0;
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
    }

    #[test]
    fn all_ignored_is_zero_not_nan() {
        let device = Device::flex();
        let logits = Tensor::<2>::ones([2, 3], &device);
        let labels =
            Tensor::<1, Int>::from_data(TensorData::new(vec![IGNORE_INDEX; 2], [2]), &device);
        let loss: f32 = cross_entropy(logits, labels, IGNORE_INDEX).into_scalar();
        assert_eq!(loss, 0.0);
    }

    #[test]
    fn mse_is_mean_square() {
        let device = Device::flex();
        let p = Tensor::<1>::from_data([1.0f32, 2.0, 4.0], &device);
        let t = Tensor::<1>::from_data([1.0f32, 0.0, 1.0], &device);
        let loss: f32 = mse(p, t).into_scalar();
        assert!((loss - 13.0 / 3.0).abs() < 1e-6);
    }
}
