//! Errors of sru-bleu: inputs that cannot be scored, with what is wrong about them.

use thiserror::Error;

/// Why a corpus could not be scored.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BleuError {
    /// No reference stream was given.
    #[error("BLEU needs at least one reference stream")]
    NoReferences,
    /// A reference stream has another number of lines than the hypotheses.
    #[error(
        "reference stream {index} has {lines} lines but there are {hyps} hypotheses (one reference line per hypothesis line)"
    )]
    LengthMismatch {
        /// Which stream (0-based).
        index: usize,
        /// Its number of lines.
        lines: usize,
        /// The number of hypotheses.
        hyps: usize,
    },
    /// A tokenizer sacreBLEU has but sru-bleu does not implement, or a misspelt one.
    #[error("unknown BLEU tokenizer {0:?} (known: 13a, none)")]
    UnknownTokenizer(String),
}
