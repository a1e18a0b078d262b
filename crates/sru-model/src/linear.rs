//! A linear layer over a time-major sequence `(L, B, in) → (L, B, out)`, computed on the
//! flattened `(L·B, in)` matrix. Burn applies `Linear` to a 3-D input as L batched products
//! with a broadcast weight; its weight gradient is then L outer products summed afterwards
//! (an `(L, in, out)` temporary). Flattened, forward and both gradients are single matrix
//! products.

use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

/// `lin(x)` for `x (L, B, in)`.
pub(crate) fn linear_seq<B: Backend>(lin: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [l, b, d] = x.dims();
    let y = lin.forward(x.reshape([l * b, d]));
    let out = y.dims()[1];
    y.reshape([l, b, out])
}
