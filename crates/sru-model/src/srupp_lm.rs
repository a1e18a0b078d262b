//! The SRU++ language models (spec §3.1) and their configuration:
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
use burn::tensor::{Int, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};
use sru_kernel::RecurrenceBackend;

use crate::adaptive::{AdaptiveConfig, AdaptiveInput, AdaptiveSoftmax};
use crate::attention::AttentionMasks;
use crate::autocast::{Autocast, full};
use crate::error::ModelError;
use crate::head::{LmOutput, target_nll};
use crate::linear::linear_seq;
use crate::mask::attention_mask;
use crate::srupp::{Srupp, SruppConfig};
use crate::state::LmState;

/// An SRU++ language model's configuration (the official scripts' flags); the `srupp`
/// variant of [`crate::ModelConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SruppLmConfig {
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
}

impl Default for SruppLmConfig {
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
        }
    }
}

impl SruppLmConfig {
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
        self.srupp().validate()?;
        if let Some(a) = &self.adaptive {
            a.validate(self.vocab_size)?;
        }
        Ok(())
    }

    /// Exact parameter count (tied parameters counted once).
    pub fn num_params(&self) -> usize {
        let body = self.srupp().num_params();
        match &self.adaptive {
            None => body + 2 * self.vocab_size * self.n_d + self.vocab_size,
            Some(a) => body + a.num_params(self.vocab_size, self.n_d),
        }
    }

    /// Builds the model with the official scripts' initialisation.
    ///
    /// # Errors
    /// [`ModelError::Config`] when the options are inconsistent.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<SruppLm<B>, ModelError> {
        self.validate()?;
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
        Ok(SruppLm {
            embedding_layer,
            rnn: self.srupp().init(device)?,
            output_layer,
            drop: DropoutConfig::new(self.dropout).init(),
            vocab_size: self.vocab_size,
            autocast: Autocast::Off,
        })
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

impl<B: RecurrenceBackend> SruppLm<B> {
    /// Width d.
    pub fn width(&self) -> usize {
        self.rnn.rnn_lst[0].output_size()
    }

    /// Layers.
    pub fn depth(&self) -> usize {
        self.rnn.rnn_lst.len()
    }

    /// Whether the input ids index one dense table (checked on the device by the caller)
    /// rather than the adaptive input (which checks them on the host).
    pub fn dense_input(&self) -> bool {
        matches!(self.embedding_layer, InputLayer::Dense(_))
    }

    /// Whether the targets index one dense softmax (as [`Self::dense_input`]).
    pub fn dense_output(&self) -> bool {
        matches!(self.output_layer, OutputLayer::Dense(_))
    }

    /// A zero state for `batch` streams (no memory yet).
    pub fn zero_state(&self, batch: usize, device: &B::Device) -> LmState<B> {
        LmState {
            c: Some(Tensor::zeros([self.depth(), batch, self.width()], device)),
            memory: Vec::new(),
        }
    }

    /// Runs the embedding and the SRU++ body on one segment of tokens `(L, B)` (ids not
    /// checked here: [`crate::LanguageModel::forward_hidden`] checks dense ids, the adaptive input
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

    /// The state to decode on from `previous` (the state [`Self::run`] was given) and `next`
    /// (the one it returned), detached, its memory cut to `window`. SRU++'s memory is the
    /// layers' inputs of the last segment only, so decoding keeps what attention saw before
    /// plus this chunk's inputs.
    pub fn decoding_state(
        &self,
        previous: Option<LmState<B>>,
        next: LmState<B>,
        window: usize,
    ) -> LmState<B> {
        let memory = match previous.map(|p| p.memory) {
            Some(old) if !old.is_empty() => old
                .into_iter()
                .zip(next.memory)
                .map(|(o, n)| Tensor::cat(vec![o, n], 0))
                .collect(),
            _ => next.memory,
        };
        LmState { c: next.c, memory }
            .detach()
            .truncate_memory(window)
    }
}
