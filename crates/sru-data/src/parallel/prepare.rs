//! `prepare_parallel`: a sentence-aligned corpus folder into a prepared translation corpus.
//! Reads every split (both sides, line counts checked against each other), checks the inputs'
//! SHA-256 against the published Multi30k files, cleans the training pairs, learns the joint
//! vocabulary on the kept training pairs (both sides), encodes every split and writes the
//! manifest last, so an interrupted preparation never looks complete. The input folder is only
//! read.

use std::collections::HashMap;
use std::path::Path;

use crate::error::DataError;
use crate::parallel::clean::{CleanOptions, word_count};
use crate::parallel::corpus::{
    InputFile, MANIFEST_VERSION, PARALLEL_MANIFEST, ParallelManifest, SplitInfo,
};
use crate::parallel::files::{check_known, find_splits, read_lines, sha256_file};
use crate::parallel::store::PairSet;
use crate::parallel::vocab::{ParallelFormat, ParallelVocab};
use crate::progress::{Progress, ProgressFn};
use crate::subword::Subword;

/// How to prepare a translation corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct ParallelOptions {
    /// Source language (file suffix, e.g. `de`).
    pub src: String,
    /// Target language (e.g. `en`).
    pub tgt: String,
    /// Raw sentences (learn BPE here) or fairseq's prepared text.
    pub format: ParallelFormat,
    /// Size of the joint BPE vocabulary to learn (raw format).
    pub bpe_vocab: usize,
    /// Pieces rarer than this in train are not merged (raw format).
    pub min_frequency: u64,
    /// Training-pair cleaning.
    pub clean: CleanOptions,
}

impl Default for ParallelOptions {
    /// German→English, raw sentences, 8,000 BPE tokens, fairseq's cleaning.
    fn default() -> Self {
        Self {
            src: "de".into(),
            tgt: "en".into(),
            format: ParallelFormat::Raw,
            bpe_vocab: 8000,
            min_frequency: 2,
            clean: CleanOptions::default(),
        }
    }
}

/// One split read from its two files.
struct ReadSplit {
    name: String,
    src: Vec<String>,
    tgt: Vec<String>,
}

fn read_side(path: &Path, inputs: &mut Vec<InputFile>) -> Result<Vec<String>, DataError> {
    let sha256 = sha256_file(path)?;
    check_known(path, &sha256)?;
    let lines = read_lines(path)?;
    if lines.iter().all(|l| l.trim().is_empty()) {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    inputs.push(InputFile {
        path: path.to_path_buf(),
        sha256,
        lines: lines.len() as u64,
    });
    Ok(lines)
}

/// The fairseq vocabulary of the kept training words, most frequent first (ties by word).
fn fairseq_words(src: &[String], tgt: &[String]) -> Vec<String> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for l in src.iter().chain(tgt) {
        for w in l.split_whitespace() {
            *counts.entry(w).or_insert(0) += 1;
        }
    }
    let mut words: Vec<(&str, u64)> = counts.into_iter().collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    words.into_iter().map(|(w, _)| w.to_owned()).collect()
}

