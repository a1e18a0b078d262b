//! What every language model of the family shares at its ends: the result of running a
//! segment ([`LmOutput`]), the check of token ids against the vocabulary, the per-token
//! negative log-likelihood of targets under log-probabilities, and the loss units
//! (bits per character, perplexity). The architectures import this module; it imports none
//! of them.

use burn::tensor::{ElementConversion, Int, Tensor, backend::Backend};

use crate::error::ModelError;
use crate::state::LmState;

/// The result of running a segment.
#[derive(Debug, Clone)]
pub struct LmOutput<B: Backend> {
    /// Hidden states of the last layer `(L, B, d)` (before the output dropout).
    pub hidden: Tensor<B, 3>,
    /// The state to pass to the next segment (not detached).
    pub state: LmState<B>,
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
pub(crate) fn target_nll<B: Backend>(
    log_probs: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
) -> Tensor<B, 2> {
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
