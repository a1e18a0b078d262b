//! A linear layer over a time-major sequence `(L, B, in) → (L, B, out)`, computed on the
//! flattened `(L·B, in)` matrix. Burn applies `Linear` to a 3-D input as L batched products
//! with a broadcast weight; its weight gradient is then L outer products summed afterwards
//! (an `(L, in, out)` temporary). Flattened, forward and both gradients are single matrix
//! products. The weight and bias are cast to the input's dtype (no-ops unless under
//! [`crate::Autocast`]), so the product runs in the activations' precision. The product is
//! sru-kernel's [`sru_kernel::linear`]: Burn's `linear` on the GPU; on Flex (also under
//! autodiff, with a hand-written backward) one write of each output, the bias fused.

use burn::nn::Linear;
use burn::tensor::Tensor;
use sru_kernel::FusedKernels;

/// `lin(x)` for `x (L, B, in)`, in the dtype of `x`.
pub(crate) fn linear_seq<B: FusedKernels>(lin: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [l, b, d] = x.dims();
    let y = linear_2d(lin, x.reshape([l * b, d]));
    let out = y.dims()[1];
    y.reshape([l, b, out])
}

/// `lin(x)` for `x (N, in)`, in the dtype of `x`.
pub(crate) fn linear_2d<B: FusedKernels>(lin: &Linear<B>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    let dtype = x.dtype();
    sru_kernel::linear(
        x,
        lin.weight.val().cast(dtype),
        lin.bias.as_ref().map(|b| b.val().cast(dtype)),
    )
    .expect("a Linear's weight and bias fit its input (checked when the layer is built)")
}
