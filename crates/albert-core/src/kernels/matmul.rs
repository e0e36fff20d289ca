//! Matrix products on flex tensors' storage through `gemm` (the crate flex uses), reading
//! strided operands in place (a transposed weight is just other strides) and writing into
//! buffers we own: the [`super::AlbertKernels::fused_linear`] forward with its bias as the initial
//! value of the output, and its two backward products.

use std::borrow::Cow;

use burn_flex::FlexTensor;

use super::storage::contiguous_f32;

/// Below this many multiply-adds a product runs on one thread (flex's own threshold).
const PARALLEL_WORK: usize = 192 * 192 * 192;

/// A 2-D f32 operand as `gemm` reads it: storage, the offset of element `[0, 0]`, the shape and
/// the row and column strides (in elements).
pub(super) struct Matrix<'a> {
    data: Cow<'a, [f32]>,
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
}

impl<'a> Matrix<'a> {
    /// `t` (rank 2) in place when its strides are non-negative (contiguous, transposed or
    /// broadcast views), else a contiguous copy.
    pub(super) fn of(t: &'a FlexTensor) -> Self {
        let layout = t.layout();
        let shape = layout.shape();
        assert_eq!(shape.num_dims(), 2, "albert kernels: a matrix has rank 2");
        let (rows, cols) = (shape[0], shape[1]);
        let strides = layout.strides();
        if strides.iter().all(|&s| s >= 0) {
            return Self {
                data: Cow::Borrowed(t.storage::<f32>()),
                offset: layout.start_offset(),
                rows,
                cols,
                row_stride: strides[0],
                col_stride: strides[1],
            };
        }
        Self {
            data: contiguous_f32(t),
            offset: 0,
            rows,
            cols,
            row_stride: cols as isize,
            col_stride: 1,
        }
    }

    /// The transpose (the same storage, strides swapped).
    pub(super) fn t(&self) -> Matrix<'_> {
        Matrix {
            data: Cow::Borrowed(&self.data),
            offset: self.offset,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Panics unless every element the strides address lies inside the storage.
    fn check(&self) {
        if self.rows == 0 || self.cols == 0 {
            return;
        }
        let last = self.offset as isize
            + (self.rows as isize - 1) * self.row_stride
            + (self.cols as isize - 1) * self.col_stride;
        assert!(
            last >= 0 && (last as usize) < self.data.len(),
            "albert kernels: a {}×{} matrix view runs past its storage",
            self.rows,
            self.cols
        );
    }
}

/// `dst ← dst + lhs·rhs` (`accumulate`) or `dst ← lhs·rhs`, `dst` row-major
/// `[lhs.rows, rhs.cols]`.
///
/// # Panics
/// When the shapes disagree or a view runs past its storage.
pub(super) fn gemm_into(dst: &mut [f32], accumulate: bool, lhs: &Matrix<'_>, rhs: &Matrix<'_>) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "albert kernels: inner dimensions differ");
    assert_eq!(dst.len(), m * n, "albert kernels: output size");
    lhs.check();
    rhs.check();
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    let parallelism = if m * n * k >= PARALLEL_WORK {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    call_gemm(dst, n, accumulate, lhs, rhs, parallelism);
}

#[allow(unsafe_code)]
fn call_gemm(
    dst: &mut [f32],
    n: usize,
    accumulate: bool,
    lhs: &Matrix<'_>,
    rhs: &Matrix<'_>,
    parallelism: gemm::Parallelism,
) {
    // SAFETY: `gemm_into` checked that `dst` holds m·n elements (row stride n) and that every
    // element the operands' offsets and strides address lies inside their storage; `dst` is
    // borrowed mutably, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            lhs.rows,
            n,
            lhs.cols,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr().add(lhs.offset),
            lhs.col_stride,
            lhs.row_stride,
            rhs.data.as_ptr().add(rhs.offset),
            rhs.col_stride,
            rhs.row_stride,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
