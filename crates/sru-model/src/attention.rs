//! The SRU++ attention that produces U (spec §2.1, official `SRUppAttention`):
//!
//! ```text
//! z = W1 [memory; x]                 (M + L, B, d')   memory re-projected every call
//! q = z[M:] · (d'/H)^-1/2            [k | v] = W2 z   (keys first, then values)
//! A = softmax(q kᵀ + attn_mask, key padding → -inf) v      H heads = contiguous chunks of d'
//! o = LayerNorm(α·A + z[M:])         U = W3 dropout(o)     (L, B, out)
//! ```
//! No biases, no positional encoding; α is a learned scalar initialised to 0, so at
//! initialisation U = W3 W1 x. Heads are split batch-major (index b·H + h), as the official
//! `view(L, B·H, hd)`.

use crate::autocast::full;
use crate::init::{output_projection, xavier_linear};
use crate::linear::linear_seq;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Tensor, backend::Backend, s};
use sru_kernel::FusedKernels;

/// Options of [`SruppAttention`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SruppAttentionConfig {
    /// Input features of the layer.
    pub in_features: usize,
    /// Output features, `k · D`.
    pub out_features: usize,
    /// Attention dimension d'.
    pub proj_features: usize,
    /// Heads H (d' must be a multiple).
    pub num_heads: usize,
    /// Dropout before W3 (also scales W3's init by sqrt(1 - p)).
    pub dropout: f64,
    /// Dropout on the attention weights.
    pub attn_dropout: f64,
    /// LayerNorm after `α·A + z` (the official default inside SRU++).
    pub layer_norm: bool,
}

impl SruppAttentionConfig {
    /// Builds the module with the official initialisation: Xavier-uniform W1, W2, W3,
    /// W3 scaled by sqrt(1 - dropout), α = 0, LayerNorm weight 1 and bias 0.
    pub fn init<B: Backend>(&self, device: &B::Device) -> SruppAttention<B> {
        let lin = |i: usize, o: usize| xavier_linear::<B>(i, o, device);
        let linear3 =
            output_projection::<B>(self.proj_features, self.out_features, self.dropout, device);
        SruppAttention {
            linear1: lin(self.in_features, self.proj_features),
            linear2: lin(self.proj_features, 2 * self.proj_features),
            linear3,
            alpha: Param::from_tensor(Tensor::zeros([1], device)),
            layer_norm: self.layer_norm.then(|| {
                LayerNormConfig::new(self.proj_features)
                    .with_epsilon(1e-5)
                    .init(device)
            }),
            num_heads: self.num_heads,
            dropout: DropoutConfig::new(self.dropout).init(),
            attn_dropout: DropoutConfig::new(self.attn_dropout).init(),
        }
    }
}

/// The attention sub-layer of an SRU++ layer; field names follow the official state_dict.
#[derive(Module, Debug)]
pub struct SruppAttention<B: Backend> {
    /// W1: in → d' (queries and the residual).
    pub linear1: Linear<B>,
    /// W2: d' → 2d' (keys, then values).
    pub linear2: Linear<B>,
    /// W3: d' → k·D (the projection producing U).
    pub linear3: Linear<B>,
    /// α, the learned weight of the attention output (init 0).
    pub alpha: Param<Tensor<B, 1>>,
    /// LayerNorm after the residual sum.
    pub layer_norm: Option<LayerNorm<B>>,
    /// Heads.
    pub num_heads: usize,
    /// Dropout before W3.
    pub dropout: Dropout,
    /// Dropout on attention weights.
    pub attn_dropout: Dropout,
}

/// What the attention of one segment may see besides its input.
#[derive(Debug, Clone, Default)]
pub struct AttentionMasks<B: Backend> {
    /// Additive float mask `(L, M + L)` (0 or -10000), shared by batch and heads.
    pub attn_mask: Option<Tensor<B, 2>>,
    /// Padding of the current segment `(L, B)`, true = padded (keys masked with -inf).
    pub mask_pad: Option<Tensor<B, 2, Bool>>,
    /// Padding of the memory `(M, B)`.
    pub memory_mask_pad: Option<Tensor<B, 2, Bool>>,
}

