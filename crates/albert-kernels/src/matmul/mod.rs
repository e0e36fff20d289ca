//! Matrix products on flex tensors' storage through `gemm` (the crate flex uses), reading
//! strided operands in place (a transposed weight is just other strides) and writing into
//! buffers we own: the [`super::AlbertKernels::fused_linear`] forward (its bias the initial value
//! of a narrow output, or one more inner dimension of a wide one) and its two backward products,
//! written once.

use std::borrow::Cow;

use burn_flex::FlexTensor;

use super::storage::contiguous_f32;

mod linear;

pub(super) use linear::{Product, linear_forward, linear_rows_many};

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

    /// Rows.
    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub(super) fn cols(&self) -> usize {
        self.cols
    }

    /// Element `[r, c]`.
    ///
    /// # Panics
    /// When it lies outside the storage.
    #[inline]
    pub(super) fn get(&self, r: usize, c: usize) -> f32 {
        debug_assert!(r < self.rows && c < self.cols);
        let at = self.offset as isize + r as isize * self.row_stride + c as isize * self.col_stride;
        self.data[at as usize]
    }

    /// Row `r` as a slice when its elements are adjacent (column stride 1).
    pub(super) fn row(&self, r: usize) -> Option<&[f32]> {
        assert!(r < self.rows, "albert kernels: row {r} of {}", self.rows);
        if self.col_stride != 1 && self.cols > 1 {
            return None;
        }
        let start = (self.offset as isize + r as isize * self.row_stride) as usize;
        Some(&self.data[start..start + self.cols])
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

    /// The transpose, taking the matrix (and its storage) along.
    pub(super) fn transposed(self) -> Matrix<'a> {
        Matrix {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Row `r` appended to `out` (checked views only).
    fn extend_row(&self, r: usize, out: &mut Vec<f32>) {
        let start = (self.offset as isize + r as isize * self.row_stride) as usize;
        if self.col_stride == 1 {
            out.extend_from_slice(&self.data[start..start + self.cols]);
        } else {
            let step = self.col_stride as usize;
            out.extend((0..self.cols).map(|c| self.data[start + c * step]));
        }
    }

    /// `[self | 1]`: a contiguous row-major copy with a column of ones appended.
    fn with_ones_column(&self) -> Matrix<'static> {
        self.check();
        let cols = self.cols + 1;
        let mut data = Vec::with_capacity(self.rows * cols);
        for r in 0..self.rows {
            self.extend_row(r, &mut data);
            data.push(1.0);
        }
        Matrix {
            data: Cow::Owned(data),
            offset: 0,
            rows: self.rows,
            cols,
            row_stride: cols as isize,
            col_stride: 1,
        }
    }

    /// `[self ; row]`: a contiguous copy with `row` appended below, column-major when `self`
    /// is (a transposed weight, such as the tied decoder's embedding table), else row-major.
    fn with_row(&self, row: &[f32]) -> Matrix<'static> {
        self.check();
        assert_eq!(row.len(), self.cols, "albert kernels: appended row size");
        let rows = self.rows + 1;
        let mut data = Vec::with_capacity(rows * self.cols);
        let column_major = self.row_stride == 1 && self.col_stride != 1;
        if column_major {
            let t = self.t();
            for (c, &last) in row.iter().enumerate() {
                t.extend_row(c, &mut data);
                data.push(last);
            }
        } else {
            for r in 0..self.rows {
                self.extend_row(r, &mut data);
            }
            data.extend_from_slice(row);
        }
        let (row_stride, col_stride) = if column_major {
            (1, rows as isize)
        } else {
            (self.cols as isize, 1)
        };
        Matrix {
            data: Cow::Owned(data),
            offset: 0,
            rows,
            cols: self.cols,
            row_stride,
            col_stride,
        }
    }

    /// Rows `first … first + rows − 1` (the same storage).
    fn row_block(&self, first: usize, rows: usize) -> Matrix<'_> {
        assert!(first + rows <= self.rows, "albert kernels: row block");
        Matrix {
            data: Cow::Borrowed(&self.data),
            offset: (self.offset as isize + first as isize * self.row_stride) as usize,
            rows,
            cols: self.cols,
            row_stride: self.row_stride,
            col_stride: self.col_stride,
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

/// `scale · lhs·rhs` as a new row-major buffer, written once by the product (no zero fill
/// first); multi-threaded when the product is large and `may_parallelise` (not for products
/// that are already one of many parallel tasks).
///
/// # Panics
/// When the shapes disagree or a view runs past its storage.
pub(super) fn gemm_new(
    lhs: &Matrix<'_>,
    rhs: &Matrix<'_>,
    scale: f32,
    may_parallelise: bool,
) -> Vec<f32> {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "albert kernels: inner dimensions differ");
    lhs.check();
    rhs.check();
    if m == 0 || n == 0 || k == 0 {
        return vec![0.0; m * n];
    }
    let mut out = Vec::with_capacity(m * n);
    // SAFETY: the fresh allocation holds m·n elements (row stride n) and aliases neither
    // operand (both checked). With `accumulate` false gemm sets its `alpha` to zero, and every
    // one of its paths then stores each of the m·n outputs (k > 0) without loading it first
    // (gemm-common 0.19: `gemm_basic_generic`, the micro-kernels' `alpha_status == 0` and
    // the gemv paths, which zero `dst` before accumulating), so all are initialised when the
    // length is set.
    #[allow(unsafe_code)]
    unsafe {
        raw_gemm(
            out.as_mut_ptr(),
            n,
            false,
            lhs,
            rhs,
            scale,
            parallelism(m, n, k, may_parallelise),
        );
        out.set_len(m * n);
    }
    out
}

