//! Subword corpora through the `tokenizers` crate (built without network features): train a
//! byte-level BPE model on a corpus, or load the published GPT-2 files (`encoder.json` +
//! `vocab.bpe`), and encode a corpus with it. The model is saved as `tokenizer.json` beside
//! the token cache, so the cache can always be decoded.

use std::io::{BufRead, BufReader};
use std::path::Path;

use tokenizers::Tokenizer;
use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;

use crate::byte::SplitPlan;
use crate::cache::{CacheWriter, PreparedInfo, Split};
use crate::error::DataError;
use crate::progress::{Progress, ProgressFn};
use crate::source::Source;
use crate::vocab::Vocab;

/// File name of the subword model inside a prepared corpus folder.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// A byte-level BPE model.
pub struct Subword {
    tokenizer: Tokenizer,
}

impl std::fmt::Debug for Subword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Subword {{ vocab: {} }}", self.vocab_size())
    }
}

fn tk_err(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Format {
        path: path.to_path_buf(),
        why: e.to_string(),
    }
}

fn byte_level(mut t: Tokenizer) -> Tokenizer {
    t.with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false)));
    t.with_decoder(Some(ByteLevel::default()));
    t
}

/// Lines of a source, newline kept, UTF-8 checked with the byte offset of a bad sequence.
fn lines(
    source: &Source,
    mut f: impl FnMut(&str, u64) -> Result<(), DataError>,
) -> Result<u64, DataError> {
    let mut r = BufReader::with_capacity(1 << 20, source.open()?);
    let mut raw = Vec::new();
    let mut offset = 0u64;
    loop {
        raw.clear();
        let n = r
            .read_until(b'\n', &mut raw)
            .map_err(DataError::io(source.path()))?;
        if n == 0 {
            return Ok(offset);
        }
        let line = std::str::from_utf8(&raw).map_err(|e| DataError::InvalidUtf8 {
            path: source.path().to_path_buf(),
            offset: offset + e.valid_up_to() as u64,
        })?;
        f(line, offset)?;
        offset += n as u64;
    }
}

impl Subword {
    /// Trains a byte-level BPE model of `vocab_size` tokens on the lines of `source`.
    ///
    /// # Errors
    /// Unreadable or non-UTF-8 input; training failures.
    pub fn train_bpe(
        source: &Source,
        vocab_size: usize,
        min_frequency: u64,
    ) -> Result<Self, DataError> {
        let mut text = Vec::new();
        lines(source, |l, _| {
            text.push(l.to_owned());
            Ok(())
        })?;
        Self::train_bpe_on(text, vocab_size, min_frequency, source.path())
    }

    /// Trains a byte-level BPE model of `vocab_size` tokens on `text` (one sentence per item);
    /// `origin` names the input in errors.
    ///
    /// # Errors
    /// Training failures.
    pub fn train_bpe_on(
        text: Vec<String>,
        vocab_size: usize,
        min_frequency: u64,
        origin: &Path,
    ) -> Result<Self, DataError> {
        let mut tokenizer = byte_level(Tokenizer::new(BPE::default()));
        let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
            .vocab_size(vocab_size)
            .min_frequency(min_frequency)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .show_progress(false)
            .build()
            .into();
        tokenizer
            .train(&mut trainer, text.into_iter())
            .map_err(|e| tk_err(origin, e))?;
        Ok(Self { tokenizer })
    }

    /// Loads the published GPT-2 BPE files.
    ///
    /// # Errors
    /// Missing or malformed files.
    pub fn gpt2(encoder_json: &Path, vocab_bpe: &Path) -> Result<Self, DataError> {
        let (e, v) = (encoder_json.to_string_lossy(), vocab_bpe.to_string_lossy());
        let bpe = BPE::from_file(&e, &v)
            .build()
            .map_err(|err| tk_err(vocab_bpe, err))?;
        Ok(Self {
            tokenizer: byte_level(Tokenizer::new(bpe)),
        })
    }

    /// Loads a model saved with [`Subword::save`].
    ///
    /// # Errors
    /// Missing or malformed files.
    pub fn load(path: &Path) -> Result<Self, DataError> {
        Ok(Self {
            tokenizer: Tokenizer::from_file(path).map_err(|e| tk_err(path, e))?,
        })
    }

    /// Saves the model as JSON.
    ///
    /// # Errors
    /// I/O failures.
    pub fn save(&self, path: &Path) -> Result<(), DataError> {
        self.tokenizer
            .save(path, false)
            .map_err(|e| tk_err(path, e))
    }

    /// Writes the BPE model in the GPT-2 file formats: `<dir>/vocab.json` (the `encoder.json`
    /// format) and `<dir>/merges.txt` (the `vocab.bpe` format); returns their paths.
    ///
    /// # Errors
    /// I/O failures.
    pub fn export_gpt2(
        &self,
        dir: &Path,
    ) -> Result<(std::path::PathBuf, std::path::PathBuf), DataError> {
        use tokenizers::Model;
        self.tokenizer
            .get_model()
            .save(dir, None)
            .map_err(|e| tk_err(dir, e))?;
        Ok((dir.join("vocab.json"), dir.join("merges.txt")))
    }

    /// Number of tokens.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// Token ids of `text`.
    ///
    /// # Errors
    /// Encoding failures.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, DataError> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| tk_err(Path::new("<text>"), e))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of token ids.
    ///
    /// # Errors
    /// Ids outside the vocabulary.
    pub fn decode(&self, ids: &[u32]) -> Result<String, DataError> {
        self.tokenizer
            .decode(ids, false)
            .map_err(|e| tk_err(Path::new("<ids>"), e))
    }

    /// The piece of an id.
    pub fn token(&self, id: u32) -> Option<String> {
        self.tokenizer.id_to_token(id)
    }

    fn vocab(&self) -> Vocab {
        let tokens = (0..self.vocab_size() as u32)
            .map(|i| self.tokenizer.id_to_token(i).unwrap_or_default())
            .collect();
        Vocab::Subword { tokens }
    }
}

/// Encodes `source` with `model` into a cache in `out` (lines go to train, valid, test by the
/// byte offset where they start), and saves the model beside it.
///
/// # Errors
/// Unreadable or non-UTF-8 input (with its offset), an empty corpus, I/O failures.
pub fn prepare_subword(
    source: &Source,
    model: &Subword,
    out: &Path,
    split: &SplitPlan,
    progress: ProgressFn<'_>,
) -> Result<PreparedInfo, DataError> {
    let total = lines(source, |_, _| Ok(()))?;
    if total == 0 {
        return Err(DataError::EmptyCorpus {
            path: source.path().to_path_buf(),
        });
    }
    let sizes = split.sizes(total, source.path())?;
    let vocab = model.vocab();
    let mut w = CacheWriter::create(out, vocab.len())?;
    lines(source, |line, offset| {
        let s = if offset < sizes[0] {
            Split::Train
        } else if offset < sizes[0] + sizes[1] {
            Split::Valid
        } else {
            Split::Test
        };
        w.begin(s)?;
        w.push(&model.encode(line)?)?;
        if offset % (1 << 22) < line.len() as u64 {
            progress(Progress {
                stage: "encoding",
                done: offset,
                total: Some(total),
            });
        }
        Ok(())
    })?;
    let info = w.finish(&vocab, source.path())?;
    model.save(&out.join(TOKENIZER_FILE))?;
    Ok(info)
}
