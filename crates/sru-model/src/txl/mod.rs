//! Transformer-XL (Dai et al. 2019), the paper's baseline, number for number the original
//! kimiyoung/transformer-xl `pytorch/mem_transformer.py` (`MemTransformerLM`, `attn_type=0`):
//!
//! ```text
//! e = sqrt(d) · Embedding(tokens)                         (L, B, d)   adaptive for word level
//! h_0 = dropout(e);  R = dropout(pos_emb(K-1 … 0))        K = M + L, distances clamped
//! h_i = Layer_i(h_{i-1}, memory_{i-1}, R, r_w_bias, r_r_bias, mask)     i = 1 … n_layer
//! logits = dropout(h_n) Eᵀ + b                            output tied to the embedding
//! memory'_i = last mem_len steps of [memory_i; h_i]       i = 0 … n_layer, detached by the caller
//! ```
//! The training mask lets query i (absolute position M + i) see keys j ≤ M + i; with
//! `same_length` every query sees the same number of keys (`mem_len`). Evaluation with a
//! window w is the original's evaluation setting: `same_length` with `mem_len = w`.
//!
//! The configuration and the original initialisation are in [`config`] ([`TxlConfig`]).

mod attention;
pub mod config;
mod layer;

pub use attention::RelPartialLearnableMultiHeadAttn;
pub use config::{INIT_STD, PROJ_INIT_STD, TxlConfig};
pub use layer::{CoreNet, PositionwiseFF, RelPartialLearnableDecoderLayer};

use burn::module::{Module, Param};
use burn::nn::{Dropout, Embedding};
use burn::tensor::activation::log_softmax;
use burn::tensor::{DType, Int, Tensor, TensorData, backend::Backend, s};
use sru_kernel::FusedKernels;

use crate::adaptive::{AdaptiveInput, AdaptiveSoftmax};
use crate::autocast::{Autocast, full};
use crate::error::ModelError;
use crate::head::{LmOutput, target_nll};
use crate::mask::MASKED;
use crate::state::LmState;

/// The byte-level embedding (`word_emb` with `cutoffs = []`, `div_val = 1`): one table
/// `emb_layers.0 (V, d)`, which the output layer shares.
#[derive(Module, Debug)]
pub struct TxlEmbedding<B: Backend> {
    /// The one table.
    pub emb_layers: Vec<Embedding<B>>,
}

/// The output bias of the byte-level softmax (`crit.out_layers.0.bias`; its weight is the
/// embedding table).
#[derive(Module, Debug)]
pub struct OutputBias<B: Backend> {
    /// `(V)`.
    pub bias: Param<Tensor<B, 1>>,
}

/// The byte-level softmax (`crit` with `cutoffs = []`).
#[derive(Module, Debug)]
pub struct TxlCrit<B: Backend> {
    /// The one cluster.
    pub out_layers: Vec<OutputBias<B>>,
}

/// Token embedding of a Transformer-XL.
#[derive(Module, Debug)]
pub enum TxlInput<B: Backend> {
    /// One table (byte level).
    Dense(TxlEmbedding<B>),
    /// Adaptive input sharing the softmax's tables (word level).
    Adaptive(AdaptiveInput<B>),
}

/// Output layer of a Transformer-XL.
#[derive(Module, Debug)]
pub enum TxlOutput<B: Backend> {
    /// Softmax over the tied table with its own bias (byte level).
    Dense(TxlCrit<B>),
    /// Projected adaptive log-softmax (word level).
    Adaptive(AdaptiveSoftmax<B>),
}

/// A Transformer-XL language model; parameter paths follow the original's `state_dict`
/// (`word_emb.*`, `layers.<i>.dec_attn.*`, `layers.<i>.pos_ff.*`, `crit.*`, `r_w_bias`,
/// `r_r_bias`).
#[derive(Module, Debug)]
pub struct TransformerXl<B: Backend> {
    /// Token embedding (scaled by sqrt(d) in the forward pass).
    pub word_emb: TxlInput<B>,
    /// Dropout of the embedding, the position embeddings and the last layer's output.
    pub drop: Dropout,
    /// The decoder layers.
    pub layers: Vec<RelPartialLearnableDecoderLayer<B>>,
    /// The output layer.
    pub crit: TxlOutput<B>,
    /// Global content bias u `(H, d_head)`.
    pub r_w_bias: Param<Tensor<B, 2>>,
    /// Global position bias v `(H, d_head)`.
    pub r_r_bias: Param<Tensor<B, 2>>,
    /// d_model.
    pub d_model: usize,
    /// Memory length of training.
    pub mem_len: usize,
    /// Same-length attention in training.
    pub same_length: bool,
    /// Clamp of the relative distances.
    pub clamp_len: Option<usize>,
    /// V.
    pub vocab_size: usize,
    /// Mixed precision of the forward pass (not saved with the weights).
    #[module(skip)]
    pub autocast: Autocast,
}

impl<B: FusedKernels> TransformerXl<B> {
    /// Layers.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// Whether the input ids index one dense table (checked on the device by the caller)
    /// rather than the adaptive input (which checks them on the host).
    pub fn dense_input(&self) -> bool {
        matches!(self.word_emb, TxlInput::Dense(_))
    }

