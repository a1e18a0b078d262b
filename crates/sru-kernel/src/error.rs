//! The errors of sru-kernel: every way a call can be malformed, named with the offending shape.

use thiserror::Error;

/// Why a recurrence call was refused before any kernel ran.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum KernelError {
    /// `k` must be 3 (skip from `x`, or no skip) or 4 (skip value from `U[..., 3]`).
    #[error("k must be 3 or 4, got {0}")]
    InvalidK(usize),
    /// A tensor does not have the shape the others imply.
    #[error("tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    Shape {
        /// Which input.
        name: &'static str,
        /// Its shape.
        actual: Vec<usize>,
        /// The shape implied by `U`, the options and the other inputs.
        expected: Vec<usize>,
    },
    /// The last dimension of `U` is not a multiple of `dirs * k`.
    #[error(
        "U has {features} features per step, which is not a multiple of dirs*k = {dirs}*{k}; \
         U must be (L, B, dirs*d*k) with the k parts of each unit adjacent"
    )]
    UFeatures {
        /// Size of the last dimension of U.
        features: usize,
        /// Number of directions.
        dirs: usize,
        /// Parts per unit.
        k: usize,
    },
    /// `x` is required (k = 3 with a skip term) but missing.
    #[error("x is required when k = 3 and has_skip is set (the skip term is x * scale_x)")]
    MissingX,
    /// An input has zero length, batch or width.
    #[error("empty input: U has shape {0:?}")]
    Empty(Vec<usize>),
    /// The inputs do not share one floating-point dtype.
    #[error("tensor `{name}` has dtype {actual}, but U has dtype {expected}")]
    DType {
        /// Which input.
        name: &'static str,
        /// Its dtype.
        actual: String,
        /// U's dtype.
        expected: String,
    },
    /// `scale_x` is not finite.
    #[error("scale_x must be finite, got {0}")]
    ScaleX(f64),
    /// The backend cannot run the recurrence in this dtype.
    #[error("dtype {dtype} is not supported by the {backend} recurrence kernel")]
    UnsupportedDType {
        /// The dtype asked for.
        dtype: String,
        /// The backend's name.
        backend: String,
    },
    /// A device was asked for that this machine does not have (e.g. CUDA without a driver,
    /// WGPU without a Vulkan driver).
    #[error("{backend} unavailable: {why}")]
    DeviceUnavailable {
        /// `CUDA` or `WGPU`.
        backend: &'static str,
        /// What is missing, and how to provide it.
        why: String,
    },
}
