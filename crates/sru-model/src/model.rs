//! The language models sru-rs trains, behind one interface: [`SegmentModel`] is what the
//! trainer, evaluation, checkpoints and the decoder need of a model (run a segment with a
//! carried state, score targets, hand the state on), and [`LanguageModel`] is the closed set
//! of models a checkpoint can hold: SRU++ ([`SruppLm`]) or the Transformer-XL baseline
//! ([`TransformerXl`]), chosen by [`crate::LmConfig::transformer_xl`].

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Int, Tensor, backend::Backend};
use sru_kernel::RecurrenceBackend;

use crate::autocast::Autocast;
use crate::error::ModelError;
use crate::lm::{InputLayer, LmOutput, OutputLayer, SruppLm, check_ids};
use crate::state::LmState;
use crate::txl::{TransformerXl, TxlInput, TxlOutput};

/// A language model that reads a stream segment by segment, carrying an [`LmState`].
pub trait SegmentModel<B: Backend> {
    /// Vocabulary size V.
    fn vocab_size(&self) -> usize;

    /// Width of the hidden states.
    fn width(&self) -> usize;

    /// Layers.
    fn depth(&self) -> usize;

    /// Whether input ids index one dense table (checked on the device before use) rather
    /// than an adaptive input (which checks them on the host).
    fn dense_input(&self) -> bool;

    /// Whether targets index one dense softmax (as [`Self::dense_input`]).
    fn dense_output(&self) -> bool;

    /// Runs one segment of tokens `(L, B)` after `state`; ids are not checked here.
    /// `window`: `None` for training (causal mask, the model's own memory length), `Some(w)`
    /// for evaluation and decoding with an attention window of w.
    ///
    /// # Errors
    /// Shape mismatches between tokens and state; adaptive ids outside the vocabulary.
    fn run(
        &self,
        tokens: Tensor<B, 2, Int>,
        state: Option<LmState<B>>,
        window: Option<usize>,
    ) -> Result<LmOutput<B>, ModelError>;

    /// Log-probabilities `(L, B, V)` of the next token after each hidden state.
    fn log_probs(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3>;

    /// Per-token negative log-likelihood `(L, B)` of `targets`; ids not checked here.
    ///
    /// # Errors
    /// Adaptive targets outside the vocabulary.
    fn nll(&self, hidden: Tensor<B, 3>, targets: Tensor<B, 2, Int>)
    -> Result<Tensor<B, 2>, ModelError>;

    /// The state to decode on from: `previous` (the state [`Self::run`] was given) and
    /// `next` (the one it returned), detached, its memory cut to `window`.
    fn decoding_state(
        &self,
        previous: Option<LmState<B>>,
        next: LmState<B>,
        window: usize,
    ) -> LmState<B>;
}

impl<B: RecurrenceBackend> SegmentModel<B> for SruppLm<B> {
    fn vocab_size(&self) -> usize {
        self.vocab_size
    }
    fn width(&self) -> usize {
        SruppLm::width(self)
    }
    fn depth(&self) -> usize {
        SruppLm::depth(self)
    }
    fn dense_input(&self) -> bool {
        matches!(self.embedding_layer, InputLayer::Dense(_))
    }
    fn dense_output(&self) -> bool {
        matches!(self.output_layer, OutputLayer::Dense(_))
    }
    fn run(
        &self,
        tokens: Tensor<B, 2, Int>,
        state: Option<LmState<B>>,
        window: Option<usize>,
    ) -> Result<LmOutput<B>, ModelError> {
        SruppLm::run(self, tokens, state, window)
    }
    fn log_probs(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        SruppLm::log_probs(self, hidden)
    }
    fn nll(
        &self,
        hidden: Tensor<B, 3>,
        targets: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 2>, ModelError> {
        SruppLm::nll(self, hidden, targets)
    }
    /// SRU++'s memory is the layers' inputs of the last segment only, so decoding keeps
    /// what attention saw before plus this chunk's inputs.
    fn decoding_state(
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

impl<B: RecurrenceBackend> SegmentModel<B> for TransformerXl<B> {
    fn vocab_size(&self) -> usize {
        self.vocab_size
    }
    fn width(&self) -> usize {
        self.d_model
    }
    fn depth(&self) -> usize {
        TransformerXl::depth(self)
    }
    fn dense_input(&self) -> bool {
        matches!(self.word_emb, TxlInput::Dense(_))
    }
    fn dense_output(&self) -> bool {
        matches!(self.crit, TxlOutput::Dense(_))
    }
    fn run(
        &self,
        tokens: Tensor<B, 2, Int>,
        state: Option<LmState<B>>,
        window: Option<usize>,
    ) -> Result<LmOutput<B>, ModelError> {
        TransformerXl::run(self, tokens, state, window)
    }
    fn log_probs(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        TransformerXl::log_probs(self, hidden)
    }
    fn nll(
        &self,
        hidden: Tensor<B, 3>,
        targets: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 2>, ModelError> {
        TransformerXl::nll(self, hidden, targets)
    }
    /// A Transformer-XL's returned memory already holds the last steps of old and new.
    fn decoding_state(
        &self,
        _previous: Option<LmState<B>>,
        next: LmState<B>,
        window: usize,
    ) -> LmState<B> {
        next.detach().truncate_memory(window)
    }
}

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
    fn inner(&self) -> &dyn SegmentModel<B> {
        match self {
            LanguageModel::Srupp(m) => m,
            LanguageModel::TransformerXl(m) => m,
        }
    }

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
        self.inner().vocab_size()
    }

    /// Width of the hidden states.
    pub fn width(&self) -> usize {
        self.inner().width()
    }

    /// Layers.
    pub fn depth(&self) -> usize {
        self.inner().depth()
    }

    /// The state before the first segment for `batch` streams: SRU++'s zero c and no
    /// memory, or a Transformer-XL's empty memory.
    pub fn zero_state(&self, batch: usize, device: &B::Device) -> LmState<B> {
        match self {
            LanguageModel::Srupp(m) => m.zero_state(batch, device),
            LanguageModel::TransformerXl(_) => LmState {
                c: None,
                memory: Vec::new(),
            },
        }
    }

    /// Runs one segment of tokens `(L, B)` after `state` (see [`SegmentModel::run`]); dense
    /// ids are checked against the vocabulary first.
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
        if self.inner().dense_input() {
            check_ids(&[(&tokens, "input")], self.vocab_size())?;
        }
        self.inner().run(tokens, state, window)
    }

    /// Log-probabilities over the vocabulary `(L, B, V)` from hidden states.
    pub fn log_probs(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        self.inner().log_probs(hidden)
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
        if self.inner().dense_output() {
            check_ids(&[(&targets, "target")], self.vocab_size())?;
        }
        self.inner().nll(hidden, targets)
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
        let model = self.inner();
        let mut dense = Vec::new();
        if model.dense_input() {
            dense.push((&tokens, "input"));
        }
        if model.dense_output() {
            dense.push((&targets, "target"));
        }
        check_ids(&dense, self.vocab_size())?;
        let out = model.run(tokens, state, window)?;
        Ok((model.nll(out.hidden, targets)?.mean(), out.state))
    }

    /// See [`SegmentModel::decoding_state`].
    pub fn decoding_state(
        &self,
        previous: Option<LmState<B>>,
        next: LmState<B>,
        window: usize,
    ) -> LmState<B> {
        self.inner().decoding_state(previous, next, window)
    }
}