/// Rayon for products of at least [`PARALLEL_WORK`] multiply-adds, when allowed.
fn parallelism(m: usize, n: usize, k: usize, may_parallelise: bool) -> gemm::Parallelism {
    if may_parallelise && m * n * k >= PARALLEL_WORK {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    }
}

/// `dst ← dst + lhs·rhs`, `dst` row-major `[lhs.rows, rhs.cols]`, multi-threaded when the
/// product is large.
///
/// # Panics
/// When the shapes disagree or a view runs past its storage.
pub(super) fn gemm_add(dst: &mut [f32], lhs: &Matrix<'_>, rhs: &Matrix<'_>) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "albert kernels: inner dimensions differ");
    assert_eq!(dst.len(), m * n, "albert kernels: output size");
    lhs.check();
    rhs.check();
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // SAFETY: `dst` holds m·n elements (row stride n, checked above) and is borrowed
    // mutably, so it aliases neither operand; both operands were checked.
    #[allow(unsafe_code)]
    unsafe {
        raw_gemm(
            dst.as_mut_ptr(),
            n,
            true,
            lhs,
            rhs,
            1.0,
            parallelism(m, n, k, true),
        );
    }
}

/// `dst ← (dst if accumulate) + scale · lhs·rhs`, `dst` holding `lhs.rows` rows of
/// `rhs.cols` values `dst_row_stride` apart: the one call into `gemm`.
///
/// # Safety
/// `dst` must be valid for writes at every `r·dst_row_stride + c` (`r < lhs.rows`,
/// `c < rhs.cols`), written by no one else meanwhile, and alias neither operand; both operands
/// must have passed [`Matrix::check`].
#[allow(unsafe_code)]
unsafe fn raw_gemm(
    dst: *mut f32,
    dst_row_stride: usize,
    accumulate: bool,
    lhs: &Matrix<'_>,
    rhs: &Matrix<'_>,
    scale: f32,
    parallelism: gemm::Parallelism,
) {
    // SAFETY: the caller's contract covers `dst`; the operands' offsets and strides address
    // only elements inside their storage (checked).
    unsafe {
        gemm::gemm(
            lhs.rows,
            rhs.cols,
            lhs.cols,
            dst,
            1,
            dst_row_stride as isize,
            accumulate,
            lhs.data.as_ptr().add(lhs.offset),
            lhs.col_stride,
            lhs.row_stride,
            rhs.data.as_ptr().add(rhs.offset),
            rhs.col_stride,
            rhs.row_stride,
            if accumulate { 1.0 } else { 0.0 },
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}

impl<'a> Matrix<'a> {
    /// Row-major `rows × cols` values the matrix owns.
    pub(super) fn owned(data: Vec<f32>, rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "albert kernels: matrix size");
        Self {
            data: Cow::Owned(data),
            offset: 0,
            rows,
            cols,
            row_stride: cols as isize,
            col_stride: 1,
        }
    }

    /// The `rows × cols` block of row-major `data` starting at `offset`, `row_stride` apart
    /// (a head's `n × d` slice of `[B·n, H]` rows, or one `n × n` score matrix).
    pub(super) fn block(
        data: &'a [f32],
        offset: usize,
        rows: usize,
        cols: usize,
        row_stride: usize,
    ) -> Self {
        Self {
            data: Cow::Borrowed(data),
            offset,
            rows,
            cols,
            row_stride: row_stride as isize,
            col_stride: 1,
        }
    }
}

/// `n` deterministic values in [-2, 2) from `seed` (tests of the product paths).
#[cfg(test)]
pub(super) fn test_values(n: usize, seed: u64) -> Vec<f32> {
    let step = |s: u64| {
        s.wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
    };
    let mut s = step(seed);
    (0..n)
        .map(|_| {
            s = step(s);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect()
}

/// A right operand `b` (`[k, n]` row-major values) as a weight may be stored: row-major, or
/// column-major when `transposed` (the transpose of `[n, k]`, as the tied decoder's embedding
/// table): the storage, for [`Matrix::stored_view`] (tests of the packed product paths).
#[cfg(test)]
pub(super) fn stored(b: &[f32], [k, n]: [usize; 2], transposed: bool) -> Vec<f32> {
    if !transposed {
        return b.to_vec();
    }
    (0..n)
        .flat_map(|j| (0..k).map(move |i| b[i * n + j]))
        .collect()
}

#[cfg(test)]
impl<'a> Matrix<'a> {
    /// The `[k, n]` view of storage [`stored`] made.
    pub(super) fn stored_view(store: &'a [f32], [k, n]: [usize; 2], transposed: bool) -> Self {
        if transposed {
            Matrix::block(store, 0, n, k, k).transposed()
        } else {
            Matrix::block(store, 0, k, n, n)
        }
    }
}

/// The `[B, n, H]` layout of per-head projections split into `heads` (each head an `n × d`
/// column block of an item's rows, `d = H / heads`).
pub(super) struct HeadRows {
    pub(super) items: usize,
    pub(super) n: usize,
    pub(super) hidden: usize,
    pub(super) heads: usize,
}

/// The [`HeadRows`] layout of a `[B, n, H]` tensor split into `heads`.
pub(super) fn head_rows(t: &FlexTensor, heads: usize) -> HeadRows {
    let shape = t.layout().shape();
    assert_eq!(shape.num_dims(), 3, "albert kernels: [B, n, H] rows");
    HeadRows {
        items: shape[0],
        n: shape[1],
        hidden: shape[2],
        heads,
    }
}

impl HeadRows {
    /// The `n × d` block of head `task % heads` of item `task / heads` in `data` (`[B, n, H]`
    /// row-major values).
    pub(super) fn block<'a>(&self, data: &'a [f32], task: usize, d: usize) -> Matrix<'a> {
        let (item, head) = (task / self.heads, task % self.heads);
        Matrix::block(
            data,
            item * self.n * self.hidden + head * d,
            self.n,
            d,
            self.hidden,
        )
    }
}

/// How the product blocks of [`tiled_products`] tile its output, one block per task.
pub(super) enum Tiles<'r> {
    /// `tasks` row-major `rows × cols` blocks one after the other (`[B, heads, n, n]` scores).
    Stacked {
        tasks: usize,
        rows: usize,
        cols: usize,
    },
    /// The (item, head) column blocks of `[B, n, H]` rows, task `item·heads + head`.
    Heads(&'r HeadRows),
}

impl Tiles<'_> {
    /// Tasks and output length.
    fn size(&self) -> (usize, usize) {
        match self {
            Tiles::Stacked { tasks, rows, cols } => (*tasks, tasks * rows * cols),
            Tiles::Heads(h) => (h.items * h.heads, h.items * h.n * h.hidden),
        }
    }

    /// Task `task`'s block: offset of its first element, rows, columns, row stride.
    fn block(&self, task: usize) -> (usize, usize, usize, usize) {
        match self {
            Tiles::Stacked { rows, cols, .. } => (task * rows * cols, *rows, *cols, *cols),
            Tiles::Heads(h) => {
                let d = h.hidden / h.heads;
                let (item, head) = (task / h.heads, task % h.heads);
                (item * h.n * h.hidden + head * d, h.n, d, h.hidden)
            }
        }
    }
}

