//! Transformer-XL's relative multi-head attention with global position biases
//! (`RelPartialLearnableMultiHeadAttn` of kimiyoung/transformer-xl `mem_transformer.py`):
//!
//! ```text
//! c = [memory; w]                              (M + L, B, d)   memory = this layer's input
//! q, k, v = W_qkv c  (q: last L rows)          H heads of d_head, no bias     (LN(c) if pre-LN)
//! R = W_r pos_emb(K-1 … 0)                     (K, H, d_head)  K = M + L
//! score[i, j] = ((q_i + u) · k_j + (q_i + v_b) · R[K-1-(M+i-j)]) / sqrt(d_head)
//!             = AC + rel_shift(BD),  masked                    u = r_w_bias, v_b = r_r_bias
//! out = W_o (softmax_j(score) v)               (L, B, d)
//! post-LN: LayerNorm(w + dropout(out))         pre-LN: w + dropout(out)
//! ```
//! `rel_shift` is the original's pad-and-reshape trick, so the positions a query may not see
//! hold the same values as there (they are masked either way).

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, Linear};
use burn::tensor::activation::softmax;
use burn::tensor::{Tensor, backend::Backend, s};
use sru_kernel::FusedKernels;

use crate::autocast::full;
use crate::linear::linear_seq;

/// The attention sub-layer of a Transformer-XL decoder layer; field names follow the
/// original's `state_dict` (`layers.<i>.dec_attn.*`).
#[derive(Module, Debug)]
pub struct RelPartialLearnableMultiHeadAttn<B: Backend> {
    /// W_qkv: d → 3·H·d_head (queries, keys, values), no bias.
    pub qkv_net: Linear<B>,
    /// Dropout of the output (`drop`).
    pub drop: Dropout,
    /// Dropout of the attention weights (`dropatt`).
    pub dropatt: Dropout,
    /// W_o: H·d_head → d, no bias.
    pub o_net: Linear<B>,
    /// LayerNorm after the residual (post-LN) or on the input (pre-LN).
    pub layer_norm: LayerNorm<B>,
    /// W_r: d → H·d_head, projects the sinusoidal position embeddings, no bias.
    pub r_net: Linear<B>,
    /// Heads H.
    pub n_head: usize,
    /// Width of a head.
    pub d_head: usize,
    /// Pre-LN (`pre_lnorm`) instead of post-LN.
    pub pre_lnorm: bool,
}

impl<B: FusedKernels> RelPartialLearnableMultiHeadAttn<B> {
    /// One segment: `w (L, B, d)`, the projected-free position embeddings `r (K, d)`, the
    /// global biases `(H, d_head)`, the additive mask `(L, K)` and this layer's memory
    /// `(M, B, d)` (`M = K - L`).
    pub fn forward(
        &self,
        w: Tensor<B, 3>,
        r: Tensor<B, 2>,
        r_w_bias: &Param<Tensor<B, 2>>,
        r_r_bias: &Param<Tensor<B, 2>>,
        mask: Tensor<B, 2>,
        memory: Option<Tensor<B, 3>>,
    ) -> Tensor<B, 3> {
        let [l, b, _] = w.dims();
        let (h, dh) = (self.n_head, self.d_head);
        let hd = h * dh;
        let cat = match memory {
            Some(m) if m.dims()[0] > 0 => Tensor::cat(vec![m, w.clone()], 0),
            _ => w.clone(),
        };
        let k_len = cat.dims()[0];
        let cat = if self.pre_lnorm {
            layer_norm(&self.layer_norm, cat)
        } else {
            cat
        };
        let heads = linear_seq(&self.qkv_net, cat); // (K, B, 3·H·dh)
        let dtype = heads.dtype();
        // (len, B, H, dh) → (B, H, len, dh)
        let split = |t: Tensor<B, 3>, len: usize| t.reshape([len, b, h, dh]).permute([1, 2, 0, 3]);
        let q = split(heads.clone().slice(s![k_len - l.., .., 0..hd]), l);
        let k = split(heads.clone().slice(s![.., .., hd..2 * hd]), k_len);
        let v = split(heads.slice(s![.., .., 2 * hd..3 * hd]), k_len);
        let r_len = r.dims()[0];
        let rk = linear_seq(
            &self.r_net,
            r.reshape([r_len, 1, self.r_net.weight.dims()[0]]),
        )
        .reshape([r_len, h, dh])
        .permute([1, 2, 0]) // (H, dh, R)
        .unsqueeze_dim::<4>(0)
        .expand([b, h, dh, r_len]);
        let bias = |p: &Param<Tensor<B, 2>>| p.val().cast(dtype).reshape([1, h, 1, dh]);
        let ac = (q.clone() + bias(r_w_bias)).matmul(k.swap_dims(2, 3)); // (B, H, L, K)
        let bd = rel_shift((q + bias(r_r_bias)).matmul(rk)); // (B, H, L, R = K)
        let scale = 1.0 / (dh as f64).sqrt();
        let score = full((ac + bd) * scale) + full(mask).reshape([1, 1, l, k_len]);
        let prob = self.dropatt.forward(softmax(score, 3).cast(dtype));
        let vec = prob
            .matmul(v) // (B, H, L, dh)
            .permute([2, 0, 1, 3])
            .reshape([l, b, hd]);
        let out = self.drop.forward(linear_seq(&self.o_net, vec));
        if self.pre_lnorm {
            w + out
        } else {
            layer_norm(&self.layer_norm, w + out)
        }
    }
}

/// The original's `_rel_shift` on the last two dims `(L, R)`: prepend a zero column, read the
/// `(L, R + 1)` block as `(R + 1, L)`, drop its first row, read the rest as `(L, R)`. Row i is
/// then shifted left by `L - 1 - i`, so column j holds the relative distance `M + i - j`.
pub(crate) fn rel_shift<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [b, h, l, r] = x.dims();
    let zero = Tensor::<B, 4>::zeros([b, h, l, 1], (&x.device(), x.dtype()));
    Tensor::cat(vec![zero, x], 3)
        .reshape([b, h, r + 1, l])
        .slice(s![.., .., 1.., ..])
        .reshape([b, h, l, r])
}

/// LayerNorm in full precision (f32 under autocast), handed back in the input's dtype.
pub(crate) fn layer_norm<B: Backend>(ln: &LayerNorm<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let dtype = x.dtype();
    ln.forward(full(x)).cast(dtype)
}

/// Dropout of probability `p`.
pub(crate) fn dropout(p: f64) -> Dropout {
    DropoutConfig::new(p).init()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    #[test]
    fn rel_shift_moves_row_i_left_by_l_minus_1_minus_i() {
        // L = 2 queries, R = 3 positions; row 1 (the last query) stays, row 0 moves left by 1
        let x = Tensor::<Flex, 4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 1, 2, 3]),
            &Default::default(),
        );
        let y = rel_shift(x).into_data().to_vec::<f32>().unwrap();
        assert_eq!(y[..2], [2.0, 3.0]);
        assert_eq!(y[3..], [4.0, 5.0, 6.0]);
    }
}
