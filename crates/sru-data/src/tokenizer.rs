//! Text ↔ token ids for every vocabulary kind, behind one [`Tokenizer`] trait: bytes
//! ([`ByteTokenizer`]: each byte of the UTF-8 text is one id), words ([`WordTokenizer`]:
//! whitespace-separated words, unknown ones mapped to the vocabulary's unknown token) and
//! subwords ([`crate::Subword`], byte-level BPE). [`TokenCache::tokenizer`] gives the one a
//! prepared corpus was made with, and [`TextStream`] decodes ids that arrive one at a time
//! (generation), releasing text as soon as it is complete UTF-8.

use std::collections::HashMap;

use crate::cache::TokenCache;
use crate::error::DataError;
use crate::subword::{Subword, TOKENIZER_FILE};
use crate::vocab::{Vocab, byte_table};

/// Encodes text into token ids and decodes ids back into text.
pub trait Tokenizer: Send + Sync {
    /// The ids of `text`.
    ///
    /// # Errors
    /// A symbol the vocabulary cannot represent ([`DataError::OutOfVocabulary`]).
    fn encode(&self, text: &str) -> Result<Vec<u32>, DataError>;

    /// The text of `ids` (bytes that are not UTF-8 become U+FFFD).
    ///
    /// # Errors
    /// An id outside the vocabulary ([`DataError::IdOutOfRange`]).
    fn decode(&self, ids: &[u32]) -> Result<String, DataError>;

    /// Ids in the vocabulary.
    fn vocab_size(&self) -> usize;
}

fn check_ids(ids: &[u32], vocab_size: usize) -> Result<(), DataError> {
    match ids.iter().find(|&&i| i as usize >= vocab_size) {
        Some(&id) => Err(DataError::IdOutOfRange {
            id: u64::from(id),
            vocab_size,
        }),
        None => Ok(()),
    }
}

/// Byte-level text: id i stands for the i-th byte value of the vocabulary.
#[derive(Debug, Clone)]
pub struct ByteTokenizer {
    /// byte → id (`u32::MAX`: not in the vocabulary).
    table: [u32; 256],
    /// id → byte.
    symbols: Vec<u8>,
}

impl ByteTokenizer {
    /// The tokenizer of a byte vocabulary (`symbols[i]` is the byte of id i).
    pub fn new(symbols: Vec<u8>) -> Self {
        Self {
            table: byte_table(&symbols),
            symbols,
        }
    }
}

impl Tokenizer for ByteTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>, DataError> {
        text.bytes()
            .map(|b| match self.table[b as usize] {
                u32::MAX => Err(DataError::OutOfVocabulary {
                    symbol: format!("byte {b:#04x}"),
                    has_unk: false,
                }),
                id => Ok(id),
            })
            .collect()
    }

    fn decode(&self, ids: &[u32]) -> Result<String, DataError> {
        check_ids(ids, self.symbols.len())?;
        let bytes: Vec<u8> = ids.iter().map(|&i| self.symbols[i as usize]).collect();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn vocab_size(&self) -> usize {
        self.symbols.len()
    }
}

/// Word-level text: words separated by whitespace, joined by single spaces when decoded.
#[derive(Debug, Clone)]
pub struct WordTokenizer {
    words: Vec<String>,
    index: HashMap<String, u32>,
    unk: Option<u32>,
}

impl WordTokenizer {
    /// The tokenizer of a word list; words outside it map to `unk` when given.
    pub fn new(words: Vec<String>, unk: Option<&str>) -> Self {
        let index: HashMap<String, u32> = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        let unk = unk.and_then(|u| index.get(u).copied());
        Self { words, index, unk }
    }
}

impl Tokenizer for WordTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>, DataError> {
        text.split_whitespace()
            .map(|w| {
                self.index
                    .get(w)
                    .copied()
                    .or(self.unk)
                    .ok_or_else(|| DataError::OutOfVocabulary {
                        symbol: format!("the word {w:?}"),
                        has_unk: false,
                    })
            })
            .collect()
    }

    fn decode(&self, ids: &[u32]) -> Result<String, DataError> {
        check_ids(ids, self.words.len())?;
        let words: Vec<&str> = ids
            .iter()
            .map(|&i| self.words[i as usize].as_str())
            .collect();
        Ok(words.join(" "))
    }

    fn vocab_size(&self) -> usize {
        self.words.len()
    }
}

