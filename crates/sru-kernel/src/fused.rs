//! Fused operations of the SRU++ layer (linear also differentiated, by hand):
//!
//! ```text
//! linear(x, W, b)             = x W + b                          x (N, in), W (in, out)
//! attention(q, k, v, mask)[l, n] = softmax_s(q_n k_nᵀ + mask)[l] v_n   q (N, L, hd), k, v (N, S, hd)
//! ```
//!
//! Every backend computes them from Burn's tensor ops ([`FusedKernels`]' default methods).
//! Flex overrides them for f32 and f64 (`cpu::dense`): the product writes its output once,
//! into memory that is not zeroed first, with the bias already in place; attention runs per
//! block of query rows, so the `(L, S)` scores of a whole head never exist at once, and
//! softmax is one pass over a row that is still in cache. Under `Autodiff<B>`, `linear` is one
//! graph node whose backward is [`FusedKernels::sru_linear_backward`] of the inner backend
//! (three products written once on Flex); attention is differentiated through Burn's ops.
//! The attention output is time-major, `(L, N, hd)`, so `(L, B·H, hd)` reshapes to the
//! layer's `(L, B, d')` without a copy.

use burn::tensor::activation::softmax;
use burn::tensor::module::linear as burn_linear;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Tensor, TensorPrimitive, backend::Backend};

use crate::error::KernelError;

/// The fused forward operations a backend provides. The default methods are Burn's own ops
/// (differentiable, every dtype); inputs are validated by [`linear`] and [`attention`].
pub trait FusedKernels: Backend {
    /// `x (N, in) · weight (in, out) + bias (out)` → `(N, out)`.
    fn sru_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
    ) -> FloatTensor<Self> {
        linear_ops::<Self>(x, weight, bias)
    }

    /// The gradients of [`Self::sru_linear`] for `grad (N, out)`: `dx = grad Wᵀ`,
    /// `dW = xᵀ grad` and `db = Σ_n grad`, each computed only where `need` asks for it
    /// (`[x, weight, bias]`).
    fn sru_linear_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        need: [bool; 3],
    ) -> [Option<FloatTensor<Self>>; 3] {
        linear_backward_ops::<Self>(x, weight, grad, need)
    }

    /// `softmax(q kᵀ + mask) v` per batch n, returned time-major `(L, N, hd)`; `mask (L, S)`
    /// is added to every batch's scores. Half-precision scores are lifted to f32 for the
    /// mask and softmax, as `torch.autocast` runs softmax.
    fn sru_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        mask: Option<FloatTensor<Self>>,
    ) -> FloatTensor<Self> {
        attention_ops::<Self>(q, k, v, mask)
    }
}

fn float<B: Backend, const D: usize>(t: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// [`FusedKernels::sru_linear`] from Burn's ops.
pub(crate) fn linear_ops<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: Option<FloatTensor<B>>,
) -> FloatTensor<B> {
    burn_linear(float::<B, 2>(x), float(weight), bias.map(float::<B, 1>))
        .into_primitive()
        .tensor()
}

/// [`FusedKernels::sru_linear_backward`] from Burn's ops.
pub(crate) fn linear_backward_ops<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    need: [bool; 3],
) -> [Option<FloatTensor<B>>; 3] {
    let (x, weight, grad) = (float::<B, 2>(x), float::<B, 2>(weight), float::<B, 2>(grad));
    let n = grad.dims()[1];
    let dx = need[0].then(|| grad.clone().matmul(weight.transpose()));
    let dw = need[1].then(|| x.transpose().matmul(grad.clone()));
    let db = need[2].then(|| grad.sum_dim(0).reshape([n]).into_primitive().tensor());
    [
        dx.map(|t| t.into_primitive().tensor()),
        dw.map(|t| t.into_primitive().tensor()),
        db,
    ]
}

