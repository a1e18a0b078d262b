//! One Transformer-XL decoder layer (`RelPartialLearnableDecoderLayer`): the relative
//! attention, then the position-wise feed-forward network (`PositionwiseFF`):
//!
//! ```text
//! a = RelAttention(x, memory)                       (L, B, d)
//! f = W_2 dropout(ReLU(W_1 a + b_1)) + b_2          d → d_inner → d, each with bias
//! post-LN: LayerNorm(a + dropout(f))                pre-LN: a + dropout(W_2 … (LN(a)))
//! ```

use burn::module::{Module, Param};
use burn::nn::{Dropout, LayerNorm, Linear};
use burn::tensor::{Tensor, activation::relu, backend::Backend};
use sru_kernel::FusedKernels;

use crate::linear::linear_seq;
use crate::txl::attention::{RelPartialLearnableMultiHeadAttn, layer_norm};

/// The feed-forward network `CoreNet = [Linear, ReLU, Dropout, Linear, Dropout]`; its two
/// linear layers are the original's `CoreNet.0` and `CoreNet.3` (the names
/// [`crate::weights`] reads and writes).
#[derive(Module, Debug)]
pub struct CoreNet<B: Backend> {
    /// `CoreNet.0`: d → d_inner.
    pub inner: Linear<B>,
    /// `CoreNet.3`: d_inner → d.
    pub outer: Linear<B>,
    /// The dropout after the ReLU and after the second product.
    pub drop: Dropout,
}

/// The position-wise feed-forward sub-layer with its LayerNorm (`layers.<i>.pos_ff.*`).
#[derive(Module, Debug)]
pub struct PositionwiseFF<B: Backend> {
    /// The two products (`CoreNet`).
    pub core_net: CoreNet<B>,
    /// LayerNorm after the residual (post-LN) or on the input (pre-LN).
    pub layer_norm: LayerNorm<B>,
    /// Pre-LN instead of post-LN.
    pub pre_lnorm: bool,
}

impl<B: FusedKernels> PositionwiseFF<B> {
    /// `x (L, B, d) → (L, B, d)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let net = &self.core_net;
        let core = |t: Tensor<B, 3>| {
            let hidden = net.drop.forward(relu(linear_seq(&net.inner, t)));
            net.drop.forward(linear_seq(&net.outer, hidden))
        };
        if self.pre_lnorm {
            core(layer_norm(&self.layer_norm, x.clone())) + x
        } else {
            let sum = x.clone() + core(x);
            layer_norm(&self.layer_norm, sum)
        }
    }
}

/// One decoder layer (`layers.<i>`).
#[derive(Module, Debug)]
pub struct RelPartialLearnableDecoderLayer<B: Backend> {
    /// The relative attention.
    pub dec_attn: RelPartialLearnableMultiHeadAttn<B>,
    /// The feed-forward network.
    pub pos_ff: PositionwiseFF<B>,
}

impl<B: FusedKernels> RelPartialLearnableDecoderLayer<B> {
    /// One segment through the layer; see [`RelPartialLearnableMultiHeadAttn::forward`].
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        r: Tensor<B, 2>,
        r_w_bias: &Param<Tensor<B, 2>>,
        r_r_bias: &Param<Tensor<B, 2>>,
        mask: Tensor<B, 2>,
        memory: Option<Tensor<B, 3>>,
    ) -> Tensor<B, 3> {
        let a = self
            .dec_attn
            .forward(x, r, r_w_bias, r_r_bias, mask, memory);
        self.pos_ff.forward(a)
    }
}
