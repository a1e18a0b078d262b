//! The fused forward operations ([`crate::FusedKernels`]) on Flex, in f32 and f64, by the
//! `gemm` crate that Flex's own matrix product calls:
//!
//! - **linear**: `x W + b` written once into an output that is not zeroed first (Flex's
//!   product zero-fills its output and then copies it into an aligned buffer), with the bias
//!   copied in first and the product accumulated onto it; its backward, `grad Wᵀ` and
//!   `xᵀ grad` likewise (transposes are stride swaps) and the bias gradient as column sums;
//! - **attention**: per (batch, block of query rows, [`block_rows`]), the block's scores
//!   `q kᵀ (rows, S)` into a scratch buffer, mask and softmax row by row while the row is in
//!   cache, then `P v` straight into the time-major output. The whole `(N, L, S)` score
//!   tensor never exists, and softmax is one pass instead of five tensors.
//!
//! Other dtypes go through Burn's ops (the trait's default methods).

use burn::tensor::{DType, Shape, TensorData};
use burn_flex::{Flex, FlexTensor};
use rayon::prelude::*;

use super::flex::Held;
use super::real::{Real, exp_f32};
use super::shared::Unfilled;
use super::simd::simd_variant;
use crate::fused::{FusedKernels, attention_ops, linear_backward_ops, linear_ops};

/// Score elements of one attention work item (1 MiB of f32): its `rows × S` scores stay in
/// cache between the two products.
const BLOCK_SCORES: usize = 1 << 18;

/// Query rows per attention work item: as many as [`BLOCK_SCORES`] allows (each item packs
/// kᵀ and v for its products once, so fewer, taller items repack less), between 16 and 512,
/// and few enough that every thread gets at least two items.
fn block_rows(n: usize, l: usize, s: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let mut rows = (BLOCK_SCORES / s.max(1)).clamp(16, 512);
    while rows > 16 && n * l.div_ceil(rows) < 2 * threads {
        rows /= 2;
    }
    rows
}

/// Products of at least this many multiply-adds run on all threads (as Flex decides).
const PARALLEL_PRODUCT: usize = 192 * 192 * 192;

/// The float types the dense kernels run in.
trait Dense: Real + core::ops::Div<Output = Self> + PartialOrd + burn::tensor::Element {
    const NEG_INFINITY: Self;
    /// The smallest positive normal value: softmax weights below it are flushed to 0.
    const MIN_POSITIVE: Self;
    /// `e^x` (f32: the kernel's vectorisable `exp`; f64: the standard library's).
    fn exp(self) -> Self;
}

impl Dense for f32 {
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    const MIN_POSITIVE: Self = f32::MIN_POSITIVE;
    #[inline(always)]
    fn exp(self) -> Self {
        exp_f32(self)
    }
}

impl Dense for f64 {
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    const MIN_POSITIVE: Self = f64::MIN_POSITIVE;
    #[inline(always)]
    fn exp(self) -> Self {
        f64::exp(self)
    }
}

/// A strided matrix inside a Flex tensor: its first element and the strides of its rows and
/// columns, in elements.
#[derive(Clone, Copy)]
struct Matrix<T> {
    ptr: *const T,
    rows: isize,
    cols: isize,
}

// SAFETY: a `Matrix` only reads a tensor that the calling function keeps alive (and nobody
// writes) until every work item that holds the pointer has finished.
unsafe impl<T> Send for Matrix<T> {}
// SAFETY: as for `Send`: shared access only ever reads.
unsafe impl<T> Sync for Matrix<T> {}

impl<T> Matrix<T> {
    /// The same matrix transposed (a view: rows and columns swap strides).
    fn t(self) -> Self {
        Self {
            ptr: self.ptr,
            rows: self.cols,
            cols: self.rows,
        }
    }

