//! # sru-train
//!
//! Training SRU++ language models as the official recipe does (spec §3.2–3.3), on any Burn
//! backend with the SRU recurrence (CPU, WGPU, CUDA):
//!
//! - [`train`]: a whole run — truncated back-propagation through time over the corpus's
//!   stream ([`TrainStream`]), periodic validation, checkpoints, a final evaluation on the
//!   best weights; progress
//!   arrives as [`Event`]s.
//! - [`TrainStep`]: one update — accumulated segments with the recurrent state and attention
//!   memory carried, the gradient all-reduce between devices, of one machine or of several
//!   ([`sync`], [`NodeLink`], [`run_orchestrator`]), global-norm clipping
//!   ([`clip`]), RAdam or AdamW ([`adam`]) on warmup + cosine ([`schedule`]), mixed precision
//!   as `torch.cuda.amp` (f32 parameters, gradients and optimizer state; f16/bf16 products;
//!   [`precision`]). Benchmarks time this same step.
//! - [`recipe`]: the official hyperparameters of every preset, each citing its source.
//! - [`checkpoint`]: atomic checkpoint folders verified by a manifest; a resumed run
//!   continues bit-identically on the CPU. [`load_trained`] reads one back for inference.
//! - [`evaluate`]: BPC / perplexity with the evaluation mask and carried state.
//! - [`experiment`]: SRU++ against the Transformer-XL baseline under one compute budget.
//!
//! The library never prints; metrics go to `metrics.jsonl`.
#![deny(missing_docs)]

pub mod adam;
pub mod carry;
pub mod checkpoint;
pub mod clip;
mod cluster;
pub mod config;
pub mod error;
pub mod eval;
mod events;
pub mod experiment;
mod inference;
mod lead;
pub mod metrics;
pub mod precision;
pub mod recipe;
mod resume;
mod run;
pub mod schedule;
pub mod step;
mod stream;
pub mod sync;

/// A backend the loop can train on: autodiff with the SRU recurrence, whose inner backend
/// (evaluation, all-reduce) runs the recurrence too. `Autodiff<Flex>`, `Autodiff<Wgpu>` and
/// `Autodiff<Cuda>` all are.
pub trait TrainingBackend:
    sru_kernel::RecurrenceAutodiffBackend<InnerBackend: sru_kernel::RecurrenceBackend>
{
}

impl<B> TrainingBackend for B where
    B: sru_kernel::RecurrenceAutodiffBackend<InnerBackend: sru_kernel::RecurrenceBackend>
{
}

pub use cluster::run_orchestrator;
pub use config::{OptimizerKind, Precision, TrainConfig, WarmupStyle};
pub use error::TrainError;
pub use eval::{EvalResult, EvalSpec, evaluate, score_segment};
pub use events::{Best, Event, RunOptions, Summary};
pub use inference::{Trained, Which, flat_params, load_trained};
pub use metrics::MetricLine;
pub use recipe::{Recipe, recipe};
pub use run::{CHECKPOINTS_DIR, CONFIG_FILE, config_file, train};
pub use step::{Segment, StepState, TrainStep, UpdateOutcome};
pub use stream::TrainStream;
pub use sync::{NodeLink, Peer, ws_host_port};
