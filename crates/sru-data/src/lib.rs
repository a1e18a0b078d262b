//! # sru-data
//!
//! Corpora and batching for sru-rs, independent of the model code. **Not yet implemented**:
//! a documented placeholder; its content is tracked by the sru-data issue (byte, word and
//! subword corpora prepared as the official scripts do, memory-mapped token caches, resumable
//! stream batching, the bundled Wikipedia excerpt).
#![deny(missing_docs)]