impl Tokenizer for Subword {
    fn encode(&self, text: &str) -> Result<Vec<u32>, DataError> {
        Subword::encode(self, text)
    }

    fn decode(&self, ids: &[u32]) -> Result<String, DataError> {
        check_ids(ids, Subword::vocab_size(self))?;
        Subword::decode(self, ids)
    }

    fn vocab_size(&self) -> usize {
        Subword::vocab_size(self)
    }
}

impl TokenCache {
    /// The tokenizer this corpus was prepared with (for subwords, `tokenizer.json` beside it).
    ///
    /// # Errors
    /// A subword corpus whose `tokenizer.json` is missing or unreadable.
    pub fn tokenizer(&self) -> Result<Box<dyn Tokenizer>, DataError> {
        Ok(match self.vocab() {
            Vocab::Bytes { symbols } => Box::new(ByteTokenizer::new(symbols.clone())),
            Vocab::Words { words, unk } => {
                Box::new(WordTokenizer::new(words.clone(), unk.as_deref()))
            }
            Vocab::Subword { .. } => {
                let dir = self.path().parent().unwrap_or(std::path::Path::new("."));
                Box::new(Subword::load(&dir.join(TOKENIZER_FILE))?)
            }
        })
    }
}

/// Decodes ids that arrive one at a time: [`TextStream::push`] returns the text the new id
/// completes (a word with its leading space, or nothing while a UTF-8 sequence is unfinished),
/// so the pieces concatenate to the decoding of all ids.
///
/// It keeps only the last finished id as context (so the next piece gets its separator) and
/// the ids of an unfinished character, so each push costs the same however long the text.
pub struct TextStream<'a> {
    tokenizer: &'a dyn Tokenizer,
    /// The context id (when `context` is 1), then the ids not yet released.
    ids: Vec<u32>,
    /// Ids of context at the front of `ids` (0 or 1).
    context: usize,
    /// Bytes of `decode(ids)` already released.
    emitted: usize,
}

impl std::fmt::Debug for TextStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextStream {{ ids: {:?} }}", self.ids)
    }
}

/// A UTF-8 character spans at most 4 bytes: after that many ids a trailing U+FFFD is a real
/// invalid byte, not an unfinished character, and is released.
const MAX_PENDING: usize = 4;

impl<'a> TextStream<'a> {
    /// An empty stream.
    pub fn new(tokenizer: &'a dyn Tokenizer) -> Self {
        Self {
            tokenizer,
            ids: Vec::new(),
            context: 0,
            emitted: 0,
        }
    }

    /// A stream that continues text already shown, made of `context` ids (a prompt): the
    /// first piece gets its separator (a word's leading space) as if it followed them.
    ///
    /// # Errors
    /// An id outside the vocabulary.
    pub fn continuing(tokenizer: &'a dyn Tokenizer, context: &[u32]) -> Result<Self, DataError> {
        let ids: Vec<u32> = context.last().copied().into_iter().collect();
        let emitted = tokenizer.decode(&ids)?.len();
        Ok(Self {
            tokenizer,
            context: ids.len(),
            ids,
            emitted,
        })
    }

    /// Adds one id; returns the text it completes.
    ///
    /// # Errors
    /// An id outside the vocabulary.
    pub fn push(&mut self, id: u32) -> Result<String, DataError> {
        self.ids.push(id);
        let text = self.tokenizer.decode(&self.ids)?;
        let pending = self.ids.len() - self.context;
        // Hold back a trailing replacement character: it may be an unfinished UTF-8 sequence.
        let end = match text.strip_suffix('\u{FFFD}') {
            Some(head) if pending < MAX_PENDING => head.len(),
            _ => text.len(),
        };
        let out = text.get(self.emitted..end).unwrap_or_default().to_string();
        if end == text.len() {
            // Everything is released: keep the last id as the next piece's context.
            self.ids.drain(..self.ids.len() - 1);
            self.context = 1;
            self.emitted = self.tokenizer.decode(&self.ids)?.len();
        } else {
            self.emitted = self.emitted.max(end);
        }
        Ok(out)
    }

    /// The text still held back (an unfinished UTF-8 sequence, as U+FFFD).
    ///
    /// # Errors
    /// An id outside the vocabulary.
    pub fn finish(self) -> Result<String, DataError> {
        let text = self.tokenizer.decode(&self.ids)?;
        Ok(text.get(self.emitted..).unwrap_or_default().to_string())
    }
}
