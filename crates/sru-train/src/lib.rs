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
mod backend;
pub mod carry;
pub mod checkpoint;
pub mod clip;
mod cluster;
pub mod config;
mod devices;
pub mod error;
pub mod eval;
mod events;
pub mod experiment;
mod finish;
mod inference;
mod init;
mod layout;
mod lead;
pub mod metrics;
mod params;
pub mod precision;
pub mod recipe;
mod replica;
mod resume;
mod run;
pub mod schedule;
mod start;
pub mod step;
mod stream;
pub mod sync;

pub use backend::TrainingBackend;
pub use cluster::run_orchestrator;
pub use config::{OptimizerKind, Precision, TrainConfig, WarmupStyle};
pub use error::TrainError;
pub use eval::{EvalResult, EvalSpec, evaluate, score_segment};
pub use events::{Best, Event, RunOptions, Summary};
pub use inference::{Trained, Which, load_trained};
pub use layout::{CHECKPOINTS_DIR, CONFIG_FILE, config_file};
pub use metrics::MetricLine;
pub use params::flat_params;
pub use recipe::{Recipe, recipe};
pub use run::train;
pub use step::{Segment, StepState, TrainStep, UpdateOutcome};
pub use stream::TrainStream;
pub use sync::{NodeLink, Peer, ws_host_port};
