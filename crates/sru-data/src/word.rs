//! Word-level corpora in the formats of the official scripts (spec §3.1; Transformer-XL's
//! `data_utils.py` preparation):
//!
//! - **WikiText-103** (`wiki.{train,valid,test}.tokens`) and **PTB** (`ptb.{train,valid,test}.txt`):
//!   every line is split on whitespace and gets `<eos>` appended (blank lines too); the
//!   vocabulary is `<eos>` first, then the words of train by descending frequency (ties in order
//!   of first appearance), case kept unless `lowercase`; unknown words become `<unk>` (added
//!   after `<eos>` when `min_freq` or `max_size` leaves words out and the text has none).
//! - **One Billion Word**: training shards `news.en-000NN-of-00100`, the held-out shard
//!   `news.en.heldout-00000-of-00050` for valid and test (as the official preparation), the
//!   vocabulary in the order of `1b_word_vocab.txt`, one `<S>` at the start of each split and
//!   one after every sentence (the cache's [`StreamLayout::Sentences`]), unknown words as
//!   `<UNK>`.
//!
//! Files are read line by line (never whole); invalid UTF-8 is reported with its byte offset.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::cache::{CacheWriter, PreparedInfo, Split, StreamLayout};
use crate::error::DataError;
use crate::progress::{Progress, ProgressFn};
use crate::vocab::Vocab;

/// The layout of a word-level corpus folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordFormat {
    /// WikiText-103: `wiki.{train,valid,test}.tokens`.
    WikiText103,
    /// Penn Treebank (Mikolov): `ptb.{train,valid,test}.txt`.
    Ptb,
    /// One Billion Word: shards, held-out shard and `1b_word_vocab.txt`.
    BillionWord,
}

/// Options of a word-level corpus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WordOptions {
    /// The layout.
    pub format: WordFormat,
    /// Lower-case every word.
    pub lowercase: bool,
    /// Drop words seen fewer times in train (counted vocabularies only).
    pub min_freq: u64,
    /// Keep at most this many words (specials included).
    pub max_size: Option<usize>,
}

impl WordOptions {
    /// The defaults of a format (case kept, no frequency cut).
    pub fn new(format: WordFormat) -> Self {
        Self {
            format,
            lowercase: false,
            min_freq: 0,
            max_size: None,
        }
    }
}

/// Calls `f` with the words of every line of `path`.
fn for_each_line(
    path: &Path,
    lowercase: bool,
    mut f: impl FnMut(Vec<&str>) -> Result<(), DataError>,
    mut progress: impl FnMut(u64),
) -> Result<(), DataError> {
    let file = std::fs::File::open(path).map_err(DataError::io(path))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut raw = Vec::new();
    let mut offset = 0u64;
    loop {
        raw.clear();
        let n = r.read_until(b'\n', &mut raw).map_err(DataError::io(path))?;
        if n == 0 {
            return Ok(());
        }
        let line = std::str::from_utf8(&raw).map_err(|e| DataError::InvalidUtf8 {
            path: path.to_path_buf(),
            offset: offset + e.valid_up_to() as u64,
        })?;
        offset += n as u64;
        if lowercase {
            let lower = line.to_lowercase();
            f(lower.split_whitespace().collect())?;
        } else {
            f(line.split_whitespace().collect())?;
        }
        if offset % (1 << 24) < n as u64 {
            progress(offset);
        }
    }
}

struct Layout {
    train: Vec<PathBuf>,
    valid: Vec<PathBuf>,
    test: Vec<PathBuf>,
    vocab_file: Option<PathBuf>,
}

fn layout(dir: &Path, format: WordFormat) -> Result<Layout, DataError> {
    let need = |p: PathBuf| -> Result<PathBuf, DataError> {
        if p.is_file() {
            Ok(p)
        } else {
            Err(DataError::Format {
                path: p.clone(),
                why: format!("missing file of a {format:?} corpus"),
            })
        }
    };
    match format {
        WordFormat::WikiText103 | WordFormat::Ptb => {
            let name = |s: &str| match format {
                WordFormat::Ptb => format!("ptb.{s}.txt"),
                _ => format!("wiki.{s}.tokens"),
            };
            Ok(Layout {
                train: vec![need(dir.join(name("train")))?],
                valid: vec![need(dir.join(name("valid")))?],
                test: vec![need(dir.join(name("test")))?],
                vocab_file: None,
            })
        }
        WordFormat::BillionWord => {
            let find = |sub: &str, prefix: &str| -> Result<Vec<PathBuf>, DataError> {
                let folder = [dir.join(sub), dir.to_path_buf()]
                    .into_iter()
                    .find(|d| d.is_dir())
                    .unwrap_or_else(|| dir.to_path_buf());
                let mut v: Vec<PathBuf> = std::fs::read_dir(&folder)
                    .map_err(DataError::io(&folder))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
                    })
                    .collect();
                v.sort();
                if v.is_empty() {
                    return Err(DataError::Format {
                        path: folder,
                        why: format!("no `{prefix}*` files of a One Billion Word corpus"),
                    });
                }
                Ok(v)
            };
            let train = find("training-monolingual.tokenized.shuffled", "news.en-")?;
            let heldout = find(
                "heldout-monolingual.tokenized.shuffled",
                "news.en.heldout-00000",
            )?;
            Ok(Layout {
                train,
                valid: heldout.clone(),
                test: heldout,
                vocab_file: Some(need(dir.join("1b_word_vocab.txt"))?),
            })
        }
    }
}

