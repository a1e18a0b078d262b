//! # sru-train
//!
//! Training SRU++ language models as the official recipe does (spec §3.2–3.3), on any Burn
//! backend with the SRU recurrence (CPU, WGPU, CUDA):
//!
//! - [`train`]: truncated back-propagation through time over the ordered stream, with the
//!   recurrent state and attention memory carried between segments; RAdam or AdamW
//!   ([`adam`]) on linear warmup + cosine ([`schedule`]); global-norm clipping ([`clip`]);
//!   gradient accumulation; f16/bf16 compute with f32 master weights ([`precision`]);
//!   data parallelism over several devices through Burn's collective ([`sync`]).
//! - [`checkpoint`]: atomic checkpoint folders verified by a manifest; a resumed run
//!   continues bit-identically on the CPU.
//! - [`evaluate`]: BPC / perplexity with the evaluation mask and carried state.
//!
//! The library never prints: progress arrives as [`Event`]s; metrics go to `metrics.jsonl`.
#![deny(missing_docs)]

pub mod adam;
pub mod carry;
pub mod checkpoint;
pub mod clip;
pub mod config;
pub mod error;
pub mod eval;
pub mod metrics;
pub mod precision;
pub mod schedule;
pub mod sync;
pub mod trainer;

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

pub use config::{OptimizerKind, Precision, TrainConfig, WarmupStyle};
pub use error::TrainError;
pub use eval::{EvalResult, EvalSpec, evaluate};
pub use metrics::MetricLine;
pub use trainer::{
    CHECKPOINTS_DIR, CONFIG_FILE, Event, RunOptions, Summary, Trained, Which, flat_params,
    load_trained, train,
};
