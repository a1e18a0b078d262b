//! # sru-data
//!
//! Corpora for sru-rs, prepared exactly as the official SRU++ scripts do, stored once as a
//! memory-mapped token cache, and read back as ordered, resumable, shardable batches. No model
//! code and no Burn types in the core: tokens are `u32` ids; with the `burn` feature,
//! `Batch::to_tensors` is the thin adapter to `(L, B)` integer tensors.
//!
//! - [`prepare_bytes`]: any file (plain, `.bz2`, `.zip`) as bytes; enwik8's split or ratios.
//! - [`prepare_words`]: WikiText-103, PTB and One Billion Word folders.
//! - [`prepare_subword`]: byte-level BPE ([`Subword`]: trained here, or the GPT-2 files).
//! - [`TokenCache`]: the prepared corpus (`tokens.bin` + `vocab.json`), checksummed; its
//!   [`Tokenizer`] turns text into ids and back ([`TextStream`] for ids one at a time).
//! - [`OrderedStream`]: B contiguous streams, segments of L, targets shifted by one, a
//!   serialisable [`Cursor`], rank/world sharding; [`ShuffledSentences`] for Billion Word
//!   (whole sentences, reshuffled every pass); [`Batches`] picks the one the cache's
//!   [`StreamLayout`] names.
//! - [`parallel`]: sentence-aligned corpora for translation ([`prepare_parallel`],
//!   [`ParallelCorpus`], [`TokenBatches`] capped by tokens).
//!
//! ```no_run
//! use sru_data::{prepare_bytes, ByteOptions, ByteVocab, SplitPlan, Source, TokenCache,
//!                OrderedStream, Split, StreamSpec, Cursor};
//! # fn main() -> Result<(), sru_data::DataError> {
//! let src = Source::new("datasets/enwiki-excerpt.xml.bz2")?;
//! let opts = ByteOptions { vocab: ByteVocab::Present, split: SplitPlan::ratios([0.9, 0.05, 0.05])? };
//! prepare_bytes(&src, "runs/data".as_ref(), &opts, &mut |_| {})?;
//! let cache = TokenCache::open("runs/data".as_ref())?;
//! let stream = OrderedStream::new(&cache, Split::Train, StreamSpec::new(8, 256))?;
//! let (batch, next) = stream.next(Cursor::default());
//! assert_eq!(batch.inputs.len(), batch.len * 8);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod batch;
mod batches;
mod byte;
mod cache;
mod error;
pub mod parallel;
mod progress;
mod shuffled;
mod source;
mod subword;
#[cfg(feature = "burn")]
mod tensors;
mod tokenizer;
mod vocab;
mod word;

pub use batch::{Batch, Cursor, OrderedStream, StreamSpec};
pub use batches::Batches;
pub use byte::{ByteOptions, ByteVocab, ENWIK8_BYTES, ENWIK8_HELDOUT, SplitPlan, prepare_bytes};
pub use cache::{
    CacheWriter, PreparedInfo, Split, StreamLayout, TOKENS_FILE, TokenCache, VOCAB_FILE,
};
pub use error::DataError;
pub use parallel::{
    PairBatch, ParallelCorpus, ParallelFormat, ParallelOptions, ParallelVocab, TokenBatchSpec,
    TokenBatches, prepare_parallel, read_lines,
};
pub use progress::{Progress, ProgressFn};
pub use shuffled::{SentenceOrder, ShuffledSentences};
pub use source::Source;
pub use subword::{Subword, TOKENIZER_FILE, prepare_subword};
pub use tokenizer::{ByteTokenizer, TextStream, Tokenizer, WordTokenizer};
pub use vocab::Vocab;
pub use word::{WordFormat, WordOptions, prepare_words};
