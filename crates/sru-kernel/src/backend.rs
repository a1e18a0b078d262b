//! The backend extension traits through which every implementation plugs in.
//!
//! [`RecurrenceBackend`] is what the public function needs: a forward pass. Inner backends
//! (Flex, `CubeBackend`, `Fusion<..>`) also implement [`RecurrenceKernels`], the forward that
//! keeps every cell state and the hand-written backward; `Autodiff<B>` builds its gradient from
//! those. Tensors here are primitives, already validated by [`crate::elementwise_recurrence`].
//!
//! Output packing: the forward returns one tensor `(L + 1, B, D)` whose rows `0..L` are `h`
//! and whose row `L` is the last cell state. One output keeps the autodiff graph to one node;
//! the public function slices it (a view) into `h` and `last_c`.

use burn::tensor::{DType, backend::Backend, ops::FloatTensor};

use crate::fused::FusedKernels;
use crate::options::RecurrenceConfig;

/// The inputs of one call, as primitives of backend `B`.
///
/// Shapes (time-major): `u (L, B, D·k)`, `x (L, B, D)`, `weight_c (2D)`, `bias (2D)`,
/// `c0 (B, D)`, `mask_c (B, D)`, `mask_pad (L, B)` with 1.0 at padded steps.
#[derive(Debug, Clone)]
pub struct RecurrenceInputs<B: Backend> {
    /// The projected input U, k parts per unit interleaved.
    pub u: FloatTensor<B>,
    /// The skip input x, present exactly when the config reads it (k = 3 with skip).
    pub x: Option<FloatTensor<B>>,
    /// `[v_f | v_r]`.
    pub weight_c: FloatTensor<B>,
    /// `[b_f | b_r]`.
    pub bias: FloatTensor<B>,
    /// Initial cell state.
    pub c0: FloatTensor<B>,
    /// Variational dropout mask on `r·(g - x')`.
    pub mask_c: Option<FloatTensor<B>>,
    /// Padding mask as floats, 1.0 = padded step.
    pub mask_pad: Option<FloatTensor<B>>,
}

/// Gradients of one call, as primitives of backend `B`.
#[derive(Debug, Clone)]
pub struct RecurrenceGrads<B: Backend> {
    /// dL/dU, `(L, B, D·k)`.
    pub u: FloatTensor<B>,
    /// dL/dx, `(L, B, D)` (already multiplied by `scale_x`), when x was read.
    pub x: Option<FloatTensor<B>>,
    /// dL/dweight_c, `(2D)`, summed over batch and time.
    pub weight_c: FloatTensor<B>,
    /// dL/dbias, `(2D)`.
    pub bias: FloatTensor<B>,
    /// dL/dc0, `(B, D)`.
    pub c0: FloatTensor<B>,
}

/// A Burn backend that can run the SRU element-wise recurrence forward.
pub trait RecurrenceBackend: FusedKernels {
    /// Whether the kernel computes with tensors of `dtype` (the public function refuses the
    /// others with [`crate::KernelError::UnsupportedDType`]). Every implementation here takes
    /// the four IEEE float types; f16 and bf16 are computed in f32.
    fn sru_supports_dtype(dtype: DType) -> bool {
        matches!(dtype, DType::F64 | DType::F32 | DType::F16 | DType::BF16)
    }

    /// Runs the recurrence; returns `(L + 1, B, D)`: `h` in rows `0..L`, the last state in row L.
    fn sru_forward(config: &RecurrenceConfig, inputs: RecurrenceInputs<Self>) -> FloatTensor<Self>;
}

/// The kernels an inner (non-autodiff) backend provides so that `Autodiff<Self>` can
/// differentiate the recurrence with the hand-written backward of spec §1.3.
pub trait RecurrenceKernels: RecurrenceBackend {
    /// Forward that also returns every cell state `c (L, B, D)` (the carried value at padded
    /// steps), which the backward reads instead of recomputing the recurrence.
    fn sru_forward_with_states(
        config: &RecurrenceConfig,
        inputs: RecurrenceInputs<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// The backward pass. `states` is the second output of [`Self::sru_forward_with_states`];
    /// `grad_out` is the gradient of the packed `(L + 1, B, D)` output.
    fn sru_backward(
        config: &RecurrenceConfig,
        inputs: RecurrenceInputs<Self>,
        states: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
    ) -> RecurrenceGrads<Self>;
}
