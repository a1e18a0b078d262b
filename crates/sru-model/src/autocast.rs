//! Mixed precision as PyTorch's `torch.cuda.amp.autocast` runs the official scripts: the
//! parameters stay in their own dtype (f32), matrix products run in the activations' dtype
//! (f16 or bf16 under autocast), and LayerNorm, softmax, log-softmax and the loss run in f32.
//!
//! [`Autocast`] says which: a model under `Autocast::Half(dtype)` casts its input embeddings to
//! `dtype`; from there every product casts its weights to the dtype of its input
//! ([`crate::linear`]), every full-precision op lifts its input with [`full`] and hands its
//! result back in the activations' dtype, and the recurrence takes its parameters in U's
//! dtype. The casts are graph operations, so each f32 parameter receives an f32 gradient. Off,
//! every cast is a no-op (f32 and f64 models compute exactly as before).

use burn::tensor::{DType, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

/// Whether matrix products run in half precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Autocast {
    /// Everything in the parameters' dtype.
    #[default]
    Off,
    /// Activations and products in this half dtype (`F16` or `BF16`).
    Half(DType),
}

impl Autocast {
    /// `x` in the compute dtype (a no-op when off).
    pub fn activations<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Autocast::Off => x,
            Autocast::Half(dtype) => x.cast(dtype),
        }
    }
}

/// `x` lifted to f32 when it is half precision, for the ops autocast keeps in f32.
pub fn full<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    match x.dtype() {
        DType::F16 | DType::BF16 => x.cast(DType::F32),
        _ => x,
    }
}
