//! # sru-bleu
//!
//! Corpus BLEU equal to sacreBLEU 2.6.0's `corpus_bleu` (Post, 2018): the `13a` and `none`
//! tokenizers, lower-casing, `exp` smoothing, any number of references, and the same
//! `sys_len`/`ref_len`, precisions and brevity penalty. Checked against golden values made by
//! sacreBLEU itself (`fixtures/scripts/make_bleu.py`). Stands alone: no model or tensor code.
//!
//! ```
//! use sru_bleu::{BleuOptions, corpus_bleu};
//! let hyps = ["The cat sat on the mat."];
//! let refs = [vec!["The cat is on the mat."]];
//! let opts = BleuOptions::default();
//! let s = corpus_bleu(&hyps, &refs, &opts)?;
//! assert_eq!((s.stats.sys_len, s.stats.ref_len), (7, 7));
//! println!("{}", s.format(&opts.signature(1), 1));
//! # Ok::<(), sru_bleu::BleuError>(())
//! ```
#![deny(missing_docs)]

mod bleu;
mod error;
mod tokenize;

pub use bleu::{BleuOptions, BleuScore, BleuStats, MAX_ORDER, SACREBLEU_VERSION, corpus_bleu};
pub use error::BleuError;
pub use tokenize::{Tokenize, tokenize_13a};