/// Builds the vocabulary: from the vocabulary file (Billion Word) or by counting train.
fn build_vocab(
    l: &Layout,
    opts: &WordOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vocab, DataError> {
    if let Some(vf) = &l.vocab_file {
        let mut words: Vec<String> = Vec::new();
        for_each_line(
            vf,
            false,
            |w| {
                if let Some(first) = w.first() {
                    words.push((*first).to_owned());
                }
                Ok(())
            },
            |_| {},
        )?;
        for special in ["<S>", "<UNK>"] {
            if !words.iter().any(|w| w == special) {
                words.push(special.to_owned());
            }
        }
        if let Some(m) = opts.max_size {
            words.truncate(m);
        }
        return Ok(Vocab::Words {
            words,
            unk: Some("<UNK>".into()),
        });
    }
    let mut counts: HashMap<String, (u64, usize)> = HashMap::new();
    for path in &l.train {
        for_each_line(
            path,
            opts.lowercase,
            |ws| {
                for w in ws {
                    let n = counts.len();
                    counts.entry(w.to_owned()).or_insert((0, n)).0 += 1;
                }
                Ok(())
            },
            |done| {
                progress(Progress {
                    stage: "counting",
                    done,
                    total: None,
                })
            },
        )?;
    }
    let mut ordered: Vec<(String, u64, usize)> = counts
        .into_iter()
        .map(|(w, (c, first))| (w, c, first))
        .collect();
    ordered.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    // A frequency or size cut leaves words out: they need an unknown token.
    let cut = ordered.iter().any(|(_, c, _)| *c < opts.min_freq)
        || opts.max_size.is_some_and(|m| ordered.len() + 1 > m);
    let has_unk = ordered
        .iter()
        .any(|(w, c, _)| w == "<unk>" && *c >= opts.min_freq);
    let mut words = vec!["<eos>".to_owned()];
    if cut && !has_unk {
        words.push("<unk>".to_owned());
    }
    for (w, c, _) in ordered {
        if c < opts.min_freq || opts.max_size.is_some_and(|m| words.len() >= m) {
            break;
        }
        if w != "<eos>" && !(cut && !has_unk && w == "<unk>") {
            words.push(w);
        }
    }
    let unk = words
        .iter()
        .any(|w| w == "<unk>")
        .then(|| "<unk>".to_owned());
    Ok(Vocab::Words { words, unk })
}

/// Prepares a word-level corpus from the folder `dir` into `out`.
///
/// # Errors
/// Missing files, invalid UTF-8 (with its offset), words outside a vocabulary without an
/// unknown token, an empty corpus, I/O failures.
pub fn prepare_words(
    dir: &Path,
    out: &Path,
    opts: &WordOptions,
    progress: ProgressFn<'_>,
) -> Result<PreparedInfo, DataError> {
    let l = layout(dir, opts.format)?;
    let vocab = build_vocab(&l, opts, progress)?;
    let index = vocab.word_index().unwrap_or_default();
    let unk = match &vocab {
        Vocab::Words { unk: Some(u), .. } => index.get(u.as_str()).copied(),
        _ => None,
    };
    // Billion Word: one <S> opens each split and one ends every sentence, so the stream reads
    // `<S> a b c <S> c d <S>` as the official iterator's (each sentence `<S> w… <S>`, the
    // trailing <S> only a target, the next sentence starting after it).
    let (bos, eos) = match opts.format {
        WordFormat::BillionWord => (index.get("<S>").copied(), index.get("<S>").copied()),
        _ => (None, index.get("<eos>").copied()),
    };
    let mut w = CacheWriter::create(out, vocab.len())?;
    if let (WordFormat::BillionWord, Some(boundary)) = (opts.format, bos) {
        w.set_layout(StreamLayout::Sentences { boundary });
    }
    let mut ids = Vec::new();
    for (split, files) in [
        (Split::Train, &l.train),
        (Split::Valid, &l.valid),
        (Split::Test, &l.test),
    ] {
        w.begin(split)?;
        if let Some(b) = bos {
            w.push(&[b])?;
        }
        for path in files {
            for_each_line(
                path,
                opts.lowercase,
                |words| {
                    ids.clear();
                    for word in words {
                        match index.get(word).copied().or(unk) {
                            Some(id) => ids.push(id),
                            None => {
                                return Err(DataError::Format {
                                    path: path.clone(),
                                    why: format!(
                                        "word `{word}` is not in the vocabulary and there is no <unk>"
                                    ),
                                });
                            }
                        }
                    }
                    ids.extend(eos);
                    w.push(&ids)
                },
                |done| {
                    progress(Progress {
                        stage: split.name(),
                        done,
                        total: None,
                    })
                },
            )?;
        }
    }
    w.finish(&vocab, dir)
}
