//! # sru-model
//!
//! The SRU++ layers and language models of Lei (2021), written against any Burn backend that
//! implements [`sru_kernel`]'s recurrence. **Not yet implemented**: this crate is a documented
//! placeholder so the workspace has its final shape; its content is tracked by the sru-model
//! issue (attention with segment memory, `SruppCell`, the `Srupp` stack, byte- and word-level
//! LMs, presets, stateful generation, official weight import).
#![deny(missing_docs)]
