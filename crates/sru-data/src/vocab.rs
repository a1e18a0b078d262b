//! Vocabularies: byte-level (the sorted distinct byte values present, as the official enwik8
//! script's `np.unique`, or all 256) and word-level (an ordered word list with an optional
//! unknown token). Saved as JSON beside the token cache.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::DataError;

/// A vocabulary: id ↔ symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Vocab {
    /// Byte symbols; id i is `symbols[i]`.
    Bytes {
        /// The byte value of every id, increasing.
        symbols: Vec<u8>,
    },
    /// Word symbols; id i is `words[i]`.
    Words {
        /// The word of every id.
        words: Vec<String>,
        /// The token unknown words map to, if any (`<unk>`, `<UNK>`).
        unk: Option<String>,
    },
    /// Subword (BPE) tokens; the model itself is `tokenizer.json` beside the cache.
    Subword {
        /// The token string of every id (byte-level BPE alphabet).
        tokens: Vec<String>,
    },
}

/// byte → id for byte symbols (`u32::MAX` for bytes not among them).
pub(crate) fn byte_table(symbols: &[u8]) -> [u32; 256] {
    let mut t = [u32::MAX; 256];
    for (i, &b) in symbols.iter().enumerate() {
        t[b as usize] = i as u32;
    }
    t
}

impl Vocab {
    /// Number of ids.
    pub fn len(&self) -> usize {
        match self {
            Self::Bytes { symbols } => symbols.len(),
            Self::Words { words, .. } => words.len(),
            Self::Subword { tokens } => tokens.len(),
        }
    }

    /// Whether there are no ids.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A byte → id table (`u32::MAX` for bytes not in the vocabulary).
    pub fn byte_table(&self) -> Option<[u32; 256]> {
        let Self::Bytes { symbols } = self else {
            return None;
        };
        Some(byte_table(symbols))
    }

    /// A word → id map.
    pub fn word_index(&self) -> Option<HashMap<&str, u32>> {
        let Self::Words { words, .. } = self else {
            return None;
        };
        Some(
            words
                .iter()
                .enumerate()
                .map(|(i, w)| (w.as_str(), i as u32))
                .collect(),
        )
    }

    /// The text of a sequence of ids (bytes decoded lossily; words joined by spaces).
    pub fn decode(&self, ids: &[u32]) -> String {
        match self {
            Self::Bytes { symbols } => {
                let bytes: Vec<u8> = ids
                    .iter()
                    .filter_map(|&i| symbols.get(i as usize).copied())
                    .collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            Self::Words { words, .. } => ids
                .iter()
                .filter_map(|&i| words.get(i as usize).map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            Self::Subword { tokens } => ids
                .iter()
                .filter_map(|&i| tokens.get(i as usize).map(String::as_str))
                .collect(),
        }
    }

    /// Serialised form, as written beside a cache.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Writes the vocabulary as JSON.
    ///
    /// # Errors
    /// I/O failures.
    pub fn save(&self, path: &Path) -> Result<(), DataError> {
        std::fs::write(path, self.to_json()).map_err(DataError::io(path))
    }

    /// Reads a vocabulary written by [`Vocab::save`].
    ///
    /// # Errors
    /// Unreadable or malformed files.
    pub fn load(path: &Path) -> Result<Self, DataError> {
        let text = std::fs::read_to_string(path).map_err(DataError::io(path))?;
        serde_json::from_str(&text).map_err(|e| DataError::VocabMismatch {
            path: path.to_path_buf(),
            why: format!("not a vocabulary file: {e}"),
        })
    }
}