    /// Whether the targets index one dense softmax (as [`Self::dense_input`]).
    pub fn dense_output(&self) -> bool {
        matches!(self.crit, TxlOutput::Dense(_))
    }

    /// The state before the first segment: no memory.
    pub fn zero_state(&self) -> LmState<B> {
        LmState {
            c: None,
            memory: Vec::new(),
        }
    }

    /// The state to decode on from the state [`Self::run`] returned: detached, its memory
    /// cut to `window` (the returned memory already holds the last steps of old and new).
    pub fn decoding_state(&self, next: LmState<B>, window: usize) -> LmState<B> {
        next.detach().truncate_memory(window)
    }

    /// The original's `pos_emb.inv_freq` buffer, `1 / 10000^(2i/d)` computed in float32 as
    /// the original computes it (then widened, as `model.double()` does).
    pub fn inv_freq(&self) -> Vec<f32> {
        inv_freq(self.d_model)
    }

    /// Runs the embedding and the layers on one segment of tokens `(L, B)` with the memory
    /// of `state` (`n_layer + 1` tensors `(M, B, d)`, or none). `window`: `None` for the
    /// training mask and memory length, `Some(w)` for evaluation (`same_length`, memory w).
    pub(crate) fn run(
        &self,
        tokens: Tensor<B, 2, Int>,
        state: Option<LmState<B>>,
        window: Option<usize>,
    ) -> Result<LmOutput<B>, ModelError> {
        let [l, b] = tokens.dims();
        let memory = state.map(|s| s.memory).unwrap_or_default();
        if !memory.is_empty() && memory.len() != self.depth() + 1 {
            return Err(ModelError::Shape {
                name: "memory".into(),
                actual: vec![memory.len()],
                expected: vec![self.depth() + 1],
            });
        }
        if let Some(bad) = memory.iter().find(|m| {
            let [_, mb, md] = m.dims();
            mb != b || md != self.d_model
        }) {
            return Err(ModelError::Shape {
                name: "memory".into(),
                actual: bad.dims().to_vec(),
                expected: vec![bad.dims()[0], b, self.d_model],
            });
        }
        let emb = match &self.word_emb {
            TxlInput::Dense(e) => self.autocast.activations(e.emb_layers[0].forward(tokens)),
            TxlInput::Adaptive(a) => match &self.crit {
                TxlOutput::Adaptive(s) => a.forward(tokens, s, self.autocast)?,
                TxlOutput::Dense(_) => {
                    return Err(ModelError::config(
                        "adaptive",
                        "adaptive input needs an adaptive softmax",
                    ));
                }
            },
        };
        let emb = emb * (self.d_model as f64).sqrt();
        let (dtype, device) = (emb.dtype(), emb.device());
        let m = memory.first().map_or(0, |t| t.dims()[0]);
        let k = m + l;
        let (keep, same_length) = match window {
            None => (self.mem_len, self.same_length),
            Some(w) => (w, true),
        };
        let mask = txl_mask::<B>(l, m, keep, same_length, dtype, &device);
        let pos = self.drop.forward(position_embedding::<B>(
            k,
            self.d_model,
            self.clamp_len,
            dtype,
            &device,
        ));
        let mut core = self.drop.forward(emb);
        let mut hids = vec![core.clone()];
        for (i, layer) in self.layers.iter().enumerate() {
            core = layer.forward(
                core,
                pos.clone(),
                &self.r_w_bias,
                &self.r_r_bias,
                mask.clone(),
                memory.get(i).cloned(),
            );
            hids.push(core.clone());
        }
        let next = if keep == 0 {
            Vec::new()
        } else {
            hids.into_iter()
                .enumerate()
                .map(|(i, h)| {
                    let cat = match memory.get(i) {
                        Some(old) if m > 0 => Tensor::cat(vec![old.clone(), h], 0),
                        _ => h,
                    };
                    let len = cat.dims()[0];
                    cat.slice(s![len.saturating_sub(keep)..len, .., ..])
                })
                .collect()
        };
        Ok(LmOutput {
            hidden: core,
            state: LmState {
                c: None,
                memory: next,
            },
        })
    }

    /// Log-probabilities `(L, B, V)` of hidden states (the last dropout, then `crit`).
    ///
    /// # Errors
    /// A dense output without its dense input table (a module assembled by hand).
    pub(crate) fn log_probs(&self, hidden: Tensor<B, 3>) -> Result<Tensor<B, 3>, ModelError> {
        let h = self.drop.forward(hidden);
        match &self.crit {
            TxlOutput::Dense(crit) => Ok(log_softmax(full(self.logits(crit, h)?), 2)),
            TxlOutput::Adaptive(s) => Ok(s.log_probs(h)),
        }
    }

