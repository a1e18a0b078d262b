//! # sru-parity
//!
//! Checks sru-rs against the official SRU++ implementation (`sru==3.0.0.dev6`) on the parity
//! fixtures that `shared/reference/make_fixtures.py` writes (format in `FIXTURES.md`): load a
//! fixture ([`Fixture::load`]), run it on any backend and dtype ([`run_recurrence`]), and read
//! the per-tensor errors from the [`CaseReport`]. `cargo xtask parity` and the tests use it.
#![deny(missing_docs)]

mod compare;
mod error;
mod fixture;
pub mod random;
mod recurrence;

pub use compare::{CaseReport, Comparison, tolerance};
pub use error::ParityError;
pub use fixture::{Fixture, StoredTensor};
pub use recurrence::{options as recurrence_options, run_recurrence, to_f64, to_tensor};
