//! The native CPU implementation: slice kernels ([`kernel`]) and their binding to Burn's Flex
//! backend ([`flex`]).

mod flex;
pub(crate) mod kernel;
pub(crate) mod real;
