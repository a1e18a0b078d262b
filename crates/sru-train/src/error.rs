//! Errors of sru-train: every failure names what it concerns (file, step, setting).

use std::path::PathBuf;

use thiserror::Error;

/// Why a training, evaluation or checkpoint operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The training configuration is inconsistent.
    #[error("invalid training config: {why}")]
    Config {
        /// The setting at fault (`batch_size`, `devices`, `lr`, `data`, …).
        setting: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A config file could not be parsed.
    #[error("{}: {why}", path.display())]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// The parser's message (unknown or missing keys, bad values).
        why: String,
    },
    /// The loss or the gradients stopped being finite.
    #[error(
        "training stopped at step {step}: the {what} is {value} (not finite); the last good \
         checkpoint is left untouched. Lower --lr, check the data, or resume from it."
    )]
    NonFinite {
        /// The update that produced it (1-based).
        step: u64,
        /// `loss`, `gradient norm` or `validation loss`.
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// A checkpoint cannot be read or written: missing, truncated, corrupt, for another
    /// model, or not serialisable.
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// There is nothing to resume from.
    #[error("no checkpoint to resume from in {}", .0.display())]
    NoCheckpoint(PathBuf),
    /// The metrics file cannot be read or written.
    #[error("{}{}: {why}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Metrics {
        /// `metrics.jsonl`.
        path: PathBuf,
        /// The line at fault (1-based), when reading.
        line: Option<usize>,
        /// What is wrong.
        why: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The model refused its configuration or inputs.
    #[error(transparent)]
    Model(#[from] sru_model::ModelError),
    /// The corpus could not be read.
    #[error(transparent)]
    Data(#[from] sru_data::DataError),
    /// Devices could not exchange gradients or state.
    #[error("data-parallel training{}: {why}", rank.map(|r| format!(" (device {r})")).unwrap_or_default())]
    Collective {
        /// The device that reports it, when known.
        rank: Option<usize>,
        /// What failed.
        why: String,
    },
    /// Another node of a multi-node run is gone, stuck, or does not match this one.
    #[error("multi-node training{}: {why}", node.map(|n| format!(" (node {n})")).unwrap_or_default())]
    Node {
        /// The node at fault, when known.
        node: Option<usize>,
        /// What happened.
        why: String,
    },
}

impl TrainError {
    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
        let path = path.into();
        move |source| TrainError::Io { path, source }
    }

    /// A checkpoint error about `path`.
    pub fn checkpoint(path: impl Into<PathBuf>, reason: impl Into<String>) -> TrainError {
        TrainError::Checkpoint {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A config error about `setting`.
    pub fn config(setting: &'static str, why: impl Into<String>) -> TrainError {
        TrainError::Config {
            setting,
            why: why.into(),
        }
    }
}
