//! The Transformer-XL's configuration under the original's argument names
//! (kimiyoung/transformer-xl `train.py`: `n_token`, `n_layer`, `n_head`, `d_model`, `d_head`,
//! `d_inner`, `dropout`, `dropatt`, `mem_len`, `pre_lnorm`, `same_length`, `clamp_len`), its
//! checks, its exact parameter count, and the original initialisation (`--init normal
//! --init_std 0.02`: every weight N(0, 0.02), biases 0, LayerNorm weights N(1, 0.02),
//! projections of the adaptive embedding N(0, 0.01)).

use burn::module::Param;
use burn::nn::{Embedding, Initializer, LayerNormConfig, LinearConfig};
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use super::attention::{RelPartialLearnableMultiHeadAttn, dropout};
use super::layer::{CoreNet, PositionwiseFF, RelPartialLearnableDecoderLayer};
use super::{OutputBias, TransformerXl, TxlCrit, TxlEmbedding, TxlInput, TxlOutput};
use crate::adaptive::{AdaptiveConfig, AdaptiveInput, AdaptiveSoftmax};
use crate::autocast::Autocast;
use crate::error::ModelError;

/// The original's `--init_std`.
pub const INIT_STD: f64 = 0.02;
/// The original's `--proj_init_std` (projections of the adaptive embedding and softmax).
pub const PROJ_INIT_STD: f64 = 0.01;

/// A Transformer-XL's configuration (`MemTransformerLM` with `attn_type = 0`); the
/// `transformer_xl` variant of [`crate::ModelConfig`]. The defaults are the sizes of the
/// original's `run_enwik8_base.sh` over a 256-byte vocabulary, without dropout (`train.py`'s
/// default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TxlConfig {
    /// Vocabulary size V (`n_token`).
    pub vocab_size: usize,
    /// Model width (`d_model`, also the embedding width).
    pub d_model: usize,
    /// Layers (`n_layer`).
    pub n_layer: usize,
    /// Heads (`n_head`).
    pub n_head: usize,
    /// Width of a head (`d_head`).
    pub d_head: usize,
    /// Width of the feed-forward network (`d_inner`).
    pub d_inner: usize,
    /// Dropout of the embedding, positions, sub-layer outputs and last output (`dropout`).
    pub dropout: f64,
    /// Attention-weight dropout (`dropatt`).
    pub dropatt: f64,
    /// Memory length: steps of every layer's input kept for the next segment (`mem_len`).
    pub mem_len: usize,
    /// LayerNorm before each sub-layer instead of after the residual (`pre_lnorm`).
    pub pre_lnorm: bool,
    /// Every query sees the same number of keys (`same_length`).
    pub same_length: bool,
    /// Relative distances beyond this are clamped to it (`clamp_len`; `None` = no clamp).
    pub clamp_len: Option<usize>,
    /// Adaptive input and softmax (word level, `--adaptive`); `None` for byte level.
    pub adaptive: Option<AdaptiveConfig>,
}

impl Default for TxlConfig {
    fn default() -> Self {
        Self {
            vocab_size: 256,
            d_model: 512,
            n_layer: 12,
            n_head: 8,
            d_head: 64,
            d_inner: 2048,
            dropout: 0.0,
            dropatt: 0.0,
            mem_len: 512,
            pre_lnorm: false,
            same_length: false,
            clamp_len: None,
            adaptive: None,
        }
    }
}

