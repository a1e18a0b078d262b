//! The language models' configuration, and the SRU++ language models (spec §3.1):
//!
//! ```text
//! e = dropout(Embedding(tokens))          (L, B, d)      adaptive input for word-level models
//! h, state' = Srupp(e, state, attn_mask)  (L, B, d)
//! logits = Output(dropout(h))             (L, B, V)      adaptive softmax for word-level models
//! loss = mean over tokens of -log p(target)
//! ```
//! Byte-level (enwik8): untied embedding and output linear with bias, both U(±sqrt(3/d)).
//! Word-level: adaptive input and adaptive softmax ([`crate::adaptive`]), tables tied, and
//! projections tied (WikiText-103) or not (Billion Word).

use burn::module::{Module, Param};
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig,
};
use burn::tensor::activation::log_softmax;
use burn::tensor::{ElementConversion, Int, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};
use sru_kernel::RecurrenceBackend;

use crate::adaptive::{AdaptiveConfig, AdaptiveInput, AdaptiveSoftmax};
use crate::attention::AttentionMasks;
use crate::autocast::{Autocast, full};
use crate::error::ModelError;
use crate::linear::linear_seq;
use crate::mask::attention_mask;
use crate::srupp::{Srupp, SruppConfig};
use crate::state::LmState;
use crate::model::LanguageModel;
use crate::txl::TxlOptions;

/// A language model's configuration; saved with every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmConfig {
    /// Vocabulary size V.
    pub vocab_size: usize,
    /// Model width d (`n_d`).
    pub n_d: usize,
    /// Attention dimension d' (`n_proj`).
    pub n_proj: usize,
    /// Layers.
    pub depth: usize,
    /// Dropout (model level and inside SRU++).
    pub dropout: f64,
    /// Attention-weight dropout.
    pub attn_dropout: f64,
    /// Dropout of the adaptive input / softmax embeddings (word-level models).
    pub emb_dropout: f64,
    /// Heads.
    pub num_heads: usize,
    /// Per-cell LayerNorm (`--layer_norm`, off in the paper's runs).
    pub layer_norm: bool,
    /// Initial reset-gate bias.
    pub highway_bias: f64,
    /// Attention in every n-th layer.
    pub attention_every_n_layers: usize,
    /// Attention in the last n layers instead.
    pub attention_last_n_layers: Option<usize>,
    /// Adaptive input and softmax (word-level); `None` for byte-level.
    pub adaptive: Option<AdaptiveConfig>,
    /// `Some`: the model is a Transformer-XL with these options (the baseline; `n_d` is its
    /// `d_model`, `depth` its layers, and the SRU++-only settings are unused). `None`: SRU++.
    pub transformer_xl: Option<TxlOptions>,
}

impl Default for LmConfig {
    fn default() -> Self {
        Self {
            vocab_size: 256,
            n_d: 256,
            n_proj: 64,
            depth: 2,
            dropout: 0.0,
            attn_dropout: 0.0,
            emb_dropout: 0.0,
            num_heads: 1,
            layer_norm: false,
            highway_bias: -2.0,
            attention_every_n_layers: 1,
            attention_last_n_layers: None,
            adaptive: None,
            transformer_xl: None,
        }
    }
}

