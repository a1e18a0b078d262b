//! Byte-level corpora (spec §3.1, the official `train_enwik8.py` preparation).
//!
//! Vocabulary: the sorted distinct byte values present in the (truncated) input — 205 for
//! enwik8 — or all 256. Splits: enwik8's (the first 100,000,000 bytes; train = all but the last
//! 10M, valid = the next 5M, test = the last 5M) or ratios, in order, unshuffled. Two streaming
//! passes over the input (count, then encode); memory stays at a few buffers.

use std::io::Read;
use std::path::Path;

use crate::cache::{CacheWriter, PreparedInfo, Split};
use crate::error::DataError;
use crate::progress::{Progress, ProgressFn};
use crate::source::Source;
use crate::vocab::Vocab;

/// enwik8's size: the first 10^8 bytes of the Wikipedia dump.
pub const ENWIK8_BYTES: u64 = 100_000_000;
/// enwik8's valid and test sizes.
pub const ENWIK8_HELDOUT: u64 = 5_000_000;

/// Which byte values make up the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ByteVocab {
    /// The sorted distinct values present (the official script).
    #[default]
    Present,
    /// All 256 values.
    Full,
}

/// How a corpus is cut into train, valid and test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SplitPlan {
    /// enwik8: first 10^8 bytes; the last 10M held out as 5M valid + 5M test.
    Enwik8,
    /// Fractions of the corpus, in order (train, valid, test), summing to 1.
    Ratios([f64; 3]),
}

impl SplitPlan {
    /// Validates ratios.
    ///
    /// # Errors
    /// [`DataError::BadSplit`] when negative or not summing to 1.
    pub fn ratios(r: [f64; 3]) -> Result<Self, DataError> {
        if r.iter().any(|x| !x.is_finite() || *x < 0.0)
            || (r.iter().sum::<f64>() - 1.0).abs() > 1e-6
        {
            return Err(DataError::BadSplit { ratios: r.to_vec() });
        }
        Ok(Self::Ratios(r))
    }

    /// The input bytes the plan reads at most.
    pub fn limit(&self) -> Option<u64> {
        match self {
            Self::Enwik8 => Some(ENWIK8_BYTES),
            Self::Ratios(_) => None,
        }
    }

    /// Tokens in train, valid, test for a corpus of `n` tokens.
    ///
    /// # Errors
    /// A corpus too small for the plan.
    pub fn sizes(&self, n: u64, path: &Path) -> Result<[u64; 3], DataError> {
        match self {
            Self::Enwik8 => {
                if n <= 2 * ENWIK8_HELDOUT {
                    return Err(DataError::Format {
                        path: path.to_path_buf(),
                        why: format!(
                            "{n} bytes: the enwik8 split needs more than {} bytes",
                            2 * ENWIK8_HELDOUT
                        ),
                    });
                }
                Ok([n - 2 * ENWIK8_HELDOUT, ENWIK8_HELDOUT, ENWIK8_HELDOUT])
            }
            Self::Ratios([_, v, t]) => {
                let valid = (n as f64 * v).floor() as u64;
                let test = (n as f64 * t).floor() as u64;
                Ok([n - valid - test, valid, test])
            }
        }
    }
}

/// Options of a byte corpus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ByteOptions {
    /// Vocabulary.
    pub vocab: ByteVocab,
    /// Splits.
    pub split: SplitPlan,
}

const CHUNK: usize = 1 << 20;

/// Reads up to `limit` bytes of `source` in chunks, calling `f` on each.
fn stream(
    source: &Source,
    limit: Option<u64>,
    mut f: impl FnMut(&[u8]) -> Result<(), DataError>,
) -> Result<u64, DataError> {
    let mut r = source.open()?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let want = match limit {
            Some(l) if l - total < CHUNK as u64 => (l - total) as usize,
            _ => CHUNK,
        };
        if want == 0 {
            break;
        }
        let n = r
            .read(&mut buf[..want])
            .map_err(DataError::io(source.path()))?;
        if n == 0 {
            break;
        }
        f(&buf[..n])?;
        total += n as u64;
    }
    Ok(total)
}

/// Prepares a byte corpus from `source` into the folder `out`.
///
/// # Errors
/// Unreadable input, an empty corpus, a corpus too small for the split, I/O failures.
pub fn prepare_bytes(
    source: &Source,
    out: &Path,
    opts: &ByteOptions,
    progress: ProgressFn<'_>,
) -> Result<PreparedInfo, DataError> {
    let limit = opts.split.limit();
    let mut hist = [0u64; 256];
    let total = stream(source, limit, |chunk| {
        for &b in chunk {
            hist[b as usize] += 1;
        }
        Ok(())
    })?;
    progress(Progress {
        stage: "counted",
        done: total,
        total: Some(total),
    });
    if total == 0 {
        return Err(DataError::EmptyCorpus {
            path: source.path().to_path_buf(),
        });
    }
    let symbols: Vec<u8> = match opts.vocab {
        ByteVocab::Present => (0..=255u8).filter(|&b| hist[b as usize] > 0).collect(),
        ByteVocab::Full => (0..=255u8).collect(),
    };
    let vocab = Vocab::Bytes { symbols };
    let table = vocab.byte_table().unwrap_or([0; 256]);
    let sizes = opts.split.sizes(total, source.path())?;
    let bounds = [sizes[0], sizes[0] + sizes[1]];
    let mut w = CacheWriter::create(out, vocab.len())?;
    let mut pos = 0u64;
    let mut ids = Vec::with_capacity(CHUNK);
    stream(source, Some(total), |chunk| {
        let mut start = 0usize;
        while start < chunk.len() {
            let split = if pos < bounds[0] {
                Split::Train
            } else if pos < bounds[1] {
                Split::Valid
            } else {
                Split::Test
            };
            let end_of_split = match split {
                Split::Train => bounds[0],
                Split::Valid => bounds[1],
                Split::Test => total,
            };
            let take = ((end_of_split - pos) as usize).min(chunk.len() - start);
            w.begin(split)?;
            ids.clear();
            ids.extend(
                chunk[start..start + take]
                    .iter()
                    .map(|&b| table[b as usize]),
            );
            w.push(&ids)?;
            start += take;
            pos += take as u64;
        }
        progress(Progress {
            stage: "encoding",
            done: pos,
            total: Some(total),
        });
        Ok(())
    })?;
    w.finish(&vocab, source.path())
}