impl<B: FusedKernels> SruppAttention<B> {
    /// Computes U for one segment.
    ///
    /// # Shapes
    /// `x (L, B, in)`, `memory (M, B, in)` → `U (L, B, out)`.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        memory: Option<Tensor<B, 3>>,
        masks: &AttentionMasks<B>,
    ) -> Tensor<B, 3> {
        let [l, b, _] = x.dims();
        let dp = self.linear1.weight.dims()[1];
        let heads = self.num_heads;
        let hd = dp / heads;
        let m = memory.as_ref().map_or(0, |mem| mem.dims()[0]);
        let dtype = x.dtype();
        let z = match memory {
            Some(mem) => linear_seq(&self.linear1, Tensor::cat(vec![mem.cast(dtype), x], 0)), // (M + L, B, d')
            None => linear_seq(&self.linear1, x),
        };
        let s_len = m + l;
        let residual = z.clone().slice(s![m..s_len, .., ..]); // (L, B, d')
        // Head views `(B·H, len, hd)`: a free reshape of a contiguous tensor, then a transposed
        // view (Flex's matmul takes any strides; a reshape of a slice would copy). q is scaled
        // first, which also makes it contiguous; k and v come from the two halves of W2 as
        // separate products rather than slices of one `(S, B, 2d')` result.
        let split = |t: Tensor<B, 3>, len: usize| t.reshape([len, b * heads, hd]).swap_dims(0, 1);
        let q = split(residual.clone().mul_scalar((hd as f64).powf(-0.5)), l);
        let (k, v) = self.keys_values(z);
        let (k, v) = (split(k, s_len), split(v, s_len));
        let padded = masks.mask_pad.is_some() || masks.memory_mask_pad.is_some();
        let dropping = B::ad_enabled(&q.device()) && self.attn_dropout.prob > 0.0;
        let a = if padded || dropping {
            self.general_attention(q, k, v, masks, m)
        } else {
            // Without key padding or dropout on the weights: sru-kernel's fused attention
            // (one pass per block of query rows on Flex, Burn's ops elsewhere).
            sru_kernel::attention(q, k, v, masks.attn_mask.clone())
                .expect("the head views agree in shape by construction")
        };
        let a = full(a.reshape([l, b, dp])); // (L, B, d')
        // α·A + residual and the LayerNorm in f32 (torch promotes them), U in `dtype`.
        let alpha = self.alpha.val().cast(a.dtype()).reshape([1, 1, 1]);
        let mut o = a * alpha + full(residual);
        if let Some(ln) = &self.layer_norm {
            o = ln.forward(o);
        }
        linear_seq(&self.linear3, self.dropout.forward(o.cast(dtype)))
    }

    /// `softmax(q kᵀ + masks) v` with key padding and dropout on the weights, from Burn's ops;
    /// returns `(L, B·H, hd)`. Scores, masks and softmax run in f32 under autocast (as torch
    /// autocast runs softmax).
    fn general_attention(
        &self,
        q: Tensor<B, 3>,
        k: Tensor<B, 3>,
        v: Tensor<B, 3>,
        masks: &AttentionMasks<B>,
        m: usize,
    ) -> Tensor<B, 3> {
        let dtype = q.dtype();
        let [bh, l, _] = q.dims();
        let s_len = k.dims()[1];
        let heads = self.num_heads;
        let b = bh / heads;
        let mut w = full(q.matmul(k.swap_dims(1, 2))); // (B·H, L, S)
        if let Some(mask) = &masks.attn_mask {
            let mask = mask.clone().cast(w.dtype());
            // As `(B·H, L·S) + (1, L·S)`: a shared row, which Flex adds with SIMD (a `(1, L, S)`
            // mask broadcast over three dims takes its per-element strided path).
            let rows = w.reshape([b * heads, l * s_len]) + mask.reshape([1, l * s_len]);
            w = rows.reshape([b * heads, l, s_len]);
        }
        if masks.mask_pad.is_some() || masks.memory_mask_pad.is_some() {
            let device = w.device();
            let keys = Tensor::cat(
                vec![
                    masks
                        .memory_mask_pad
                        .clone()
                        .unwrap_or_else(|| Tensor::<B, 2, Bool>::full([m, b], false, &device)),
                    masks
                        .mask_pad
                        .clone()
                        .unwrap_or_else(|| Tensor::<B, 2, Bool>::full([l, b], false, &device)),
                ],
                0,
            ); // (S, B)
            let keys = keys.swap_dims(0, 1).reshape([b, 1, 1, s_len]); // (B, 1, 1, S)
            let w4 = w.reshape([b, heads, l, s_len]);
            w = w4
                .mask_fill(keys.expand([b, heads, l, s_len]), f64::NEG_INFINITY)
                .reshape([b * heads, l, s_len]);
        }
        let w = self.attn_dropout.forward(softmax(w, 2)).cast(dtype);
        w.matmul(v).swap_dims(0, 1)
    }

    /// `[k | v] = W2 z` as two products, one per half of W2, each a contiguous `(S, B, d')`.
    fn keys_values(&self, z: Tensor<B, 3>) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let [s_len, b, dp] = z.dims();
        let z = z.reshape([s_len * b, dp]);
        let w = self.linear2.weight.val().cast(z.dtype()); // (d', 2d')
        let half = |cols: core::ops::Range<usize>| {
            let bias = self
                .linear2
                .bias
                .as_ref()
                .map(|b| b.val().cast(z.dtype()).slice(s![cols.clone()]));
            sru_kernel::linear(z.clone(), w.clone().slice(s![.., cols]), bias)
                .expect("W2's halves fit z by construction")
                .reshape([s_len, b, dp])
        };
        (half(0..dp), half(dp..2 * dp))
    }
}