/// [`FusedKernels::sru_attention`] from Burn's ops: the scores as one `(N, L, S)` tensor.
pub(crate) fn attention_ops<B: Backend>(
    q: FloatTensor<B>,
    k: FloatTensor<B>,
    v: FloatTensor<B>,
    mask: Option<FloatTensor<B>>,
) -> FloatTensor<B> {
    let (q, k, v) = (float::<B, 3>(q), float::<B, 3>(k), float::<B, 3>(v));
    let dtype = q.dtype();
    let [n, l, _] = q.dims();
    let s = k.dims()[1];
    let mut w = q.matmul(k.swap_dims(1, 2)); // (N, L, S)
    if matches!(dtype, DType::F16 | DType::BF16) {
        w = w.cast(DType::F32);
    }
    if let Some(mask) = mask {
        // As `(N, L·S) + (1, L·S)`: one shared row, which Flex adds with SIMD.
        let mask = float::<B, 2>(mask).cast(w.dtype()).reshape([1, l * s]);
        w = (w.reshape([n, l * s]) + mask).reshape([n, l, s]);
    }
    softmax(w, 2)
        .cast(dtype)
        .matmul(v)
        .swap_dims(0, 1)
        .into_primitive()
        .tensor()
}

fn shape_error(name: &'static str, actual: Vec<usize>, expected: Vec<usize>) -> KernelError {
    KernelError::Shape {
        name,
        actual,
        expected,
    }
}

fn dtype_error(name: &'static str, actual: DType, expected: DType) -> KernelError {
    KernelError::DType {
        name,
        actual: format!("{actual:?}"),
        expected: format!("{expected:?}"),
    }
}

/// `x W + b` for `x (N, in)`, `weight (in, out)` (Burn's `Linear` layout), `bias (out)`.
///
/// # Errors
/// [`KernelError::Shape`] when `weight` or `bias` does not fit `x`, [`KernelError::DType`]
/// when they differ in dtype.
pub fn linear<B: FusedKernels>(
    x: Tensor<B, 2>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Result<Tensor<B, 2>, KernelError> {
    let [_, d_in] = x.dims();
    let [w_in, d_out] = weight.dims();
    if w_in != d_in {
        return Err(shape_error(
            "weight",
            weight.dims().to_vec(),
            vec![d_in, d_out],
        ));
    }
    if weight.dtype() != x.dtype() {
        return Err(dtype_error("weight", weight.dtype(), x.dtype()));
    }
    if let Some(b) = &bias {
        if b.dims() != [d_out] {
            return Err(shape_error("bias", b.dims().to_vec(), vec![d_out]));
        }
        if b.dtype() != x.dtype() {
            return Err(dtype_error("bias", b.dtype(), x.dtype()));
        }
    }
    let out = B::sru_linear(
        x.into_primitive().tensor(),
        weight.into_primitive().tensor(),
        bias.map(|b| b.into_primitive().tensor()),
    );
    Ok(float(out))
}

/// Scaled dot-product attention of SRU++ without dropout or key padding:
/// `softmax(q kᵀ + mask) v` for each of the N = B·H batches, as `(L, N, hd)`.
///
/// `q (N, L, hd)` (already scaled), `k` and `v (N, S, hd)`, `mask (L, S)` additive (0 or
/// -10000 in SRU++), shared by every batch. Any strides are accepted (the head views of the
/// layer are transposed views).
///
/// # Errors
/// [`KernelError::Shape`] when the shapes disagree, [`KernelError::DType`] when the dtypes do.
pub fn attention<B: FusedKernels>(
    q: Tensor<B, 3>,
    k: Tensor<B, 3>,
    v: Tensor<B, 3>,
    mask: Option<Tensor<B, 2>>,
) -> Result<Tensor<B, 3>, KernelError> {
    let [n, l, hd] = q.dims();
    let s = k.dims()[1];
    if k.dims() != [n, s, hd] {
        return Err(shape_error("k", k.dims().to_vec(), vec![n, s, hd]));
    }
    if v.dims() != [n, s, hd] {
        return Err(shape_error("v", v.dims().to_vec(), vec![n, s, hd]));
    }
    for (name, t) in [("k", k.dtype()), ("v", v.dtype())] {
        if t != q.dtype() {
            return Err(dtype_error(name, t, q.dtype()));
        }
    }
    if let Some(m) = &mask
        && m.dims() != [l, s]
    {
        return Err(shape_error("mask", m.dims().to_vec(), vec![l, s]));
    }
    let out = B::sru_attention(
        q.into_primitive().tensor(),
        k.into_primitive().tensor(),
        v.into_primitive().tensor(),
        mask.map(|m| m.into_primitive().tensor()),
    );
    Ok(float(out))
}
