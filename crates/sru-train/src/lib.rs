//! # sru-train
//!
//! The training loop of sru-rs. **Not yet implemented**: a documented placeholder; its content
//! is tracked by the sru-train issue (truncated BPTT with carried state, RAdam, warmup +
//! cosine schedule, global-norm clipping, atomic checkpoints, evaluation, data parallelism).
#![deny(missing_docs)]