/// Prepares the corpus in folder `input` into `out`.
///
/// # Errors
/// `out` equal to `input`; missing splits or sides; unreadable, empty or non-UTF-8 files
/// (naming file and line); sides with different line counts; Multi30k files whose checksum
/// differs from the release; a BPE size too small; I/O failures.
pub fn prepare_parallel(
    input: &Path,
    out: &Path,
    opts: &ParallelOptions,
    progress: ProgressFn<'_>,
) -> Result<ParallelManifest, DataError> {
    if opts.src == opts.tgt {
        return Err(DataError::Option {
            option: "languages",
            why: format!("source and target are both `{}`", opts.src),
        });
    }
    if opts.format == ParallelFormat::Raw && opts.bpe_vocab < 300 {
        return Err(DataError::Option {
            option: "bpe-vocab",
            why: format!(
                "{} is too small: byte-level BPE starts from 256 byte tokens (use e.g. 8000)",
                opts.bpe_vocab
            ),
        });
    }
    let same = |a: &Path, b: &Path| {
        a.canonicalize()
            .ok()
            .zip(b.canonicalize().ok())
            .is_some_and(|(a, b)| a == b)
    };
    if same(input, out) {
        return Err(DataError::Option {
            option: "out",
            why: format!(
                "{} is the input folder; prepare into another folder (inputs are never written)",
                out.display()
            ),
        });
    }
    let files = find_splits(input, &opts.src, &opts.tgt)?;
    let mut inputs = Vec::new();
    let mut splits = Vec::new();
    for (i, f) in files.iter().enumerate() {
        progress(Progress {
            stage: "reading",
            done: i as u64,
            total: Some(files.len() as u64),
        });
        let src = read_side(&f.src, &mut inputs)?;
        let tgt = read_side(&f.tgt, &mut inputs)?;
        if src.len() != tgt.len() {
            return Err(DataError::LineCountMismatch {
                src: f.src.clone(),
                src_lines: src.len() as u64,
                tgt: f.tgt.clone(),
                tgt_lines: tgt.len() as u64,
            });
        }
        splits.push(ReadSplit {
            name: f.name.clone(),
            src,
            tgt,
        });
    }
    // Clean train.
    let bpe_joints = opts.format == ParallelFormat::Fairseq;
    let train = &mut splits[0];
    let before = train.src.len();
    let keep: Vec<bool> = train
        .src
        .iter()
        .zip(&train.tgt)
        .map(|(s, t)| {
            opts.clean
                .keep(word_count(s, bpe_joints), word_count(t, bpe_joints))
        })
        .collect();
    let mut k = keep.iter();
    train.src.retain(|_| *k.next().unwrap_or(&false));
    let mut k = keep.iter();
    train.tgt.retain(|_| *k.next().unwrap_or(&false));
    let train_dropped = (before - train.src.len()) as u64;
    if train.src.is_empty() {
        return Err(DataError::Format {
            path: files[0].src.clone(),
            why: format!("no training pair passes the cleaning ({:?})", opts.clean),
        });
    }
    progress(Progress {
        stage: "vocabulary",
        done: 0,
        total: None,
    });
    let vocab = match opts.format {
        ParallelFormat::Raw => {
            let text: Vec<String> = train.src.iter().chain(&train.tgt).cloned().collect();
            ParallelVocab::Bpe(Subword::train_bpe_on(
                text,
                opts.bpe_vocab - 4,
                opts.min_frequency,
                &files[0].src,
            )?)
        }
        ParallelFormat::Fairseq => ParallelVocab::fairseq(fairseq_words(&train.src, &train.tgt)),
    };
    std::fs::create_dir_all(out).map_err(DataError::io(out))?;
    let manifest_path = out.join(PARALLEL_MANIFEST);
    if manifest_path.exists() {
        // Re-preparing: the old manifest goes first, so a half-written folder never opens.
        std::fs::remove_file(&manifest_path).map_err(DataError::io(&manifest_path))?;
    }
    let mut infos = Vec::new();
    for (i, s) in splits.iter().enumerate() {
        progress(Progress {
            stage: "encoding",
            done: i as u64,
            total: Some(splits.len() as u64),
        });
        let mut set = PairSet::new();
        for (a, b) in s.src.iter().zip(&s.tgt) {
            set.push(&vocab.encode(a)?, &vocab.encode(b)?);
        }
        let crc32 = set.write(&out.join(format!("{}.pairs", s.name)))?;
        let (src_tokens, tgt_tokens) = set.tokens();
        infos.push(SplitInfo {
            name: s.name.clone(),
            pairs: set.len() as u64,
            src_tokens,
            tgt_tokens,
            crc32,
        });
        if s.name != "train" {
            for (lang, lines) in [(&opts.src, &s.src), (&opts.tgt, &s.tgt)] {
                let mut text = String::new();
                for l in lines {
                    let l = if bpe_joints && lang == &opts.tgt {
                        format!("{l} ").replace("@@ ", "").trim_end().to_owned()
                    } else {
                        l.clone()
                    };
                    text.push_str(&l);
                    text.push('\n');
                }
                let p = out.join(format!("{}.{lang}.txt", s.name));
                std::fs::write(&p, text).map_err(DataError::io(&p))?;
            }
        }
    }
    vocab.save(out)?;
    let manifest = ParallelManifest {
        version: MANIFEST_VERSION,
        src: opts.src.clone(),
        tgt: opts.tgt.clone(),
        format: opts.format,
        vocab_size: vocab.len(),
        clean: opts.clean,
        train_dropped,
        splits: infos,
        inputs,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| DataError::Format {
        path: manifest_path.clone(),
        why: e.to_string(),
    })?;
    let tmp = out.join(format!("{PARALLEL_MANIFEST}.tmp"));
    std::fs::write(&tmp, json).map_err(DataError::io(&tmp))?;
    std::fs::rename(&tmp, &manifest_path).map_err(DataError::io(&manifest_path))?;
    Ok(manifest)
}
