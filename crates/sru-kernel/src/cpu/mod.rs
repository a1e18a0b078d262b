//! The native CPU implementation: slice kernels ([`kernel`]) and their binding to Burn's Flex
//! backend ([`flex`]).

pub(crate) mod kernel;
mod flex;
pub(crate) mod real;