impl TxlConfig {
    /// Checks the options.
    ///
    /// # Errors
    /// [`ModelError::Config`] naming the setting.
    pub fn validate(&self) -> Result<(), ModelError> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("n_layer", self.n_layer),
            ("n_head", self.n_head),
            ("d_head", self.d_head),
            ("d_inner", self.d_inner),
        ];
        for (setting, v) in positive {
            if v == 0 {
                return Err(ModelError::config(
                    setting,
                    format!("{setting} must be positive"),
                ));
            }
        }
        if !self.d_model.is_multiple_of(2) {
            return Err(ModelError::config(
                "d_model",
                format!(
                    "the sinusoidal positions need an even d_model, got {}",
                    self.d_model
                ),
            ));
        }
        for (setting, p) in [("dropout", self.dropout), ("dropatt", self.dropatt)] {
            if !(0.0..1.0).contains(&p) {
                return Err(ModelError::config(
                    setting,
                    format!("{setting} must be in [0, 1), got {p}"),
                ));
            }
        }
        if self.clamp_len == Some(0) {
            return Err(ModelError::config(
                "clamp_len",
                "clamp_len must be positive (or absent)",
            ));
        }
        if let Some(a) = &self.adaptive {
            a.validate(self.vocab_size)?;
        }
        Ok(())
    }

    /// Parameters of the model (the tied output weight counted once).
    pub fn num_params(&self) -> usize {
        let (d, hd) = (self.d_model, self.n_head * self.d_head);
        let attention = d * 3 * hd + hd * d + d * hd + 2 * d;
        let ff = d * self.d_inner + self.d_inner + self.d_inner * d + d + 2 * d;
        let io = match &self.adaptive {
            None => self.vocab_size * d + self.vocab_size,
            Some(a) => a.num_params(self.vocab_size, d),
        };
        self.n_layer * (attention + ff) + io + 2 * hd
    }

    /// Builds the model with the original initialisation.
    ///
    /// # Errors
    /// [`ModelError::Config`] when the options are inconsistent.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<TransformerXl<B>, ModelError> {
        self.validate()?;
        let normal = |std: f64| Initializer::Normal { mean: 0.0, std };
        let (d, hd) = (self.d_model, self.n_head * self.d_head);
        let linear = |i: usize, o: usize, bias: bool| {
            LinearConfig::new(i, o)
                .with_bias(bias)
                .with_initializer(normal(INIT_STD))
                .init::<B>(device)
                .map_bias_zero()
        };
        let layer_norm = || {
            let mut ln = LayerNormConfig::new(d).with_epsilon(1e-5).init::<B>(device);
            ln.gamma = Initializer::Normal {
                mean: 1.0,
                std: INIT_STD,
            }
            .init([d], device);
            ln
        };
        let layers = (0..self.n_layer)
            .map(|_| RelPartialLearnableDecoderLayer {
                dec_attn: RelPartialLearnableMultiHeadAttn {
                    qkv_net: linear(d, 3 * hd, false),
                    drop: dropout(self.dropout),
                    dropatt: dropout(self.dropatt),
                    o_net: linear(hd, d, false),
                    layer_norm: layer_norm(),
                    r_net: linear(d, hd, false),
                    n_head: self.n_head,
                    d_head: self.d_head,
                    pre_lnorm: self.pre_lnorm,
                },
                pos_ff: PositionwiseFF {
                    core_net: CoreNet {
                        inner: linear(d, self.d_inner, true),
                        outer: linear(self.d_inner, d, true),
                        drop: dropout(self.dropout),
                    },
                    layer_norm: layer_norm(),
                    pre_lnorm: self.pre_lnorm,
                },
            })
            .collect();
        let (word_emb, crit) = match &self.adaptive {
            None => (
                TxlInput::Dense(TxlEmbedding {
                    emb_layers: vec![Embedding {
                        weight: normal(INIT_STD).init([self.vocab_size, d], device),
                    }],
                }),
                TxlOutput::Dense(TxlCrit {
                    out_layers: vec![OutputBias {
                        bias: Param::from_tensor(Tensor::zeros([self.vocab_size], device)),
                    }],
                }),
            ),
            Some(a) => {
                let (input, softmax) = a.init::<B>(self.vocab_size, d, 0.0, device);
                let (input, softmax) = normal_adaptive(input, softmax, device);
                (TxlInput::Adaptive(input), TxlOutput::Adaptive(softmax))
            }
        };
        let bias = || normal(INIT_STD).init([self.n_head, self.d_head], device);
        Ok(TransformerXl {
            word_emb,
            drop: dropout(self.dropout),
            layers,
            crit,
            r_w_bias: bias(),
            r_r_bias: bias(),
            d_model: d,
            mem_len: self.mem_len,
            same_length: self.same_length,
            clamp_len: self.clamp_len,
            vocab_size: self.vocab_size,
            autocast: Autocast::Off,
        })
    }
}

/// A linear layer whose bias (if any) starts at zero, as `train.py`'s `init_bias`.
trait ZeroBias {
    fn map_bias_zero(self) -> Self;
}

impl<B: Backend> ZeroBias for burn::nn::Linear<B> {
    fn map_bias_zero(mut self) -> Self {
        if let Some(b) = &self.bias {
            let n = b.dims()[0];
            let device = b.device();
            self.bias = Some(Param::from_tensor(Tensor::zeros([n], &device)));
        }
        self
    }
}

/// The adaptive layers re-drawn as `train.py` draws them: tables N(0, [`INIT_STD`]), biases
/// 0, projections N(0, [`PROJ_INIT_STD`]).
fn normal_adaptive<B: Backend>(
    mut input: AdaptiveInput<B>,
    mut softmax: AdaptiveSoftmax<B>,
    device: &B::Device,
) -> (AdaptiveInput<B>, AdaptiveSoftmax<B>) {
    let normal =
        |std: f64, shape: [usize; 2]| Initializer::Normal { mean: 0.0, std }.init(shape, device);
    for lin in &mut softmax.out_layers {
        lin.weight = normal(INIT_STD, lin.weight.dims());
        *lin = lin.clone().map_bias_zero();
    }
    for p in softmax
        .out_projs
        .iter_mut()
        .chain(input.emb_projs.iter_mut())
    {
        *p = normal(PROJ_INIT_STD, p.dims());
    }
    (input, softmax)
}