impl LmConfig {
    /// The SRU++ body of the model (`SRUpp(n_d, n_d, n_proj, depth, …)`).
    pub fn srupp(&self) -> SruppConfig {
        SruppConfig {
            input_size: self.n_d,
            hidden_size: self.n_d,
            proj_size: self.n_proj,
            num_layers: self.depth,
            dropout: self.dropout,
            attn_dropout: self.attn_dropout,
            num_heads: self.num_heads,
            layer_norm: self.layer_norm,
            highway_bias: self.highway_bias,
            attention_every_n_layers: self.attention_every_n_layers,
            attention_last_n_layers: self.attention_last_n_layers,
            attn_layer_norm: true,
            ..Default::default()
        }
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`ModelError::Config`] naming the problem.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.vocab_size == 0 {
            return Err(ModelError::config(
                "vocab_size",
                "vocab_size must be positive",
            ));
        }
        if !(0.0..1.0).contains(&self.emb_dropout) {
            return Err(ModelError::config(
                "emb_dropout",
                format!("emb_dropout must be in [0, 1), got {}", self.emb_dropout),
            ));
        }
        match &self.transformer_xl {
            Some(t) => t.validate(self)?,
            None => self.srupp().validate()?,
        }
        if let Some(a) = &self.adaptive {
            a.validate(self.vocab_size)?;
        }
        Ok(())
    }

    /// Exact parameter count (tied parameters counted once).
    pub fn num_params(&self) -> usize {
        if let Some(t) = &self.transformer_xl {
            return t.num_params(self);
        }
        let body = self.srupp().num_params();
        match &self.adaptive {
            None => body + 2 * self.vocab_size * self.n_d + self.vocab_size,
            Some(a) => body + a.num_params(self.vocab_size, self.n_d),
        }
    }

    /// Builds the model with the official initialisation (SRU++: the official scripts';
    /// Transformer-XL: its `train.py`'s).
    ///
    /// # Errors
    /// [`ModelError::Config`] when the options are inconsistent.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<LanguageModel<B>, ModelError> {
        self.validate()?;
        if let Some(t) = &self.transformer_xl {
            return Ok(LanguageModel::TransformerXl(t.init(self, device)));
        }
        let bound = (3.0 / self.n_d as f64).sqrt();
        let uniform = Initializer::Uniform {
            min: -bound,
            max: bound,
        };
        let (embedding_layer, output_layer) = match &self.adaptive {
            None => {
                let emb = EmbeddingConfig::new(self.vocab_size, self.n_d)
                    .with_initializer(uniform.clone())
                    .init(device);
                let mut out = LinearConfig::new(self.n_d, self.vocab_size)
                    .with_initializer(uniform)
                    .init::<B>(device);
                out.bias = Some(Param::from_tensor(Tensor::zeros([self.vocab_size], device)));
                (InputLayer::Dense(emb), OutputLayer::Dense(out))
            }
            Some(a) => {
                let (input, softmax) = a.init(self.vocab_size, self.n_d, self.emb_dropout, device);
                (InputLayer::Adaptive(input), OutputLayer::Adaptive(softmax))
            }
        };
        Ok(LanguageModel::Srupp(SruppLm {
            embedding_layer,
            rnn: self.srupp().init(device)?,
            output_layer,
            drop: DropoutConfig::new(self.dropout).init(),
            vocab_size: self.vocab_size,
            autocast: Autocast::Off,
        }))
    }
}

/// Token embedding: dense (byte-level) or adaptive (word-level).
#[derive(Module, Debug)]
pub enum InputLayer<B: Backend> {
    /// `nn.Embedding(V, d)`.
    Dense(Embedding<B>),
    /// Adaptive input sharing tables (and maybe projections) with the softmax.
    Adaptive(AdaptiveInput<B>),
}

/// Output layer: dense linear with bias (byte-level) or adaptive softmax (word-level).
#[derive(Module, Debug)]
pub enum OutputLayer<B: Backend> {
    /// `nn.Linear(d, V)`.
    Dense(Linear<B>),
    /// Projected adaptive log-softmax.
    Adaptive(AdaptiveSoftmax<B>),
}

/// An SRU++ language model; parameter paths follow the official scripts
/// (`embedding_layer.*`, `rnn.rnn_lst.{i}.*`, `output_layer.*`).
#[derive(Module, Debug)]
pub struct SruppLm<B: Backend> {
    /// Token embedding.
    pub embedding_layer: InputLayer<B>,
    /// The SRU++ stack.
    pub rnn: Srupp<B>,
    /// Output layer.
    pub output_layer: OutputLayer<B>,
    /// Model-level dropout on the embedding and on the SRU++ output.
    pub drop: Dropout,
    /// V.
    pub vocab_size: usize,
    /// Mixed precision of the forward pass (not saved with the weights).
    #[module(skip)]
    pub autocast: Autocast,
}

/// The result of running a segment.
#[derive(Debug, Clone)]
pub struct LmOutput<B: Backend> {
    /// Hidden states of the last layer `(L, B, d)` (before the output dropout).
    pub hidden: Tensor<B, 3>,
    /// The state to pass to the next segment (not detached).
    pub state: LmState<B>,
}

impl<B: RecurrenceBackend> SruppLm<B> {
    /// Width d.
    pub fn width(&self) -> usize {
        self.rnn.rnn_lst[0].output_size()
    }

    /// Layers.
    pub fn depth(&self) -> usize {
        self.rnn.rnn_lst.len()
    }

    /// A zero state for `batch` streams (no memory yet).
    pub fn zero_state(&self, batch: usize, device: &B::Device) -> LmState<B> {
        LmState {
            c: Some(Tensor::zeros([self.depth(), batch, self.width()], device)),
            memory: Vec::new(),
        }
    }

