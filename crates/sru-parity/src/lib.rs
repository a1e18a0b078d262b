//! # sru-parity
//!
//! Checks sru-rs against the official SRU++ implementation (`sru==3.0.0.dev6`) and the original
//! Transformer-XL (kimiyoung/transformer-xl `mem_transformer.py`) on the parity
//! fixtures that `shared/reference/make_fixtures.py` writes (format in `FIXTURES.md`): load a
//! fixture ([`Fixture::load`]), run it on any backend and dtype ([`run_fixture`]), and read
//! the per-tensor errors from the [`CaseReport`]. `cargo xtask parity` and the tests use it.
#![deny(missing_docs)]

mod compare;
mod error;
mod fixture;
pub mod gate;
mod host;
mod model;
pub mod random;
mod recurrence;
mod segments;
mod txl;

pub use compare::{CaseReport, Comparison, tolerance};
pub use error::ParityError;
pub use fixture::{Fixture, StoredTensor};
pub use host::{tensor, to_f64, to_tensor};
pub use model::{run_lm, run_srupp};
pub use recurrence::{options as recurrence_options, run_recurrence};
pub use txl::run_txl;

/// Runs a fixture of any supported kind (`recurrence`, `srupp`, `lm`, `lm_adaptive`, `txl`).
///
/// # Errors
/// Unknown kinds, malformed fixtures, or inputs sru-rs refuses.
pub fn run_fixture<B: sru_kernel::RecurrenceAutodiffBackend>(
    fx: &Fixture,
    device: &B::Device,
    dtype: burn::tensor::DType,
) -> Result<CaseReport, ParityError> {
    match fx.kind.as_str() {
        "recurrence" => run_recurrence::<B>(fx, device, dtype),
        "srupp" => run_srupp::<B>(fx, device, dtype),
        "lm" | "lm_adaptive" => run_lm::<B>(fx, device, dtype),
        "txl" => run_txl::<B>(fx, device, dtype),
        _ => Err(ParityError::UnsupportedKind {
            case: fx.name.clone(),
            kind: fx.kind.clone(),
        }),
    }
}
