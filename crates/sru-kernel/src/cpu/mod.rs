//! The native CPU implementation of the recurrence, by concern:
//!
//! - [`columns`]: how B·D columns are cut into work items and laid out in fixed arrays;
//! - [`forward`] and [`backward`]: the recurrence over those items (rayon over items);
//! - [`simd`]: run-time choice of the AVX2 builds and const-generic dispatch of the options;
//! - [`shared`]: the unsafe buffer plumbing the parallel items write through;
//! - [`real`]: f32/f64 arithmetic; `flex`: the binding to Burn's Flex backend;
//! - `dense`: the fused forward ops ([`crate::FusedKernels`]) on Flex: linear and attention.

mod backward;
mod columns;
mod dense;
mod flex;
mod forward;
pub(crate) mod real;
mod shared;
mod simd;

pub(crate) use backward::backward;
pub(crate) use forward::forward;

/// Borrowed inputs of one call (layouts as in [`crate::backend::RecurrenceInputs`]).
pub(crate) struct Inputs<'a, T> {
    pub u: &'a [T],
    pub x: Option<&'a [T]>,
    pub weight_c: &'a [T],
    pub bias: &'a [T],
    pub c0: &'a [T],
    pub mask_c: Option<&'a [T]>,
    pub mask_pad: Option<&'a [T]>,
}

/// Owned gradients of one call.
pub(crate) struct Grads<T> {
    pub u: Vec<T>,
    pub x: Option<Vec<T>>,
    pub weight_c: Vec<T>,
    pub bias: Vec<T>,
    pub c0: Vec<T>,
}
