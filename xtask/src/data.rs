//! `cargo xtask data prepare|info`: prepare a corpus into a token cache, and describe one.
//!
//! `prepare --kind byte --input <file or enwik8[.zip]> --out <dir> [--split 0.9,0.05,0.05]
//! [--full-byte-vocab]`; `prepare --kind word --format wt103|ptb|bwb --input <dir> --out <dir>`;
//! `prepare --kind subword --input <file> --out <dir> [--bpe-vocab N | --gpt2 enc.json,vocab.bpe]`;
//! `info <dir>` prints the vocabulary size, tokens per split, how the corpus is streamed and
//! the checksum.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use sru_data::{
    ByteOptions, ByteVocab, PreparedInfo, Progress, Source, Split, SplitPlan, StreamLayout,
    TokenCache, WordFormat, WordOptions, prepare_bytes, prepare_words,
};

/// `cargo xtask data …`.
#[derive(Debug, Args)]
pub struct Data {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Prepare a corpus into a memory-mapped token cache.
    Prepare(Prepare),
    /// Describe a prepared corpus: vocabulary size, tokens per split, checksum.
    Info {
        /// Folder of a prepared corpus.
        dir: PathBuf,
    },
}

/// Corpus kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// Bytes of any file (plain, .bz2, .zip); enwik8 when the input is named enwik8[.zip].
    Byte,
    /// A word-level corpus folder (see --format).
    Word,
    /// Byte-level BPE of a text file: trained here (--bpe-vocab) or the GPT-2 files (--gpt2).
    Subword,
}

/// Word-level layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// WikiText-103 (`wiki.{train,valid,test}.tokens`).
    Wt103,
    /// Penn Treebank (`ptb.{train,valid,test}.txt`).
    Ptb,
    /// One Billion Word (shards + `1b_word_vocab.txt`).
    Bwb,
}

#[derive(Debug, Args)]
struct Prepare {
    /// Corpus kind.
    #[arg(long, value_enum, default_value_t = Kind::Byte)]
    kind: Kind,
    /// Input file (byte) or folder (word).
    #[arg(long)]
    input: PathBuf,
    /// Output folder (tokens.bin + vocab.json).
    #[arg(long)]
    out: PathBuf,
    /// Ratios train,valid,test for byte corpora other than enwik8.
    #[arg(long, default_value = "0.9,0.05,0.05")]
    split: String,
    /// Use all 256 byte values instead of those present.
    #[arg(long)]
    full_byte_vocab: bool,
    /// Word-level layout.
    #[arg(long, value_enum, default_value_t = Format::Wt103)]
    format: Format,
    /// Lower-case words.
    #[arg(long)]
    lowercase: bool,
    /// Drop words rarer than this in train.
    #[arg(long, default_value_t = 0)]
    min_freq: u64,
    /// Keep at most this many words.
    #[arg(long)]
    max_size: Option<usize>,
    /// Subword: size of the BPE vocabulary to train.
    #[arg(long, default_value_t = 8000)]
    bpe_vocab: usize,
    /// Subword: use the published GPT-2 files instead of training: `encoder.json,vocab.bpe`.
    #[arg(long)]
    gpt2: Option<String>,
}

fn draw(p: Progress) {
    let pct = p
        .total
        .filter(|&t| t > 0)
        .map(|t| format!(" {:5.1}%", 100.0 * p.done as f64 / t as f64))
        .unwrap_or_default();
    eprint!(
        "\r  {:<12} {:>10.1} MB{pct}   ",
        p.stage,
        p.done as f64 / 1e6
    );
    let _ = std::io::stderr().flush();
}

fn print_info(info: &PreparedInfo) {
    println!("vocabulary  {}", info.vocab_size);
    for (s, n) in Split::ALL.iter().zip(info.counts) {
        println!("{:<11} {n} tokens", s.name());
    }
    println!("token width {} byte(s)", info.width);
    match info.layout {
        StreamLayout::Contiguous => println!("streams     contiguous text (ordered streams)"),
        StreamLayout::Sentences { boundary } => println!(
            "streams     sentences ending in id {boundary}, dealt whole, reshuffled every pass"
        ),
    }
    println!("checksum    {:08x}", info.checksum);
}

impl Data {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        match self.command {
            DataCommand::Info { dir } => {
                let cache = TokenCache::open(&dir)
                    .with_context(|| format!("reading the corpus in {}", dir.display()))?;
                print_info(&cache.info());
                Ok(())
            }
            DataCommand::Prepare(p) => p.run(),
        }
    }
}

impl Prepare {
    /// enwik8's split for an input named `enwik8[.zip]`, else the `--split` ratios.
    fn split_plan(&self) -> Result<SplitPlan> {
        let name = self
            .input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "enwik8" || name == "enwik8.zip" {
            return Ok(SplitPlan::Enwik8);
        }
        let r: Vec<f64> = self
            .split
            .split(',')
            .map(|x| x.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .context("--split takes three numbers, e.g. 0.9,0.05,0.05")?;
        let [a, b, c] = r[..] else {
            bail!("--split takes three numbers, got {}", r.len())
        };
        Ok(SplitPlan::ratios([a, b, c])?)
    }

    fn run(self) -> Result<()> {
        let t = Instant::now();
        let info = match self.kind {
            Kind::Byte => {
                let source = Source::new(&self.input)?;
                let split = self.split_plan()?;
                let vocab = if self.full_byte_vocab {
                    ByteVocab::Full
                } else {
                    ByteVocab::Present
                };
                eprintln!("preparing byte corpus {} ({split:?})", self.input.display());
                prepare_bytes(&source, &self.out, &ByteOptions { vocab, split }, &mut draw)?
            }
            Kind::Subword => {
                let source = Source::new(&self.input)?;
                let split = self.split_plan()?;
                let model = match &self.gpt2 {
                    Some(files) => {
                        let (enc, bpe) = files
                            .split_once(',')
                            .context("--gpt2 takes encoder.json,vocab.bpe")?;
                        sru_data::Subword::gpt2(enc.as_ref(), bpe.as_ref())?
                    }
                    None => {
                        eprintln!(
                            "training a BPE model of {} tokens on {}",
                            self.bpe_vocab,
                            self.input.display()
                        );
                        sru_data::Subword::train_bpe(&source, self.bpe_vocab, 2)?
                    }
                };
                sru_data::prepare_subword(&source, &model, &self.out, &split, &mut draw)?
            }
            Kind::Word => {
                let format = match self.format {
                    Format::Wt103 => WordFormat::WikiText103,
                    Format::Ptb => WordFormat::Ptb,
                    Format::Bwb => WordFormat::BillionWord,
                };
                let opts = WordOptions {
                    format,
                    lowercase: self.lowercase,
                    min_freq: self.min_freq,
                    max_size: self.max_size,
                };
                eprintln!("preparing {format:?} corpus in {}", self.input.display());
                prepare_words(&self.input, &self.out, &opts, &mut draw)?
            }
        };
        eprintln!(
            "\rprepared {} in {:.1} s{:30}",
            self.out.display(),
            t.elapsed().as_secs_f64(),
            ""
        );
        print_info(&info);
        Ok(())
    }
}
