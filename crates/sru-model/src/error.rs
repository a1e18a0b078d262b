//! Errors of sru-model.

use thiserror::Error;

/// Why a model could not be built, run or loaded.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The configuration is inconsistent.
    #[error("invalid model config: {0}")]
    Config(String),
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
    /// The recurrence refused its inputs.
    #[error(transparent)]
    Kernel(#[from] sru_kernel::KernelError),
    /// Weights could not be read or do not fit the model.
    #[error("weights: {0}")]
    Weights(String),
}
