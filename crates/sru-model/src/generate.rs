//! Stateful generation: feed tokens (one or a chunk at a time) with a carried state and get
//! the next-token distribution, or a token drawn from it ([`Decoder::feed_and_sample`]). The
//! state is constant-size (SRU++: c per layer) plus attention memory of at most `window`
//! positions per layer ([`crate::LanguageModel::decoding_state`]), so decoding cost per token
//! is bounded.
//!
//! Feeding tokens one by one gives the same log-probabilities as one forward pass over the
//! whole sequence with the evaluation mask of the same window (spec §3.2), because each
//! query sees exactly the previous `window` positions and itself in both.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend, s};
use sru_kernel::RecurrenceBackend;

use crate::error::ModelError;
use crate::model::LanguageModel;
use crate::sample::Sampler;
use crate::state::LmState;

/// Incremental decoder over a [`LanguageModel`].
#[derive(Debug)]
pub struct Decoder<'a, B: Backend> {
    model: &'a LanguageModel<B>,
    state: Option<LmState<B>>,
    window: usize,
}

impl<'a, B: RecurrenceBackend> Decoder<'a, B> {
    /// A decoder with an empty history; attention sees at most `window` past positions.
    pub fn new(model: &'a LanguageModel<B>, window: usize) -> Self {
        Self {
            model,
            state: None,
            window: window.max(1),
        }
    }

    /// Tokens fed so far that attention can still see.
    pub fn context_len(&self) -> usize {
        self.state.as_ref().map_or(0, LmState::memory_len)
    }

    /// Feeds a chunk of tokens (one stream) and returns the log-probabilities of the token
    /// after each of them, `(len, V)`.
    ///
    /// # Errors
    /// An empty chunk or a model error.
    pub fn feed(&mut self, tokens: &[i64], device: &B::Device) -> Result<Tensor<B, 2>, ModelError> {
        if tokens.is_empty() {
            return Err(ModelError::Empty { name: "tokens" });
        }
        let l = tokens.len();
        let t = Tensor::<B, 2, Int>::from_data(TensorData::new(tokens.to_vec(), [l, 1]), device);
        let prev = self.state.take();
        let out = self
            .model
            .forward_hidden(t, prev.clone(), Some(self.window))?;
        self.state = Some(self.model.decoding_state(prev, out.state, self.window));
        let v = self.model.vocab_size();
        Ok(self.model.log_probs(out.hidden)?.reshape([l, v]))
    }

    /// Feeds `tokens` and draws the token that follows them with `sampler`: one step of text
    /// generation (feed the prompt first, then each drawn token).
    ///
    /// # Errors
    /// An empty chunk, a token outside the vocabulary, or a model error.
    pub fn feed_and_sample(
        &mut self,
        tokens: &[i64],
        sampler: &mut Sampler,
        device: &B::Device,
    ) -> Result<i64, ModelError> {
        let lp = self.feed(tokens, device)?;
        let [n, v] = lp.dims();
        let last: Vec<f32> = lp
            .slice(s![n - 1..n, ..])
            .reshape([v])
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("log-probabilities converted to f32");
        Ok(sampler.sample(&last)? as i64)
    }

    /// Feeds one token and returns the log-probabilities of the next `(V)`.
    ///
    /// # Errors
    /// A model error.
    pub fn step(&mut self, token: i64, device: &B::Device) -> Result<Tensor<B, 1>, ModelError> {
        let lp = self.feed(&[token], device)?;
        let v = lp.dims()[1];
        Ok(lp.slice(s![0..1, ..]).reshape([v]))
    }
}
