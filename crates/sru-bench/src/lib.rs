//! # sru-bench
//!
//! The workloads sru-rs benchmarks time, shared by the criterion benches (`benches/`),
//! `cargo xtask bench` and `cargo xtask gpu-check`:
//!
//! - [`recurrence`]: the bare SRU recurrence at a shape, forward and forward + backward, with
//!   the bytes each moves;
//! - [`lm`]: the LM training step — sru-train's own [`sru_train::TrainStep`], so a benchmark
//!   times what `cargo xtask train` runs — and the inference step of evaluation;
//! - [`timing`]: medians after warm-up, and the baselines every figure is a ratio to (a copy
//!   of the same size, the backend's sgemm rate), measured in the same run.
//!
//! The library never prints; the benches and the CLI render the numbers.
#![deny(missing_docs)]

pub mod lm;
pub mod recurrence;
pub mod timing;

pub use lm::{InferBench, LmShape, Tokens, TrainBench};
pub use recurrence::{Prepared, Shape, grid, prepare};
pub use timing::{CopyBaseline, gbps, median_time, peak_rss_bytes, sgemm_gflops, sync};
