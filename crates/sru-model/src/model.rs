//! [`LanguageModel`]: the closed family of language models sru-rs trains, and its one
//! dispatch point. Each method is a `match` over the architectures (SRU++ [`SruppLm`], the
//! Transformer-XL baseline [`TransformerXl`]); what is common to all of them (the check of
//! dense ids, the loss of a segment) is written here once. The trainer, evaluation,
//! checkpoints and the decoder use only this type. A new architecture is a new variant here
//! and in [`crate::ModelConfig`] (ARCHITECTURE.md, "Adding a model").

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Int, Tensor, backend::Backend};
use sru_kernel::RecurrenceBackend;

use crate::autocast::Autocast;
use crate::error::ModelError;
use crate::head::{LmOutput, check_ids};
use crate::srupp_lm::SruppLm;
use crate::state::LmState;
use crate::txl::TransformerXl;

/// A language model of either architecture; what checkpoints hold and the trainer trains.
/// Parameter paths are the architecture's own (the variant adds no path segment).
#[derive(Module, Debug)]
pub enum LanguageModel<B: Backend> {
    /// SRU++.
    Srupp(SruppLm<B>),
    /// The Transformer-XL baseline.
    TransformerXl(TransformerXl<B>),
}

/// Draws every lazily initialised parameter (see [`LanguageModel::materialized`]).
struct Materialize;

impl<B: Backend> ModuleMapper<B> for Materialize {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.map(|t| t)
    }
}

impl<B: RecurrenceBackend> LanguageModel<B> {
    /// The SRU++ model, if this is one.
    pub fn as_srupp(&self) -> Option<&SruppLm<B>> {
        match self {
            LanguageModel::Srupp(m) => Some(m),
            LanguageModel::TransformerXl(_) => None,
        }
    }

    /// The SRU++ model, mutably, if this is one.
    pub fn as_srupp_mut(&mut self) -> Option<&mut SruppLm<B>> {
        match self {
            LanguageModel::Srupp(m) => Some(m),
            LanguageModel::TransformerXl(_) => None,
        }
    }

    /// The Transformer-XL, if this is one.
    pub fn as_transformer_xl(&self) -> Option<&TransformerXl<B>> {
        match self {
            LanguageModel::TransformerXl(m) => Some(m),
            LanguageModel::Srupp(_) => None,
        }
    }

    /// The model with every parameter drawn now. Burn initialises a parameter lazily, at its
    /// first use, and each clone of a not-yet-initialised parameter draws its own values: copies
    /// of a fresh model (one per device, a model and its inference copy) would differ, and the
    /// values would depend on the order of first use. A model that is about to load weights
    /// needs no drawing (and consumes no random numbers without it).
    pub fn materialized(self) -> Self {
        self.map(&mut Materialize)
    }

    /// The model computing under `autocast` (its parameters unchanged).
    pub fn with_autocast(mut self, autocast: Autocast) -> Self {
        match &mut self {
            LanguageModel::Srupp(m) => m.autocast = autocast,
            LanguageModel::TransformerXl(m) => m.autocast = autocast,
        }
        self
    }

    /// Vocabulary size V.
    pub fn vocab_size(&self) -> usize {
        match self {
            LanguageModel::Srupp(m) => m.vocab_size,
            LanguageModel::TransformerXl(m) => m.vocab_size,
        }
    }

    /// Width of the hidden states.
    pub fn width(&self) -> usize {
        match self {
            LanguageModel::Srupp(m) => m.width(),
            LanguageModel::TransformerXl(m) => m.d_model,
        }
    }

    /// Layers.
    pub fn depth(&self) -> usize {
        match self {
            LanguageModel::Srupp(m) => m.depth(),
            LanguageModel::TransformerXl(m) => m.depth(),
        }
    }

    /// Whether input ids index one dense table (checked on the device before use) rather
    /// than an adaptive input (which checks them on the host).
    fn dense_input(&self) -> bool {
        match self {
            LanguageModel::Srupp(m) => m.dense_input(),
            LanguageModel::TransformerXl(m) => m.dense_input(),
        }
    }

    /// Whether targets index one dense softmax (as [`Self::dense_input`]).
    fn dense_output(&self) -> bool {
        match self {
            LanguageModel::Srupp(m) => m.dense_output(),
            LanguageModel::TransformerXl(m) => m.dense_output(),
        }
    }

