//! The joint vocabulary of a translation corpus: four special ids first, as fairseq's
//! dictionary has them (`<s>` 0, `<pad>` 1, `</s>` 2, `<unk>` 3), then either a byte-level BPE
//! model learned on both sides of train (any character can be encoded: BPE over bytes), or
//! the words of a corpus fairseq's scripts already tokenised and BPE'd (`@@ ` joints).
//! Decoding gives detokenised text: BPE's exact bytes, or fairseq's `--remove-bpe` output.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::subword::Subword;

/// Beginning of sentence (unused by the models: fairseq starts the decoder with `</s>`).
pub const BOS: u32 = 0;
/// Padding.
pub const PAD: u32 = 1;
/// End of sentence; also the first decoder input.
pub const EOS: u32 = 2;
/// Unknown word (fairseq-format corpora only: BPE over bytes has no unknowns).
pub const UNK: u32 = 3;
/// Ids before the first ordinary token.
pub const SPECIALS: u32 = 4;
const SPECIAL_NAMES: [&str; 4] = ["<s>", "<pad>", "</s>", "<unk>"];

/// How the corpus was tokenised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ParallelFormat {
    /// Raw sentences; a joint byte-level BPE model is learned here (`tokenizer.json`).
    #[default]
    Raw,
    /// fairseq's `prepare-iwslt14.sh` output (Moses-tokenised, lower-cased, `@@ ` BPE), used
    /// as given; the vocabulary is its words (`dict.txt`).
    Fairseq,
}

/// Text ↔ ids of a translation corpus.
pub enum ParallelVocab {
    /// Byte-level BPE; id = BPE id + [`SPECIALS`].
    Bpe(Subword),
    /// fairseq words; id = [`SPECIALS`] + position in the list.
    Fairseq {
        /// The words, most frequent first.
        words: Vec<String>,
        /// word → id.
        index: HashMap<String, u32>,
    },
}

impl std::fmt::Debug for ParallelVocab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bpe(s) => write!(f, "ParallelVocab::Bpe({s:?})"),
            Self::Fairseq { words, .. } => {
                write!(f, "ParallelVocab::Fairseq({} words)", words.len())
            }
        }
    }
}

/// File name of a fairseq-format vocabulary (one word and its train count a line).
pub const DICT_FILE: &str = "dict.txt";

impl ParallelVocab {
    /// A fairseq vocabulary of `words` (most frequent first).
    pub fn fairseq(words: Vec<String>) -> Self {
        let index = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), SPECIALS + i as u32))
            .collect();
        Self::Fairseq { words, index }
    }

    /// Ids in the vocabulary, specials included.
    pub fn len(&self) -> usize {
        SPECIALS as usize
            + match self {
                Self::Bpe(s) => s.vocab_size(),
                Self::Fairseq { words, .. } => words.len(),
            }
    }

    /// Always false: the specials are there.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The ids of a sentence (no `</s>`).
    ///
    /// # Errors
    /// A BPE encoding failure.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, DataError> {
        match self {
            Self::Bpe(s) => Ok(s.encode(text)?.into_iter().map(|i| i + SPECIALS).collect()),
            Self::Fairseq { index, .. } => Ok(text
                .split_whitespace()
                .map(|w| index.get(w).copied().unwrap_or(UNK))
                .collect()),
        }
    }

    /// The detokenised text of `ids`; specials are left out (an unknown word as `<unk>`).
    ///
    /// # Errors
    /// An id outside the vocabulary.
    pub fn decode(&self, ids: &[u32]) -> Result<String, DataError> {
        if let Some(&id) = ids.iter().find(|&&i| i as usize >= self.len()) {
            return Err(DataError::IdOutOfRange {
                id: u64::from(id),
                vocab_size: self.len(),
            });
        }
        match self {
            Self::Bpe(s) => {
                let body: Vec<u32> = ids
                    .iter()
                    .filter(|&&i| i >= SPECIALS)
                    .map(|i| i - SPECIALS)
                    .collect();
                s.decode(&body)
            }
            Self::Fairseq { words, .. } => {
                let toks: Vec<&str> = ids
                    .iter()
                    .filter(|&&i| i >= SPECIALS || i == UNK)
                    .map(|&i| {
                        if i == UNK {
                            "<unk>"
                        } else {
                            words[(i - SPECIALS) as usize].as_str()
                        }
                    })
                    .collect();
                // fairseq's `post_process(…, "@@ ")`.
                Ok(format!("{} ", toks.join(" "))
                    .replace("@@ ", "")
                    .trim_end()
                    .to_owned())
            }
        }
    }

    /// The name of an id (`<pad>`, a BPE piece, a word).
    pub fn token(&self, id: u32) -> Option<String> {
        if id < SPECIALS {
            return Some(SPECIAL_NAMES[id as usize].to_owned());
        }
        match self {
            Self::Bpe(s) => s.token(id - SPECIALS),
            Self::Fairseq { words, .. } => words.get((id - SPECIALS) as usize).cloned(),
        }
    }

    /// Saves the vocabulary into a prepared folder (`tokenizer.json` or `dict.txt`).
    ///
    /// # Errors
    /// I/O failures.
    pub fn save(&self, dir: &Path) -> Result<(), DataError> {
        match self {
            Self::Bpe(s) => s.save(&dir.join(crate::subword::TOKENIZER_FILE)),
            Self::Fairseq { words, .. } => {
                let p = dir.join(DICT_FILE);
                let mut text = String::new();
                for w in words {
                    text.push_str(w);
                    text.push('\n');
                }
                std::fs::write(&p, text).map_err(DataError::io(&p))
            }
        }
    }

    /// Loads the vocabulary a folder was prepared with.
    ///
    /// # Errors
    /// A missing or malformed file.
    pub fn load(dir: &Path, format: ParallelFormat) -> Result<Self, DataError> {
        match format {
            ParallelFormat::Raw => Ok(Self::Bpe(Subword::load(
                &dir.join(crate::subword::TOKENIZER_FILE),
            )?)),
            ParallelFormat::Fairseq => {
                let p = dir.join(DICT_FILE);
                let text = std::fs::read_to_string(&p).map_err(DataError::io(&p))?;
                Ok(Self::fairseq(text.lines().map(str::to_owned).collect()))
            }
        }
    }
}
