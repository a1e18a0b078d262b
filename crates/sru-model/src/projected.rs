//! The U projection of SRU++ layers without attention (spec §2.2, official
//! `SRUppProjectedLinear`): `U = W2 dropout(LN?(W1 x))`, both bias-free.

use crate::autocast::full;
use crate::init::{output_projection, xavier_linear};
use crate::linear::linear_seq;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Tensor, backend::Backend};
use sru_kernel::FusedKernels;

/// Options of [`ProjectedLinear`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProjectedLinearConfig {
    /// Input features.
    pub in_features: usize,
    /// Output features `k · D`.
    pub out_features: usize,
    /// Bottleneck d'.
    pub proj_features: usize,
    /// Dropout before W2 (also scales W2's init by sqrt(1 - p)).
    pub dropout: f64,
    /// LayerNorm over d' after W1.
    pub layer_norm: bool,
}

impl ProjectedLinearConfig {
    /// Builds the module with Xavier-uniform weights (W2 scaled by sqrt(1 - dropout)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> ProjectedLinear<B> {
        let lin = |i: usize, o: usize| xavier_linear::<B>(i, o, device);
        let linear2 =
            output_projection::<B>(self.proj_features, self.out_features, self.dropout, device);
        ProjectedLinear {
            linear1: lin(self.in_features, self.proj_features),
            linear2,
            layer_norm: self.layer_norm.then(|| {
                LayerNormConfig::new(self.proj_features)
                    .with_epsilon(1e-5)
                    .init(device)
            }),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

/// Low-rank projection producing U; field names follow the official state_dict.
#[derive(Module, Debug)]
pub struct ProjectedLinear<B: Backend> {
    /// W1: in → d'.
    pub linear1: Linear<B>,
    /// W2: d' → k·D.
    pub linear2: Linear<B>,
    /// Optional LayerNorm over d'.
    pub layer_norm: Option<LayerNorm<B>>,
    /// Dropout before W2.
    pub dropout: Dropout,
}

impl<B: FusedKernels> ProjectedLinear<B> {
    /// # Shapes
    /// `x (L, B, in)` → `U (L, B, out)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let dtype = x.dtype();
        let mut z = linear_seq(&self.linear1, x);
        if let Some(ln) = &self.layer_norm {
            z = ln.forward(full(z)).cast(dtype);
        }
        linear_seq(&self.linear2, self.dropout.forward(z))
    }
}