    /// The state before the first segment for `batch` streams: SRU++'s zero c and no
    /// memory, or a Transformer-XL's empty memory.
    pub fn zero_state(&self, batch: usize, device: &B::Device) -> LmState<B> {
        match self {
            LanguageModel::Srupp(m) => m.zero_state(batch, device),
            LanguageModel::TransformerXl(m) => m.zero_state(),
        }
    }

    /// Runs one segment of tokens `(L, B)` after `state`, ids not checked.
    fn run(
        &self,
        tokens: Tensor<B, 2, Int>,
        state: Option<LmState<B>>,
        window: Option<usize>,
    ) -> Result<LmOutput<B>, ModelError> {
        match self {
            LanguageModel::Srupp(m) => m.run(tokens, state, window),
            LanguageModel::TransformerXl(m) => m.run(tokens, state, window),
        }
    }

    /// Per-token negative log-likelihood, ids not checked.
    fn nll(
        &self,
        hidden: Tensor<B, 3>,
        targets: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 2>, ModelError> {
        match self {
            LanguageModel::Srupp(m) => m.nll(hidden, targets),
            LanguageModel::TransformerXl(m) => m.nll(hidden, targets),
        }
    }

    /// Runs one segment of tokens `(L, B)` after `state`; dense ids are checked against the
    /// vocabulary first. `window`: `None` for training (causal mask, the model's own memory
    /// length), `Some(w)` for evaluation and decoding with an attention window of w.
    ///
    /// # Errors
    /// A token outside the vocabulary ([`ModelError::TokenOutOfRange`]); shape mismatches
    /// between tokens and state.
    pub fn forward_hidden(
        &self,
        tokens: Tensor<B, 2, Int>,
        state: Option<LmState<B>>,
        window: Option<usize>,
    ) -> Result<LmOutput<B>, ModelError> {
        if self.dense_input() {
            check_ids(&[(&tokens, "input")], self.vocab_size())?;
        }
        self.run(tokens, state, window)
    }

    /// Log-probabilities over the vocabulary `(L, B, V)` from hidden states.
    ///
    /// # Errors
    /// An output layer that does not fit its input layer (a module assembled by hand).
    pub fn log_probs(&self, hidden: Tensor<B, 3>) -> Result<Tensor<B, 3>, ModelError> {
        match self {
            LanguageModel::Srupp(m) => Ok(m.log_probs(hidden)),
            LanguageModel::TransformerXl(m) => m.log_probs(hidden),
        }
    }

    /// Per-token negative log-likelihood `(L, B)` of `targets` given hidden states.
    ///
    /// # Errors
    /// A target outside the vocabulary ([`ModelError::TokenOutOfRange`]).
    pub fn token_nll(
        &self,
        hidden: Tensor<B, 3>,
        targets: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 2>, ModelError> {
        if self.dense_output() {
            check_ids(&[(&targets, "target")], self.vocab_size())?;
        }
        self.nll(hidden, targets)
    }

    /// One training/evaluation segment: mean cross-entropy per token and the next state.
    ///
    /// Dense inputs and targets are checked against the vocabulary first, with one read-back
    /// for both (the adaptive layers check on the host, where they read the ids anyway).
    ///
    /// # Errors
    /// Shape mismatches; a token or target outside the vocabulary.
    pub fn loss(
        &self,
        tokens: Tensor<B, 2, Int>,
        targets: Tensor<B, 2, Int>,
        state: Option<LmState<B>>,
        window: Option<usize>,
    ) -> Result<(Tensor<B, 1>, LmState<B>), ModelError> {
        if tokens.dims() != targets.dims() {
            return Err(ModelError::Shape {
                name: "targets".into(),
                actual: targets.dims().to_vec(),
                expected: tokens.dims().to_vec(),
            });
        }
        let mut dense = Vec::new();
        if self.dense_input() {
            dense.push((&tokens, "input"));
        }
        if self.dense_output() {
            dense.push((&targets, "target"));
        }
        check_ids(&dense, self.vocab_size())?;
        let out = self.run(tokens, state, window)?;
        Ok((self.nll(out.hidden, targets)?.mean(), out.state))
    }

    /// The state to decode on from: `previous` (the state [`Self::forward_hidden`] was
    /// given) and `next` (the one it returned), detached, its memory cut to `window`.
    pub fn decoding_state(
        &self,
        previous: Option<LmState<B>>,
        next: LmState<B>,
        window: usize,
    ) -> LmState<B> {
        match self {
            LanguageModel::Srupp(m) => m.decoding_state(previous, next, window),
            LanguageModel::TransformerXl(m) => m.decoding_state(next, window),
        }
    }
}