    /// Runs the embedding and the SRU++ body on one segment of tokens `(L, B)` (ids not
    /// checked here: [`LanguageModel::forward_hidden`] checks dense ids, the adaptive input
    /// checks its ids on the host, where it reads them anyway).
    ///
    /// `window`: `None` for the causal training mask over memory + segment, `Some(w)` for the
    /// evaluation mask (a sliding window of w + 1 positions).
    pub(crate) fn run(
        &self,
        tokens: Tensor<B, 2, Int>,
        state: Option<LmState<B>>,
        window: Option<usize>,
    ) -> Result<LmOutput<B>, ModelError> {
        let [l, _] = tokens.dims();
        let emb = match &self.embedding_layer {
            InputLayer::Dense(e) => self.autocast.activations(e.forward(tokens)), // (L, B, d)
            InputLayer::Adaptive(a) => match &self.output_layer {
                OutputLayer::Adaptive(s) => a.forward(tokens, s, self.autocast)?,
                OutputLayer::Dense(_) => {
                    return Err(ModelError::config(
                        "adaptive",
                        "adaptive input needs an adaptive softmax",
                    ));
                }
            },
        };
        let emb = self.drop.forward(emb);
        let dtype = emb.dtype();
        let device = emb.device();
        let (c0, memory) = match state {
            Some(s) => (s.c, (!s.memory.is_empty()).then_some(s.memory)),
            None => (None, None),
        };
        let m = memory.as_ref().map_or(0, |mem| mem[0].dims()[0]);
        let masks = AttentionMasks {
            attn_mask: Some(attention_mask::<B>(l, m, window, dtype, &device)),
            ..Default::default()
        };
        let out = self.rnn.forward(emb, c0, memory.as_deref(), &masks)?;
        Ok(LmOutput {
            hidden: out.h,
            state: LmState {
                c: Some(out.c),
                memory: out.saved_inputs,
            },
        })
    }

    /// Log-probabilities over the vocabulary `(L, B, V)` from hidden states.
    pub fn log_probs(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        let h = self.drop.forward(hidden);
        match &self.output_layer {
            OutputLayer::Dense(lin) => log_softmax(full(linear_seq(lin, h)), 2),
            OutputLayer::Adaptive(s) => s.log_probs(h),
        }
    }

    /// Per-token negative log-likelihood `(L, B)` of `targets` given hidden states (ids
    /// not checked here).
    pub(crate) fn nll(
        &self,
        hidden: Tensor<B, 3>,
        targets: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 2>, ModelError> {
        let h = self.drop.forward(hidden);
        match &self.output_layer {
            OutputLayer::Dense(lin) => Ok(target_nll(
                log_softmax(full(linear_seq(lin, h)), 2), // (L, B, V), f32 or f64
                targets,
            )),
            OutputLayer::Adaptive(s) => s.nll(h, targets),
        }
    }
}

/// Checks that every id of the `(ids, role)` tensors lies in `[0, vocab_size)`: one device
/// reduction read back as a single count, and the offending id looked up only on failure.
pub(crate) fn check_ids<B: Backend>(
    tensors: &[(&Tensor<B, 2, Int>, &'static str)],
    vocab_size: usize,
) -> Result<(), ModelError> {
    let bad = |t: &Tensor<B, 2, Int>| {
        t.clone()
            .lower_elem(0)
            .bool_or(t.clone().greater_equal_elem(vocab_size as i64))
    };
    let Some(count) = tensors
        .iter()
        .map(|(t, _)| bad(t).int().sum())
        .reduce(|a, b| a + b)
    else {
        return Ok(());
    };
    if count.into_scalar().elem::<i64>() == 0 {
        return Ok(());
    }
    for (t, role) in tensors {
        let ids = t
            .to_data()
            .convert::<i64>()
            .to_vec::<i64>()
            .unwrap_or_default();
        if let Some(&id) = ids.iter().find(|&&i| i < 0 || i >= vocab_size as i64) {
            return Err(ModelError::TokenOutOfRange {
                role,
                id,
                vocab_size,
            });
        }
    }
    Ok(())
}

/// `-log p(target)` `(L, B)` from log-probabilities `(L, B, V)`.
pub(crate) fn target_nll<B: Backend>(log_probs: Tensor<B, 3>, targets: Tensor<B, 2, Int>) -> Tensor<B, 2> {
    let [l, b] = targets.dims();
    log_probs
        .gather(2, targets.reshape([l, b, 1]))
        .reshape([l, b])
        .neg()
}

/// Bits per character from a mean natural-log loss.
pub fn bits_per_character(mean_nll: f64) -> f64 {
    mean_nll / std::f64::consts::LN_2
}

/// Perplexity from a mean natural-log loss.
pub fn perplexity(mean_nll: f64) -> f64 {
    mean_nll.exp()
}
