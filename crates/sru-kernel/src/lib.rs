//! # sru-kernel
//!
//! The SRU element-wise recurrence (Lei, 2021; spec §1) as one backend-generic Burn operation,
//! forward and backward, computing exactly what the official `sru==3.0.0.dev6` computes.
//!
//! Per unit and time step, with the projected input `U` holding k parts per unit:
//!
//! ```text
//! f_t = σ(U1 + v_f ⊙ c_{t-1} + b_f)        r_t = σ(U2 + v_r ⊙ c_{t-1} + b_r)
//! c_t = f_t ⊙ c_{t-1} + (1 - f_t) ⊙ U0     h_t = r_t ⊙ m ⊙ (act(c_t) - x') + x'
//! ```
//!
//! Implementations, chosen by the backend type:
//! - **Flex** (Burn's CPU backend): native loops over columns split across threads
//!   (the `cpu` module), f32 and f64 (f16/bf16 widened);
//! - **CubeCL** (`wgpu` / `cuda` features): one `#[cube]` kernel source for `CubeBackend` on
//!   WGPU and CUDA, also through `Fusion<..>` (Burn's default `Wgpu` / `Cuda` types);
//! - **`Autodiff<B>`**: a hand-written backward (spec §1.3) that calls the backend's backward
//!   kernel;
//! - [`elementwise_recurrence_reference`]: the same math from tensor ops on any backend,
//!   the oracle of the tests.
//!
//! Layout is time-major: `U (L, B, dirs·d·k)` read as `(L, B, dir, d, k)`, `x`, `h (L, B, D)`.
//!
//! ```
//! use burn::backend::{Autodiff, Flex};
//! use burn::tensor::{Distribution, Tensor};
//! use sru_kernel::{elementwise_recurrence, RecurrenceInput, RecurrenceOptions};
//!
//! type B = Autodiff<Flex>;
//! let dev = Default::default();
//! let (l, b, d) = (8, 2, 16);
//! let u = Tensor::<B, 3>::random([l, b, 3 * d], Distribution::Normal(0.0, 1.0), &dev).require_grad();
//! let x = Tensor::<B, 3>::random([l, b, d], Distribution::Normal(0.0, 1.0), &dev);
//! let wc = Tensor::<B, 1>::zeros([2 * d], &dev).require_grad();
//! let bias = Tensor::<B, 1>::zeros([2 * d], &dev);
//! let out = elementwise_recurrence(RecurrenceInput::new(u.clone(), wc, bias).with_x(x),
//!                                  &RecurrenceOptions::default()).unwrap();
//! let grads = out.h.sum().backward();
//! assert_eq!(u.grad(&grads).unwrap().dims(), [l, b, 3 * d]);
//! ```
#![deny(missing_docs)]

mod api;
mod autodiff;
mod backend;
mod cpu;
#[cfg(feature = "cube")]
mod cube;
pub mod device;
mod error;
mod fused;
#[cfg(feature = "cube")]
mod fusion;
mod options;
mod reference;

pub use api::{RecurrenceInput, RecurrenceOutput, elementwise_recurrence};
pub use backend::{RecurrenceBackend, RecurrenceGrads, RecurrenceInputs, RecurrenceKernels};
pub use error::KernelError;
pub use fused::{FusedKernels, attention, linear};
pub use options::{Activation, RecurrenceConfig, RecurrenceOptions, Skip};
pub use reference::elementwise_recurrence_reference;

/// A backend on which the recurrence is differentiable with the hand-written backward:
/// `Autodiff<B>` for any inner backend `B` with [`RecurrenceKernels`].
pub trait RecurrenceAutodiffBackend:
    RecurrenceBackend + burn::tensor::backend::AutodiffBackend
{
}

impl<B, C> RecurrenceAutodiffBackend for burn_autodiff::Autodiff<B, C>
where
    B: RecurrenceKernels,
    C: burn_autodiff::checkpoint::strategy::CheckpointStrategy,
    burn_autodiff::Autodiff<B, C>: burn::tensor::backend::AutodiffBackend,
{
}
