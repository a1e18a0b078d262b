//! The token cache: a prepared corpus written once and read back memory-mapped.
//!
//! Layout (little-endian), 56-byte header then the tokens of train, valid and test:
//!
//! | offset | field |
//! |---|---|
//! | 0 | magic `SRUTOKEN` |
//! | 8 | format version (u32, = 2) |
//! | 12 | token width in bytes (u8: 1, 2 or 4, the smallest that holds the vocabulary) |
//! | 13 | stream layout (u8: 0 contiguous text, 1 sentences separated by a boundary id), 2 pad |
//! | 16 | vocabulary size (u32) |
//! | 20 | CRC-32 of the vocabulary file (u32) |
//! | 24 | tokens in train, valid, test (3 × u64) |
//! | 48 | CRC-32 of all token bytes (u32) |
//! | 52 | boundary id of a sentence layout (u32; 0 otherwise) |
//!
//! The layout says how a corpus is read ([`StreamLayout`]): contiguous text (enwik8,
//! WikiText-103) as B ordered streams, sentences (One Billion Word: `<S>` once at the start of
//! each split and after every sentence) as the official shuffled-sentence iterator. Format 1
//! did not record it; such caches are refused with a request to prepare them again.
//!
//! The vocabulary is `vocab.json` beside `tokens.bin`. Writing goes to a temporary file that
//! is synced and renamed, so an interrupted preparation never leaves a cache that looks valid.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::vocab::Vocab;

const MAGIC: &[u8; 8] = b"SRUTOKEN";
const VERSION: u32 = 2;
const HEADER: usize = 56;
/// File name of the token data inside a prepared corpus folder.
pub const TOKENS_FILE: &str = "tokens.bin";
/// File name of the vocabulary inside a prepared corpus folder.
pub const VOCAB_FILE: &str = "vocab.json";

/// The three splits of a corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training data.
    Train,
    /// Validation data.
    Valid,
    /// Test data.
    Test,
}

impl Split {
    /// All splits in file order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::str::FromStr for Split {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        match s {
            "train" => Ok(Split::Train),
            "valid" | "validation" | "dev" => Ok(Split::Valid),
            "test" => Ok(Split::Test),
            other => Err(DataError::Option {
                option: "split",
                why: format!("unknown split `{other}` (train, valid, test)"),
            }),
        }
    }
}

/// How the tokens of a corpus are streamed into batches; recorded in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum StreamLayout {
    /// Running text: each split is cut into B contiguous streams ([`crate::OrderedStream`]).
    #[default]
    Contiguous,
    /// Sentences, each followed by `boundary` (and one `boundary` before the first): read as
    /// whole sentences dealt to B streams ([`crate::ShuffledSentences`]).
    Sentences {
        /// The id that ends every sentence (`<S>`).
        boundary: u32,
    },
}

fn width_for(vocab: usize) -> u8 {
    if vocab <= 1 << 8 {
        1
    } else if vocab <= 1 << 16 {
        2
    } else {
        4
    }
}

/// Writes a cache split by split; tokens of train, then valid, then test.
pub struct CacheWriter {
    dir: PathBuf,
    tmp: PathBuf,
    file: BufWriter<File>,
    width: u8,
    vocab_size: usize,
    counts: [u64; 3],
    current: usize,
    crc: crc32fast::Hasher,
    layout: StreamLayout,
}