    /// The matrix `index` of a 3-D tensor along its first dimension (or the tensor itself,
    /// when 2-D), with dimensions `row_dim` and `col_dim` as rows and columns.
    fn of(t: &FlexTensor, storage: &[T], index: usize, row_dim: usize, col_dim: usize) -> Self {
        let layout = t.layout();
        let strides = layout.strides();
        let offset = layout.start_offset() as isize
            + if strides.len() == 3 {
                index as isize * strides[0]
            } else {
                0
            };
        Self {
            // SAFETY: the offset of an element of the tensor's own storage; `wrapping_offset`
            // keeps this a plain address computation (the tensor is in bounds by its layout).
            ptr: storage.as_ptr().wrapping_offset(offset),
            rows: strides[row_dim],
            cols: strides[col_dim],
        }
    }
}

fn parallelism(m: usize, n: usize, k: usize) -> gemm::Parallelism {
    if m.saturating_mul(n).saturating_mul(k) >= PARALLEL_PRODUCT {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    }
}

/// `dst (m, n) = [dst +] lhs (m, k) · rhs (k, n)`; `dst` row-major with row stride `dst_rows`.
///
/// # Safety
/// Every matrix addresses valid memory for its shape; `dst` is written only here.
#[allow(clippy::too_many_arguments)]
unsafe fn product<T: Dense>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rows: usize,
    accumulate: bool,
    lhs: Matrix<T>,
    rhs: Matrix<T>,
    parallelism: gemm::Parallelism,
) {
    // SAFETY: forwarded from the caller; gemm writes each of the m × n destination elements
    // once, reading them first only when `accumulate` is set.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rows as isize,
            accumulate,
            lhs.ptr,
            lhs.cols,
            lhs.rows,
            rhs.ptr,
            rhs.cols,
            rhs.rows,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// A small operand (bias, mask) contiguous and in `T` (a copy only when it is not already).
fn held<T: Dense>(t: &FlexTensor) -> Held {
    Held::new(t, T::dtype())
}

fn linear<T: Dense>(x: &FlexTensor, w: &FlexTensor, bias: Option<&FlexTensor>) -> FlexTensor {
    let (m, k) = (x.layout().shape()[0], x.layout().shape()[1]);
    let n = w.layout().shape()[1];
    let (xs, ws) = (x.storage::<T>(), w.storage::<T>());
    let (lhs, rhs) = (Matrix::of(x, xs, 0, 0, 1), Matrix::of(w, ws, 0, 0, 1));
    let bias = bias.map(held::<T>);
    product_into_new(m, n, k, lhs, rhs, bias.as_ref().map(Held::slice))
}

/// `lhs (m, k) · rhs (k, n)` [+ `bias (n)` on every row] into a new row-major buffer, written
/// once: the bias rows first, the product accumulated onto them.
fn product_into_new<T: Dense>(
    m: usize,
    n: usize,
    k: usize,
    lhs: Matrix<T>,
    rhs: Matrix<T>,
    bias: Option<&[T]>,
) -> FlexTensor {
    let mut out: Unfilled<T> = Unfilled::new(m * n);
    if let Some(b) = bias {
        out.fill_rows(b, m);
    }
    // SAFETY: the matrices address tensors the caller keeps alive; the output has room for
    // m × n elements, all of which gemm writes (after the bias rows when there is a bias).
    unsafe {
        let dst = out.shared().ptr();
        product(
            m,
            n,
            k,
            dst,
            n,
            bias.is_some(),
            lhs,
            rhs,
            parallelism(m, n, k),
        );
    }
    // SAFETY: every element was written just above.
    let out = unsafe { out.filled() };
    FlexTensor::from_data(TensorData::new(out, Shape::new([m, n])))
}

/// Σ over the rows of `g (m, n)`, any strides, summed row after row (as a column sum).
fn column_sums<T: Dense>(g: &FlexTensor) -> FlexTensor {
    let shape = g.layout().shape();
    let (m, n) = (shape[0], shape[1]);
    let (rs, cs) = (g.layout().strides()[0], g.layout().strides()[1]);
    let start = g.layout().start_offset() as isize;
    let storage = g.storage::<T>();
    let mut sums = vec![T::ZERO; n];
    for r in 0..m as isize {
        let row = start + r * rs;
        if cs == 1 {
            let row = &storage[row as usize..row as usize + n];
            for (s, &v) in sums.iter_mut().zip(row) {
                *s = *s + v;
            }
        } else {
            for (j, s) in sums.iter_mut().enumerate() {
                *s = *s + storage[(row + j as isize * cs) as usize];
            }
        }
    }
    FlexTensor::from_data(TensorData::new(sums, Shape::new([n])))
}

fn linear_backward<T: Dense>(
    x: &FlexTensor,
    w: &FlexTensor,
    g: &FlexTensor,
    need: [bool; 3],
) -> [Option<FlexTensor>; 3] {
    let (m, k) = (x.layout().shape()[0], x.layout().shape()[1]);
    let n = w.layout().shape()[1];
    let (xs, ws, gs) = (x.storage::<T>(), w.storage::<T>(), g.storage::<T>());
    let (xm, wm, gm) = (
        Matrix::of(x, xs, 0, 0, 1),
        Matrix::of(w, ws, 0, 0, 1),
        Matrix::of(g, gs, 0, 0, 1),
    );
    [
        need[0].then(|| product_into_new(m, k, n, gm, wm.t(), None)),
        need[1].then(|| product_into_new(k, n, m, xm.t(), gm, None)),
        need[2].then(|| column_sums::<T>(g)),
    ]
}

/// Adds `mask`, then replaces `row` by its softmax: one pass for the maximum, one for the
/// exponentials and their sum (16 running sums, so the loop vectorises), one to normalise.
/// NaN propagates: a NaN score makes its row's sum, and so the whole row, NaN.
#[inline(always)]
fn softmax_row_body<T: Dense>(row: &mut [T], mask: Option<&[T]>) {
    const LANES: usize = 16;
    if let Some(mask) = mask {
        for (x, &a) in row.iter_mut().zip(mask) {
            *x = *x + a;
        }
    }
    let mut top = [T::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (t, &x) in top.iter_mut().zip(c) {
            *t = if x > *t { x } else { *t };
        }
    }
    let mut max = T::NEG_INFINITY;
    for &x in top.iter().chain(chunks.remainder()) {
        max = if x > max { x } else { max };
    }
    let mut sums = [T::ZERO; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for (s, x) in sums.iter_mut().zip(c.iter_mut()) {
            *x = (*x - max).exp();
            *s = *s + *x;
        }
    }
    let mut sum = T::ZERO;
    for x in chunks.into_remainder() {
        *x = (*x - max).exp();
        sum = sum + *x;
    }
    for s in sums {
        sum = sum + s;
    }
    // One division per row, then products (within an ulp of dividing each). Weights below
    // the normal range are flushed to 0: the masked keys' weights (e^-10000 is 0 in torch;
    // f32's `exp` stops at e^-87) would otherwise be subnormal, and a product over
    // subnormals runs several times slower (it was 83% of the inference step).
    let inv = T::ONE / sum;
    for x in row.iter_mut() {
        let p = *x * inv;
        *x = if p < T::MIN_POSITIVE { T::ZERO } else { p };
    }
}

simd_variant!(
    softmax_row, softmax_row_avx2, softmax_row_body,
    [T: Dense], [T], (row: &mut [T], mask: Option<&[T]>)
);

fn attention<T: Dense>(
    q: &FlexTensor,
    k: &FlexTensor,
    v: &FlexTensor,
    mask: Option<&FlexTensor>,
) -> FlexTensor {
    let shape = q.layout().shape();
    let (n, l, hd) = (shape[0], shape[1], shape[2]);
    let s = k.layout().shape()[1];
    let mask = mask.map(held::<T>);
    let mask = mask.as_ref().map(Held::slice::<T>);
    let (qs, ks, vs) = (q.storage::<T>(), k.storage::<T>(), v.storage::<T>());
    let mut out: Unfilled<T> = Unfilled::new(l * n * hd);
    let dst = out.shared();
    let block = block_rows(n, l, s);
    let blocks = l.div_ceil(block);
    (0..n * blocks).into_par_iter().for_each(|item| {
        let (b, r0) = (item / blocks, (item % blocks) * block);
        let rows = block.min(l - r0);
        let q_b = Matrix::of(q, qs, b, 1, 2);
        // SAFETY: row r0 of batch b, inside q's layout.
        let q_b = Matrix {
            ptr: q_b.ptr.wrapping_offset(r0 as isize * q_b.rows),
            ..q_b
        };
        let k_t = Matrix::of(k, ks, b, 2, 1); // kᵀ: (hd, S)
        let v_b = Matrix::of(v, vs, b, 1, 2);
        let mut scores: Unfilled<T> = Unfilled::new(rows * s);
        // SAFETY: q, k and v stay alive and unwritten for the whole parallel loop; `scores`
        // has room for rows × S elements, all written by this product.
        unsafe {
            let p = scores.shared().ptr();
            product(rows, s, hd, p, s, false, q_b, k_t, gemm::Parallelism::None);
        }
        // SAFETY: written just above.
        let mut scores = unsafe { scores.filled() };
        for (i, row) in scores.chunks_exact_mut(s).enumerate() {
            let m = mask.map(|m| &m[(r0 + i) * s..(r0 + i + 1) * s]);
            softmax_row(row, m);
        }
        let p = Matrix {
            ptr: scores.as_ptr(),
            rows: s as isize,
            cols: 1,
        };
        // SAFETY: this item alone writes rows r0..r0 + rows of batch b, which are the
        // elements ((r0 + i)·N + b)·hd .. + hd of the `(L, N, hd)` output, in bounds.
        unsafe {
            let at = dst.ptr().add((r0 * n + b) * hd);
            product(
                rows,
                hd,
                s,
                at,
                n * hd,
                false,
                p,
                v_b,
                gemm::Parallelism::None,
            );
        }
    });
    // SAFETY: the items cover every (row, batch) pair exactly once, each writing hd values.
    let out = unsafe { out.filled() };
    FlexTensor::from_data(TensorData::new(out, Shape::new([l, n, hd])))
}

impl FusedKernels for Flex {
    fn sru_linear(x: FlexTensor, weight: FlexTensor, bias: Option<FlexTensor>) -> FlexTensor {
        match (x.dtype(), weight.dtype()) {
            (DType::F32, DType::F32) => linear::<f32>(&x, &weight, bias.as_ref()),
            (DType::F64, DType::F64) => linear::<f64>(&x, &weight, bias.as_ref()),
            _ => linear_ops::<Flex>(x, weight, bias),
        }
    }

    fn sru_linear_backward(
        x: FlexTensor,
        weight: FlexTensor,
        grad: FlexTensor,
        need: [bool; 3],
    ) -> [Option<FlexTensor>; 3] {
        let same = weight.dtype() == x.dtype() && grad.dtype() == x.dtype();
        match x.dtype() {
            DType::F32 if same => linear_backward::<f32>(&x, &weight, &grad, need),
            DType::F64 if same => linear_backward::<f64>(&x, &weight, &grad, need),
            _ => linear_backward_ops::<Flex>(x, weight, grad, need),
        }
    }

    fn sru_attention(
        q: FlexTensor,
        k: FlexTensor,
        v: FlexTensor,
        mask: Option<FlexTensor>,
    ) -> FlexTensor {
        let same = k.dtype() == q.dtype() && v.dtype() == q.dtype();
        match q.dtype() {
            DType::F32 if same => attention::<f32>(&q, &k, &v, mask.as_ref()),
            DType::F64 if same => attention::<f64>(&q, &k, &v, mask.as_ref()),
            _ => attention_ops::<Flex>(q, k, v, mask),
        }
    }
}
