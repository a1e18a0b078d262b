//! Errors of sru-data: every way an input, a cache or an option can be wrong, with the file,
//! offset or value that is.

use std::path::PathBuf;

use thiserror::Error;

/// Why a corpus could not be prepared, read or batched.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DataError {
    /// An input or output file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The input has no tokens.
    #[error("{path}: the corpus is empty")]
    EmptyCorpus {
        /// The input.
        path: PathBuf,
    },
    /// Word-level input that is not UTF-8.
    #[error("{path}: invalid UTF-8 at byte offset {offset}")]
    InvalidUtf8 {
        /// The input.
        path: PathBuf,
        /// Byte offset of the first invalid sequence.
        offset: u64,
    },
    /// A line of a text file that is not UTF-8.
    #[error("{path}: line {line}: invalid UTF-8 at column {column} (byte)")]
    InvalidUtf8Line {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based byte column of the first invalid sequence.
        column: u64,
    },
    /// A file with no text.
    #[error("{path}: the file is empty")]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The two sides of a sentence-aligned split have different numbers of lines.
    #[error(
        "{src} has {src_lines} lines but {tgt} has {tgt_lines}: the sides of a parallel corpus must be aligned line by line"
    )]
    LineCountMismatch {
        /// Source-side file.
        src: PathBuf,
        /// Its lines.
        src_lines: u64,
        /// Target-side file.
        tgt: PathBuf,
        /// Its lines.
        tgt_lines: u64,
    },
    /// A file whose SHA-256 differs from the published release of that name.
    #[error(
        "{path}: SHA-256 {actual} differs from the published file's {expected} (a corrupt or different copy; obtain it again)"
    )]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// Published SHA-256.
        expected: String,
        /// This file's.
        actual: String,
    },
    /// Split ratios that are negative or do not sum to 1.
    #[error("split ratios {ratios:?} must be non-negative and sum to 1")]
    BadSplit {
        /// The ratios given.
        ratios: Vec<f64>,
    },
    /// A split too small for one batch.
    #[error(
        "split `{split}` has {tokens} tokens, fewer than one batch needs ({needed}: batch {batch} × (1 + 1))"
    )]
    SplitTooSmall {
        /// Split name.
        split: String,
        /// Its tokens.
        tokens: u64,
        /// Tokens one batch needs.
        needed: u64,
        /// Batch size.
        batch: usize,
    },
    /// A cache file that is not one, is truncated, or fails its checksum.
    #[error("{path}: corrupt token cache: {why}")]
    CorruptCache {
        /// The cache file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A cache whose vocabulary file does not match it.
    #[error("{path}: vocabulary mismatch: {why}")]
    VocabMismatch {
        /// The vocabulary file.
        path: PathBuf,
        /// What disagrees.
        why: String,
    },
    /// A format-specific problem in the input (a missing file of a corpus, a bad shard name).
    #[error("{path}: {why}")]
    Format {
        /// The input.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// An invalid option (batch size 0, unknown split, rank ≥ world).
    #[error("invalid {option}: {why}")]
    Option {
        /// The option (`batch`, `rank`, `split`, …).
        option: &'static str,
        /// What is wrong with its value.
        why: String,
    },
    /// Text with a symbol the vocabulary does not have (and no unknown token to map it to).
    #[error("{symbol} is not in the vocabulary{}", if *.has_unk { "" } else { " (which has no unknown token)" })]
    OutOfVocabulary {
        /// The symbol: a word, or a byte as `byte 0x..`.
        symbol: String,
        /// Whether the vocabulary has an unknown token (false here means it has none).
        has_unk: bool,
    },
    /// A token id at or above the vocabulary size.
    #[error("token id {id} is outside the vocabulary of {vocab_size} ids")]
    IdOutOfRange {
        /// The id.
        id: u64,
        /// Ids in the vocabulary.
        vocab_size: usize,
    },
}

impl DataError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
