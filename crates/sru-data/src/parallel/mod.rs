//! Sentence-aligned corpora for translation: a folder of `{train,val|valid,test*}.{src,tgt}`
//! files (plain or `.gz`, e.g. Multi30k's raw release) or fairseq's prepared IWSLT'14 text,
//! cleaned as fairseq does, encoded with a joint vocabulary (byte-level BPE learned here, or
//! fairseq's words), stored as checksummed token pairs, and read back as batches capped by
//! tokens.
//!
//! - [`prepare_parallel`] with [`ParallelOptions`] makes the folder; [`ParallelCorpus`] opens
//!   it ([`ParallelManifest`], [`ParallelVocab`], [`PairSet`] per split, texts for scoring).
//! - [`TokenBatches`] cuts a split into [`PairBatch`]es (fairseq's `--max-tokens`).

mod batches;
mod clean;
mod corpus;
mod files;
mod prepare;
mod store;
mod vocab;

pub use batches::{PairBatch, TokenBatchSpec, TokenBatches, collate};
pub use clean::CleanOptions;
pub use corpus::{InputFile, PARALLEL_MANIFEST, ParallelCorpus, ParallelManifest, SplitInfo};
pub use files::{MULTI30K_SHA256, SplitFiles, find_splits, read_lines, sha256_file};
pub use prepare::{ParallelOptions, prepare_parallel};
pub use store::PairSet;
pub use vocab::{BOS, DICT_FILE, EOS, PAD, ParallelFormat, ParallelVocab, SPECIALS, UNK};
