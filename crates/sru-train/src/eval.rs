//! Evaluation (spec §3.2): a split read as its corpus's layout says ([`Batches::eval`]: the
//! ordered stream of running text, or the sentences in file order dealt to the streams as the
//! official Billion Word iterator, whose last incomplete batch it drops) in segments of
//! `eval_unroll`, the recurrent state and attention memory carried across segments, the
//! evaluation mask (a sliding window of `eval_unroll + 1` positions), dropout off. Returns the
//! mean NLL per token.

use std::time::Instant;

use burn::tensor::{DType, ElementConversion, Int, Tensor};
use sru_data::{Batches, Split, StreamSpec, TokenCache};
use sru_kernel::RecurrenceBackend;
use sru_model::{LanguageModel, LmState};

use crate::error::TrainError;

/// How to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalSpec {
    /// The split.
    pub split: Split,
    /// Streams.
    pub batch: usize,
    /// Segment and memory length.
    pub unroll: usize,
    /// Stop after this many tokens (`None`: the whole split).
    pub max_tokens: Option<u64>,
}

/// The result of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalResult {
    /// Mean negative log-likelihood per token (nats).
    pub loss: f64,
    /// Tokens scored.
    pub tokens: u64,
    /// Wall time.
    pub seconds: f64,
}

/// Tokens an evaluation under `spec` will score.
///
/// # Errors
/// A split too small for the batch.
pub fn planned_tokens(cache: &TokenCache, spec: &EvalSpec) -> Result<u64, TrainError> {
    let stream = Batches::eval(cache, spec.split, StreamSpec::new(spec.batch, spec.unroll))?;
    Ok(spec.tokens_of(&stream))
}

impl EvalSpec {
    /// Tokens scored from `stream` under this spec.
    fn tokens_of(&self, stream: &Batches<'_>) -> u64 {
        let all = stream.tokens_per_pass(0);
        self.max_tokens.map_or(all, |m| m.min(all))
    }
}

/// One evaluation segment: the summed NLL (nats, read back) of `targets` after `tokens`
/// `(L, B)` with the carried `state` under the evaluation mask of `window`, and the state for
/// the next segment. [`evaluate`] and the inference benchmarks run this.
///
/// # Errors
/// Model errors (shapes, ids outside the vocabulary).
pub fn score_segment<B: RecurrenceBackend>(
    model: &LanguageModel<B>,
    tokens: Tensor<B, 2, Int>,
    targets: Tensor<B, 2, Int>,
    state: Option<LmState<B>>,
    window: usize,
) -> Result<(f64, LmState<B>), TrainError> {
    let out = model.forward_hidden(tokens, state, Some(window))?;
    let nll = model
        .token_nll(out.hidden, targets)?
        .sum()
        .cast(DType::F32)
        .into_scalar()
        .elem::<f32>();
    Ok((f64::from(nll), out.state))
}

/// Scores `spec.split` of `cache` with `model` (an inference model: no autodiff, no dropout).
/// `progress(done, total)` is called after every segment.
///
/// # Errors
/// A split too small for the batch; model errors.
pub fn evaluate<B: RecurrenceBackend>(
    model: &LanguageModel<B>,
    cache: &TokenCache,
    spec: &EvalSpec,
    device: &B::Device,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<EvalResult, TrainError> {
    let t0 = Instant::now();
    let stream = Batches::eval(cache, spec.split, StreamSpec::new(spec.batch, spec.unroll))?;
    let total = spec.tokens_of(&stream);
    let mut state: Option<LmState<B>> = None;
    let (mut nll, mut tokens) = (0.0f64, 0u64);
    for batch in stream.pass() {
        if tokens >= total {
            break;
        }
        let (x, y) = batch.to_tensors::<B>(device);
        let (seg, next) = score_segment(model, x, y, state.take(), spec.unroll)?;
        nll += seg;
        tokens += (batch.len * batch.batch) as u64;
        state = Some(next);
        progress(tokens.min(total), total);
    }
    Ok(EvalResult {
        loss: nll / tokens.max(1) as f64,
        tokens,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