impl CacheWriter {
    /// Starts a cache in `dir` (created if needed) for a vocabulary of `vocab_size` ids.
    ///
    /// # Errors
    /// I/O failures.
    pub fn create(dir: &Path, vocab_size: usize) -> Result<Self, DataError> {
        std::fs::create_dir_all(dir).map_err(DataError::io(dir))?;
        let tmp = dir.join(format!("{TOKENS_FILE}.partial"));
        let mut file =
            BufWriter::with_capacity(1 << 20, File::create(&tmp).map_err(DataError::io(&tmp))?);
        file.write_all(&[0u8; HEADER])
            .map_err(DataError::io(&tmp))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            tmp,
            file,
            width: width_for(vocab_size),
            vocab_size,
            counts: [0; 3],
            current: 0,
            crc: crc32fast::Hasher::new(),
            layout: StreamLayout::Contiguous,
        })
    }

    /// Records how the corpus is to be streamed (default: contiguous).
    pub fn set_layout(&mut self, layout: StreamLayout) {
        self.layout = layout;
    }

    /// Moves on to the next split (splits must come in order train, valid, test).
    ///
    /// # Errors
    /// A split out of order.
    pub fn begin(&mut self, split: Split) -> Result<(), DataError> {
        if split.index() < self.current {
            return Err(DataError::Option {
                option: "split",
                why: format!("split {} written out of order", split.name()),
            });
        }
        self.current = split.index();
        Ok(())
    }

    /// Appends tokens to the current split.
    ///
    /// # Errors
    /// I/O failures; an id outside the vocabulary.
    pub fn push(&mut self, ids: &[u32]) -> Result<(), DataError> {
        let mut buf = Vec::with_capacity(ids.len() * self.width as usize);
        for &id in ids {
            if id as usize >= self.vocab_size {
                return Err(DataError::IdOutOfRange {
                    id: u64::from(id),
                    vocab_size: self.vocab_size,
                });
            }
            match self.width {
                1 => buf.push(id as u8),
                2 => buf.extend_from_slice(&(id as u16).to_le_bytes()),
                _ => buf.extend_from_slice(&id.to_le_bytes()),
            }
        }
        self.crc.update(&buf);
        self.file
            .write_all(&buf)
            .map_err(DataError::io(&self.tmp))?;
        self.counts[self.current] += ids.len() as u64;
        Ok(())
    }

    /// Tokens written to each split so far.
    pub fn counts(&self) -> [u64; 3] {
        self.counts
    }

    /// Writes the vocabulary and the header, syncs, and renames the cache into place.
    ///
    /// # Errors
    /// I/O failures; an empty corpus.
    pub fn finish(self, vocab: &Vocab, input: &Path) -> Result<PreparedInfo, DataError> {
        if self.counts.iter().sum::<u64>() == 0 {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(DataError::EmptyCorpus {
                path: input.to_path_buf(),
            });
        }
        let vocab_path = self.dir.join(VOCAB_FILE);
        let vocab_json = vocab.to_json();
        let vocab_crc = crc32fast::hash(vocab_json.as_bytes());
        let data_crc = self.crc.clone().finalize();
        let io = DataError::io(&self.tmp);
        let mut header = Vec::with_capacity(HEADER);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        let (kind, boundary) = match self.layout {
            StreamLayout::Contiguous => (0u8, 0u32),
            StreamLayout::Sentences { boundary } => (1, boundary),
        };
        header.extend_from_slice(&[self.width, kind, 0, 0]);
        header.extend_from_slice(&(self.vocab_size as u32).to_le_bytes());
        header.extend_from_slice(&vocab_crc.to_le_bytes());
        for c in self.counts {
            header.extend_from_slice(&c.to_le_bytes());
        }
        header.extend_from_slice(&data_crc.to_le_bytes());
        header.extend_from_slice(&boundary.to_le_bytes());
        let mut file = self.file.into_inner().map_err(|e| DataError::Io {
            path: self.tmp.clone(),
            source: e.into_error(),
        })?;
        let result = (|| {
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&header)?;
            file.sync_all()
        })();
        result.map_err(io)?;
        let vocab_tmp = self.dir.join(format!("{VOCAB_FILE}.partial"));
        std::fs::write(&vocab_tmp, &vocab_json).map_err(DataError::io(&vocab_tmp))?;
        std::fs::rename(&vocab_tmp, &vocab_path).map_err(DataError::io(&vocab_path))?;
        let target = self.dir.join(TOKENS_FILE);
        std::fs::rename(&self.tmp, &target).map_err(DataError::io(&target))?;
        Ok(PreparedInfo {
            vocab_size: self.vocab_size,
            counts: self.counts,
            checksum: data_crc,
            width: self.width,
            layout: self.layout,
        })
    }
}

/// What a preparation produced (also what `data info` prints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreparedInfo {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Tokens in train, valid, test.
    pub counts: [u64; 3],
    /// CRC-32 of the token bytes.
    pub checksum: u32,
    /// Bytes per token.
    pub width: u8,
    /// How the corpus is streamed.
    pub layout: StreamLayout,
}

/// A prepared corpus, memory-mapped.
#[derive(Debug)]
pub struct TokenCache {
    map: Mmap,
    info: PreparedInfo,
    vocab: Vocab,
    path: PathBuf,
}