    /// Per-token negative log-likelihood `(L, B)`.
    pub(crate) fn nll(
        &self,
        hidden: Tensor<B, 3>,
        targets: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 2>, ModelError> {
        let h = self.drop.forward(hidden);
        match &self.crit {
            TxlOutput::Dense(crit) => Ok(target_nll(
                log_softmax(full(self.logits(crit, h)?), 2),
                targets,
            )),
            TxlOutput::Adaptive(s) => s.nll(h, targets),
        }
    }

    /// `h Eᵀ + b` over the tied table.
    fn logits(&self, crit: &TxlCrit<B>, h: Tensor<B, 3>) -> Result<Tensor<B, 3>, ModelError> {
        let TxlInput::Dense(emb) = &self.word_emb else {
            return Err(ModelError::config(
                "adaptive",
                "a dense output layer needs the dense input table it is tied to",
            ));
        };
        let [l, b, d] = h.dims();
        let dtype = h.dtype();
        let weight = emb.emb_layers[0].weight.val().cast(dtype).transpose(); // (d, V)
        let bias = crit.out_layers[0].bias.val().cast(dtype);
        Ok(
            sru_kernel::linear(h.reshape([l * b, d]), weight, Some(bias))?.reshape([
                l,
                b,
                self.vocab_size,
            ]),
        )
    }
}

/// `1 / 10000^(2i/d)` for `i < d/2`, in float32 as the original's buffer.
pub fn inv_freq(d: usize) -> Vec<f32> {
    (0..d)
        .step_by(2)
        .map(|i| 1.0f32 / 10000f32.powf(i as f32 / d as f32))
        .collect()
}

/// The sinusoidal embeddings of the distances `K-1 … 0` (clamped), `(K, d)`:
/// `[sin(p · inv_freq), cos(p · inv_freq)]`.
fn position_embedding<B: Backend>(
    k: usize,
    d: usize,
    clamp_len: Option<usize>,
    dtype: DType,
    device: &B::Device,
) -> Tensor<B, 2> {
    let freq = inv_freq(d);
    let half = d / 2;
    let mut v = vec![0.0f64; k * d];
    for row in 0..k {
        let mut p = (k - 1 - row) as f64;
        if let Some(c) = clamp_len {
            p = p.min(c as f64);
        }
        for (i, f) in freq.iter().enumerate() {
            let x = p * f64::from(*f);
            v[row * d + i] = x.sin();
            v[row * d + half + i] = x.cos();
        }
    }
    tensor_of(v, [k, d], dtype, device)
}

/// The additive mask `(L, M + L)` of the original: query i sees key j iff `j ≤ M + i`, and
/// with `same_length` only the last `mem_len` of them (all of them while `M + L ≤ mem_len`).
fn txl_mask<B: Backend>(
    l: usize,
    m: usize,
    mem_len: usize,
    same_length: bool,
    dtype: DType,
    device: &B::Device,
) -> Tensor<B, 2> {
    let k = m + l;
    // the original's `tril(-mask_shift_len)`: key j is hidden from query i iff j ≤ i - shift
    let shift = if k > mem_len {
        l as i64 - (k - mem_len) as i64
    } else {
        l as i64
    };
    let mut v = vec![0.0f64; l * k];
    for i in 0..l {
        for j in 0..k {
            let future = j > m + i;
            let too_far = same_length && (j as i64) <= i as i64 - shift;
            if future || too_far {
                v[i * k + j] = MASKED;
            }
        }
    }
    tensor_of(v, [l, k], dtype, device)
}

fn tensor_of<B: Backend, const D: usize>(
    v: Vec<f64>,
    shape: [usize; D],
    dtype: DType,
    device: &B::Device,
) -> Tensor<B, D> {
    let data = TensorData::new(v, shape);
    match dtype {
        DType::F64 => Tensor::<B, D>::from_data(data, (device, DType::F64)),
        _ => Tensor::<B, D>::from_data(data.convert::<f32>(), (device, DType::F32)).cast(dtype),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    fn mask(l: usize, m: usize, mem: usize, same: bool) -> Vec<bool> {
        txl_mask::<Flex>(l, m, mem, same, DType::F32, &Default::default())
            .into_data()
            .to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(|x| x == 0.0)
            .collect()
    }

    #[test]
    fn training_mask_is_causal_over_memory() {
        // L = 2, M = 1: row 0 sees keys 0..=1, row 1 sees 0..=2
        assert_eq!(mask(2, 1, 4, false), [true, true, false, true, true, true]);
    }

    #[test]
    fn same_length_mask_shows_mem_len_keys_once_the_context_is_full() {
        // L = 3, M = 3, mem_len 3: every query sees 3 keys (itself and the 2 before)
        let v = mask(3, 3, 3, true);
        for i in 0..3 {
            let seen: Vec<usize> = (0..6).filter(|&j| v[i * 6 + j]).collect();
            assert_eq!(seen, ((i + 1)..=(i + 3)).collect::<Vec<_>>(), "row {i}");
        }
    }

    #[test]
    fn inv_freq_starts_at_one_and_falls() {
        let f = inv_freq(8);
        assert_eq!(f.len(), 4);
        assert_eq!(f[0], 1.0);
        assert!(f.windows(2).all(|w| w[1] < w[0]));
    }
}
