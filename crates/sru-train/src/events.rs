//! What a training run tells its caller and what the caller tells it: the [`Event`]s the loop
//! reports while it runs (each node's device 0 only; the library never prints), the [`Summary`] it
//! returns, and the [`RunOptions`] (where, resume or not, and a stop flag).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use sru_data::Split;

use crate::eval::EvalResult;
use crate::metrics::MetricLine;
use crate::sync::NodeLink;

/// What the loop reports to its caller (device 0 only).
#[derive(Debug, Clone)]
pub enum Event {
    /// Training begins (or resumes).
    Started {
        /// Parameters of the model.
        params: usize,
        /// Tokens per update over all devices.
        tokens_per_step: u64,
        /// Updates already done (non-zero when resuming).
        start_step: u64,
        /// Updates in the whole run.
        steps: u64,
        /// The checkpoint resumed from.
        resumed_from: Option<PathBuf>,
    },
    /// One update finished.
    Step {
        /// Completed updates.
        step: u64,
        /// Mean training loss of the update (nats per token).
        loss: f64,
        /// Learning rate used.
        lr: f64,
        /// Global gradient norm before clipping.
        grad_norm: f64,
        /// Throughput of this update (all devices).
        tokens_per_s: f64,
        /// The update was skipped (f16 overflow).
        skipped: bool,
    },
    /// A metrics line was written.
    Logged(MetricLine),
    /// An evaluation starts.
    EvalStarted {
        /// Completed updates.
        step: u64,
        /// The split.
        split: Split,
        /// Tokens it will score.
        tokens: u64,
    },
    /// Evaluation progress.
    EvalProgress {
        /// Tokens scored.
        done: u64,
        /// Tokens to score.
        total: u64,
    },
    /// An evaluation finished.
    Evaluated {
        /// Completed updates.
        step: u64,
        /// The split.
        split: Split,
        /// The result.
        result: EvalResult,
    },
    /// A checkpoint was written.
    Checkpointed {
        /// Completed updates.
        step: u64,
        /// Its folder.
        path: PathBuf,
    },
    /// At a checkpoint, every data-parallel replica holds the same weights.
    ReplicasAgree {
        /// Completed updates.
        step: u64,
        /// CRC-32 of the weights (f32, little-endian, the official parameter order).
        weights_crc32: u32,
        /// Replicas (devices over all nodes) that agree.
        replicas: usize,
    },
    /// A stop was requested (SIGINT/SIGTERM); the run saved and ends.
    Interrupted {
        /// Completed updates.
        step: u64,
    },
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Completed updates.
    pub step: u64,
    /// It stopped on request before the last update.
    pub interrupted: bool,
    /// The last periodic validation.
    pub last_valid: Option<EvalResult>,
    /// The best periodic validation.
    pub best: Option<Best>,
    /// The update whose weights the final evaluation scored: the best on validation (the
    /// official scripts reload it), or the last when no validation ran.
    pub final_step: Option<u64>,
    /// Final full evaluation of valid.
    pub final_valid: Option<EvalResult>,
    /// Final full evaluation of test.
    pub final_test: Option<EvalResult>,
    /// Training seconds of this session (without evaluation).
    pub train_seconds: f64,
    /// Training tokens of this session.
    pub train_tokens: u64,
    /// The last checkpoint written.
    pub last_checkpoint: Option<PathBuf>,
    /// Why the run's global batch is not the paper's (paper recipes only).
    pub paper_mismatch: Option<String>,
}

/// Where and how to run.
#[derive(Debug)]
pub struct RunOptions<'a> {
    /// The run folder (config, checkpoints, metrics).
    pub run_dir: PathBuf,
    /// Continue from the latest checkpoint in `run_dir`.
    pub resume: bool,
    /// Set to request a clean stop (checkpoint, then return).
    pub stop: &'a AtomicBool,
    /// How this node reaches the others, when the run spans several nodes
    /// ([`crate::TrainConfig::nodes`] > 1).
    pub link: Option<NodeLink>,
}

/// The best validation of a run so far: the update and its loss.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Best {
    /// Completed updates when it was measured.
    pub step: u64,
    /// Mean validation loss (nats per token).
    pub loss: f64,
}
