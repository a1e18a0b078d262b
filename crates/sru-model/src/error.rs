//! Errors of sru-model.

use thiserror::Error;

/// Why a model could not be built, run or loaded.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The configuration is inconsistent.
    #[error("invalid model config: {why}")]
    Config {
        /// The setting at fault (`vocab_size`, `cutoffs`, `num_heads`, `preset`, …).
        setting: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A tensor has the wrong shape for this model.
    #[error("`{name}` has shape {actual:?}, expected {expected:?}")]
    Shape {
        /// Which tensor.
        name: String,
        /// Its shape.
        actual: Vec<usize>,
        /// The expected shape.
        expected: Vec<usize>,
    },
    /// An input is empty where the model needs at least one token.
    #[error("`{name}` is empty")]
    Empty {
        /// Which input.
        name: &'static str,
    },
    /// A token id outside the vocabulary (as input or as target).
    #[error("{role} token id {id} is outside the vocabulary of {vocab_size} ids")]
    TokenOutOfRange {
        /// `input` or `target`.
        role: &'static str,
        /// The first offending id.
        id: i64,
        /// The model's vocabulary size.
        vocab_size: usize,
    },
    /// The recurrence refused its inputs.
    #[error(transparent)]
    Kernel(#[from] sru_kernel::KernelError),
    /// Weights could not be read or written, or do not fit the model.
    #[error("weights: {origin}: {why}")]
    Weights {
        /// The file (or `state_dict` for tensors in memory).
        origin: String,
        /// What is wrong: every missing, unexpected or misshapen key, or the I/O error.
        why: String,
    },
    /// Sampling options out of range.
    #[error("invalid sampling option {option}: {why}")]
    Sampling {
        /// `temperature`, `top_k` or `top_p`.
        option: &'static str,
        /// What is wrong with its value.
        why: String,
    },
}

impl ModelError {
    /// A config error about `setting`.
    pub(crate) fn config(setting: &'static str, why: impl Into<String>) -> ModelError {
        ModelError::Config {
            setting,
            why: why.into(),
        }
    }

    /// A weights error about `origin`.
    pub(crate) fn weights(origin: impl std::fmt::Display, why: impl Into<String>) -> ModelError {
        ModelError::Weights {
            origin: origin.to_string(),
            why: why.into(),
        }
    }
}
