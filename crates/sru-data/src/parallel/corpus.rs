//! A prepared translation corpus folder: its manifest (`parallel.json`: languages, format,
//! vocabulary, cleaning, splits with their checksums, the inputs' SHA-256), its vocabulary,
//! each split's token pairs (`<split>.pairs`) and, for every split but train, the sentences as
//! given (`<split>.<lang>.txt`: sources to translate, references to score against).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::parallel::clean::CleanOptions;
use crate::parallel::store::PairSet;
use crate::parallel::vocab::{ParallelFormat, ParallelVocab};

/// File name of the manifest inside a prepared translation corpus.
pub const PARALLEL_MANIFEST: &str = "parallel.json";
pub(crate) const MANIFEST_VERSION: u32 = 1;

/// One prepared split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitInfo {
    /// `train`, `valid`, `test`, `test_2016_flickr`, …
    pub name: String,
    /// Sentence pairs (train: after cleaning).
    pub pairs: u64,
    /// Source tokens (without `</s>`).
    pub src_tokens: u64,
    /// Target tokens (without `</s>`).
    pub tgt_tokens: u64,
    /// CRC-32 of `<name>.pairs`.
    pub crc32: u32,
}

/// An input file and what was read from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// The file as given.
    pub path: PathBuf,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Lines read.
    pub lines: u64,
}

/// What a translation corpus was prepared from and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParallelManifest {
    /// Manifest format version.
    pub version: u32,
    /// Source language (file suffix).
    pub src: String,
    /// Target language.
    pub tgt: String,
    /// How the text was tokenised.
    pub format: ParallelFormat,
    /// Ids in the joint vocabulary, specials included.
    pub vocab_size: usize,
    /// The training-pair cleaning applied.
    pub clean: CleanOptions,
    /// Training pairs the cleaning removed.
    pub train_dropped: u64,
    /// The splits, train first.
    pub splits: Vec<SplitInfo>,
    /// The input files.
    pub inputs: Vec<InputFile>,
}

/// A prepared translation corpus, opened and checked.
#[derive(Debug)]
pub struct ParallelCorpus {
    dir: PathBuf,
    manifest: ParallelManifest,
    vocab: ParallelVocab,
}

impl ParallelCorpus {
    /// Opens the corpus prepared in `dir`.
    ///
    /// # Errors
    /// A folder that is not a prepared translation corpus (no or a bad manifest), or whose
    /// vocabulary does not match its manifest.
    pub fn open(dir: &Path) -> Result<Self, DataError> {
        let mp = dir.join(PARALLEL_MANIFEST);
        if !mp.is_file() {
            return Err(DataError::Format {
                path: dir.to_path_buf(),
                why: format!(
                    "not a prepared translation corpus (no {PARALLEL_MANIFEST}); make one with \
                     `cargo xtask data prepare --kind parallel --input DIR --out {}`",
                    dir.display()
                ),
            });
        }
        let text = std::fs::read_to_string(&mp).map_err(DataError::io(&mp))?;
        let manifest: ParallelManifest =
            serde_json::from_str(&text).map_err(|e| DataError::CorruptCache {
                path: mp.clone(),
                why: e.to_string(),
            })?;
        if manifest.version != MANIFEST_VERSION {
            return Err(DataError::CorruptCache {
                path: mp,
                why: format!(
                    "manifest version {} (this build reads {MANIFEST_VERSION}); prepare the corpus again",
                    manifest.version
                ),
            });
        }
        let vocab = ParallelVocab::load(dir, manifest.format)?;
        if vocab.len() != manifest.vocab_size {
            return Err(DataError::VocabMismatch {
                path: dir.to_path_buf(),
                why: format!(
                    "the vocabulary has {} ids, the manifest says {}",
                    vocab.len(),
                    manifest.vocab_size
                ),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            vocab,
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest.
    pub fn manifest(&self) -> &ParallelManifest {
        &self.manifest
    }

    /// The joint vocabulary.
    pub fn vocab(&self) -> &ParallelVocab {
        &self.vocab
    }

    /// A split by name (`valid` also as `val`, `dev`; `test` as the first test split).
    ///
    /// # Errors
    /// An unknown name (the error lists the corpus's splits).
    pub fn split(&self, name: &str) -> Result<&SplitInfo, DataError> {
        let name = match name {
            "val" | "dev" | "validation" => "valid",
            n => n,
        };
        let found = self
            .manifest
            .splits
            .iter()
            .find(|s| s.name == name)
            .or_else(|| {
                (name == "test").then(|| {
                    self.manifest
                        .splits
                        .iter()
                        .find(|s| s.name.starts_with("test"))
                })?
            });
        found.ok_or_else(|| DataError::Option {
            option: "split",
            why: format!(
                "this corpus has no split `{name}` (it has: {})",
                self.manifest
                    .splits
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    /// The token pairs of a split, checked against the manifest's checksum.
    ///
    /// # Errors
    /// An unknown split; a missing or corrupt file.
    pub fn pairs(&self, name: &str) -> Result<PairSet, DataError> {
        let info = self.split(name)?;
        let path = self.dir.join(format!("{}.pairs", info.name));
        let set = PairSet::read(&path)?;
        if set.len() as u64 != info.pairs {
            return Err(DataError::CorruptCache {
                path,
                why: format!("{} pairs, the manifest says {}", set.len(), info.pairs),
            });
        }
        Ok(set)
    }

    /// The sentences of a split other than train as given: (sources, references); references
    /// of a fairseq-format corpus have their `@@ ` joints removed.
    ///
    /// # Errors
    /// Train (its text is not kept), an unknown split, missing files.
    pub fn texts(&self, name: &str) -> Result<(Vec<String>, Vec<String>), DataError> {
        let info = self.split(name)?;
        if info.name == "train" {
            return Err(DataError::Option {
                option: "split",
                why: "the training sentences are kept as tokens only; score valid or a test split"
                    .into(),
            });
        }
        let read = |lang: &str| -> Result<Vec<String>, DataError> {
            let p = self.dir.join(format!("{}.{lang}.txt", info.name));
            let t = std::fs::read_to_string(&p).map_err(DataError::io(&p))?;
            Ok(t.lines().map(str::to_owned).collect())
        };
        Ok((read(&self.manifest.src)?, read(&self.manifest.tgt)?))
    }
}