/// A new buffer holding, in every task's tile, `scale·lhs·rhs` of the operands
/// `operands(task)` returns, each tile then passed row by row to `finish` when given (the
/// rounding of an output that is a product's operand, done by the task while its tile is in
/// cache, not as a pass of its own); tasks run in parallel, each product on one thread, and
/// the buffer is written once (no zero fill first).
///
/// # Panics
/// When a product's shape is not its tile's, an operand view runs past its storage, or `H` is
/// not a multiple of `heads`.
pub(super) fn tiled_products<'a>(
    tiles: &Tiles<'_>,
    operands: impl Fn(usize) -> (Matrix<'a>, Matrix<'a>, f32) + Sync,
    finish: Option<fn(&mut [f32])>,
) -> Vec<f32> {
    use rayon::prelude::*;
    if let Tiles::Heads(h) = tiles {
        assert!(
            h.heads > 0 && h.hidden % h.heads == 0,
            "albert kernels: heads"
        );
    }
    let (tasks, len) = tiles.size();
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let base = SharedPtr(out.as_mut_ptr());
    (0..tasks).into_par_iter().for_each(|task| {
        let (offset, rows, cols, row_stride) = tiles.block(task);
        let (lhs, rhs, scale) = operands(task);
        assert!(
            lhs.rows == rows && rhs.cols == cols && lhs.cols == rhs.rows,
            "albert kernels: tile product shape"
        );
        lhs.check();
        rhs.check();
        if rows == 0 || cols == 0 {
            return;
        }
        // SAFETY: the tiles partition the `len` elements of the allocation: `Stacked` blocks
        // are the consecutive ranges [t·rows·cols, (t+1)·rows·cols); a `Heads` block is rows
        // item·n … item·n + n − 1 of H columns, columns head·d … head·d + d − 1, and
        // heads·d = H (asserted), so the (item, head) blocks cover items·n·H elements once
        // each. Every element (r, c) a task addresses, offset + r·row_stride + c, lies inside
        // its own tile, which no other task touches; the operands were checked and are other
        // allocations. With `accumulate` false gemm stores every element of its output
        // without loading it (zeros when the inner dimension is 0; see `gemm_new`).
        #[allow(unsafe_code)]
        unsafe {
            raw_gemm(
                base.at(offset, len),
                row_stride,
                false,
                &lhs,
                &rhs,
                scale,
                gemm::Parallelism::None,
            );
        }
        if let Some(finish) = finish {
            for r in 0..rows {
                let at = offset + r * row_stride;
                assert!(at + cols <= len, "albert kernels: tile row");
                // SAFETY: row `r` of this task's tile (inside the allocation, checked), which
                // no other task touches (see above) and the product has just written.
                #[allow(unsafe_code)]
                let row = unsafe { std::slice::from_raw_parts_mut(base.at(at, len), cols) };
                finish(row);
            }
        }
    });
    // SAFETY: every task completed (a panic in one propagates before this line), so all
    // `len` elements were written (see above).
    #[allow(unsafe_code)]
    unsafe {
        out.set_len(len);
    }
    out
}

/// The output pointer, shared by the parallel tasks (each writes only its own tile).
#[derive(Clone, Copy)]
struct SharedPtr(*mut f32);

// SAFETY: see `tiled_products`: the tasks write disjoint tiles.
#[allow(unsafe_code)]
unsafe impl Send for SharedPtr {}
#[allow(unsafe_code)]
unsafe impl Sync for SharedPtr {}

impl SharedPtr {
    /// The pointer moved by `offset` elements (a method, so closures capture the whole
    /// wrapper).
    #[allow(unsafe_code)]
    fn at(self, offset: usize, len: usize) -> *mut f32 {
        assert!(offset <= len, "albert kernels: block offset");
        // SAFETY: `offset` is within the allocation of `len` elements (checked).
        unsafe { self.0.add(offset) }
    }
}
