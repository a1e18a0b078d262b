//! Errors of the parity runner.

use std::path::PathBuf;

use thiserror::Error;

/// Why a fixture could not be read or run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ParityError {
    /// The file could not be read.
    #[error("cannot read fixture {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a fixture of the documented format.
    #[error("{path} is not a valid fixture: {why}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A tensor the case kind needs is missing.
    #[error("fixture `{case}` has no tensor `{tensor}`")]
    MissingTensor {
        /// Case name.
        case: String,
        /// Tensor name.
        tensor: String,
    },
    /// The config metadata is incomplete or inconsistent.
    #[error("fixture `{case}`: bad config: {why}")]
    Config {
        /// Case name.
        case: String,
        /// What is wrong.
        why: String,
    },
    /// The case kind is not supported by this build.
    #[error("fixture `{case}` has kind `{kind}`, which this runner does not support yet")]
    UnsupportedKind {
        /// Case name.
        case: String,
        /// The kind.
        kind: String,
    },
    /// sru-rs refused the inputs.
    #[error("fixture `{case}`: {source}")]
    Kernel {
        /// Case name.
        case: String,
        /// The kernel's error.
        source: sru_kernel::KernelError,
    },
}