impl TokenCache {
    /// Opens the corpus prepared in `dir`, verifying magic, version, sizes, the vocabulary and
    /// the checksum of every token byte.
    ///
    /// # Errors
    /// [`DataError::CorruptCache`], [`DataError::VocabMismatch`], I/O failures.
    pub fn open(dir: &Path) -> Result<Self, DataError> {
        let path = dir.join(TOKENS_FILE);
        let corrupt = |why: String| DataError::CorruptCache {
            path: path.clone(),
            why,
        };
        let file = File::open(&path).map_err(DataError::io(&path))?;
        // SAFETY: the cache is written once and renamed into place; it is not modified while
        // mapped by this process (a concurrent writer would use a new file and rename).
        let map = unsafe { Mmap::map(&file) }.map_err(DataError::io(&path))?;
        if map.len() < HEADER || &map[..8] != MAGIC {
            return Err(corrupt("not an sru-rs token cache (bad magic)".into()));
        }
        let u32_at = |o: usize| u32::from_le_bytes(map[o..o + 4].try_into().unwrap_or([0; 4]));
        let u64_at = |o: usize| u64::from_le_bytes(map[o..o + 8].try_into().unwrap_or([0; 8]));
        let version = u32_at(8);
        if version == 1 {
            return Err(corrupt(format!(
                "prepared by an older sru-rs (format 1, which did not record how the corpus is \
                 streamed, and wrote One Billion Word with <S> twice between sentences): \
                 prepare it again with `cargo xtask data prepare` (format {VERSION})"
            )));
        }
        if version != VERSION {
            return Err(corrupt(format!(
                "format version {version}, this build reads {VERSION}"
            )));
        }
        let width = map[12];
        if ![1, 2, 4].contains(&width) {
            return Err(corrupt(format!("token width {width}")));
        }
        let layout = match map[13] {
            0 => StreamLayout::Contiguous,
            1 => StreamLayout::Sentences {
                boundary: u32_at(52),
            },
            other => return Err(corrupt(format!("stream layout {other}"))),
        };
        let vocab_size = u32_at(16) as usize;
        let counts = [u64_at(24), u64_at(32), u64_at(40)];
        let checksum = u32_at(48);
        let expected = HEADER as u64 + counts.iter().sum::<u64>() * width as u64;
        if map.len() as u64 != expected {
            return Err(corrupt(format!(
                "{} bytes on disk, the header describes {expected} (truncated?)",
                map.len()
            )));
        }
        let actual = crc32fast::hash(&map[HEADER..]);
        if actual != checksum {
            return Err(corrupt(format!(
                "checksum {actual:08x} does not match {checksum:08x}"
            )));
        }
        let vocab_path = dir.join(VOCAB_FILE);
        let vocab_text =
            std::fs::read_to_string(&vocab_path).map_err(DataError::io(&vocab_path))?;
        let mismatch = |why: String| DataError::VocabMismatch {
            path: vocab_path.clone(),
            why,
        };
        if crc32fast::hash(vocab_text.as_bytes()) != u32_at(20) {
            return Err(mismatch(
                "the vocabulary file is not the one this cache was written with".into(),
            ));
        }
        let vocab = Vocab::load(&vocab_path)?;
        if vocab.len() != vocab_size {
            return Err(mismatch(format!(
                "{} symbols, the cache expects {vocab_size}",
                vocab.len()
            )));
        }
        Ok(Self {
            map,
            info: PreparedInfo {
                vocab_size,
                counts,
                checksum,
                width,
                layout,
            },
            vocab,
            path,
        })
    }

    /// Sizes and checksum.
    pub fn info(&self) -> PreparedInfo {
        self.info
    }

    /// How the corpus is streamed.
    pub fn layout(&self) -> StreamLayout {
        self.info.layout
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tokens in a split.
    pub fn len(&self, split: Split) -> u64 {
        self.info.counts[split.index()]
    }

    /// Whether a split is empty.
    pub fn is_empty(&self, split: Split) -> bool {
        self.len(split) == 0
    }

    /// Token `i` of a split (no bounds check beyond the slice's).
    pub fn token(&self, split: Split, i: u64) -> u32 {
        let start: u64 = self.info.counts[..split.index()].iter().sum::<u64>() + i;
        let w = self.info.width as usize;
        let o = HEADER + start as usize * w;
        let b = &self.map[o..o + w];
        match w {
            1 => b[0] as u32,
            2 => u16::from_le_bytes([b[0], b[1]]) as u32,
            _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        }
    }

    /// The unigram entropy of a split in bits per token, −Σ p(w) log2 p(w) with p the
    /// split's own token frequencies: the loss of the best model that ignores context, the
    /// baseline a trained language model must beat.
    pub fn unigram_entropy(&self, split: Split) -> f64 {
        let n = self.len(split);
        if n == 0 {
            return 0.0;
        }
        let mut counts = vec![0u64; self.vocab().len().max(1)];
        let mut buf = vec![0u32; 1 << 16];
        let mut start = 0;
        while start < n {
            let k = (n - start).min(buf.len() as u64) as usize;
            self.read(split, start, &mut buf[..k]);
            for &t in &buf[..k] {
                if let Some(c) = counts.get_mut(t as usize) {
                    *c += 1;
                }
            }
            start += k as u64;
        }
        counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n as f64;
                -p * p.log2()
            })
            .sum()
    }

    /// Copies tokens `[start, start + out.len())` of a split into `out`.
    pub fn read(&self, split: Split, start: u64, out: &mut [u32]) {
        let base: u64 = self.info.counts[..split.index()].iter().sum::<u64>() + start;
        let w = self.info.width as usize;
        let bytes = &self.map[HEADER + base as usize * w..HEADER + (base as usize + out.len()) * w];
        match w {
            1 => out.iter_mut().zip(bytes).for_each(|(o, &b)| *o = b as u32),
            2 => out
                .iter_mut()
                .zip(bytes.chunks_exact(2))
                .for_each(|(o, c)| *o = u16::from_le_bytes([c[0], c[1]]) as u32),
            _ => out
                .iter_mut()
                .zip(bytes.chunks_exact(4))
                .for_each(|(o, c)| *o = u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        }
    }
}
