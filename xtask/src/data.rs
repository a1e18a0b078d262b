//! `cargo xtask data prepare|info`: prepare a corpus into a token cache, and describe one.
//!
//! `prepare --kind byte --input <file or enwik8[.zip]> --out <dir> [--split 0.9,0.05,0.05]
//! [--full-byte-vocab]`; `prepare --kind word --format wt103|ptb|bwb --input <dir> --out <dir>`;
//! `prepare --kind subword --input <file> --out <dir> [--bpe-vocab N | --gpt2 enc.json,vocab.bpe]`;
//! `prepare --kind parallel --src de --tgt en --input <dir> --out <dir> [--format fairseq]
//! [--bpe-vocab N]` (a sentence-aligned translation corpus); `info <dir>` prints the vocabulary size, tokens per split, how the corpus is streamed and
//! the checksum.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use sru_data::{
    ByteOptions, ByteVocab, ParallelCorpus, ParallelFormat, ParallelOptions, PreparedInfo,
    Progress, Source, Split, SplitPlan, StreamLayout, TokenCache, WordFormat, WordOptions,
    prepare_bytes, prepare_parallel, prepare_words,
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
    /// A sentence-aligned translation corpus folder, `{train,val|valid,test*}.{src,tgt}[.gz]`
    /// (joint BPE learned here), or fairseq's prepared IWSLT'14 folder (--format fairseq).
    Parallel,
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
    /// Parallel: raw sentences (the default for --kind parallel).
    Raw,
    /// Parallel: fairseq's `prepare-iwslt14.sh` output, used as given.
    Fairseq,
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
    /// Layout: wt103 (default), ptb or bwb for --kind word; raw (default) or fairseq for
    /// --kind parallel.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Parallel: source language (the files' suffix).
    #[arg(long, default_value = "de")]
    src: String,
    /// Parallel: target language.
    #[arg(long, default_value = "en")]
    tgt: String,
    /// Lower-case words.
    #[arg(long)]
    lowercase: bool,
    /// Drop words rarer than this in train.
    #[arg(long, default_value_t = 0)]
    min_freq: u64,
    /// Keep at most this many words.
    #[arg(long)]
    max_size: Option<usize>,
    /// Subword and parallel: size of the BPE vocabulary to train (parallel: joint, both sides,
    /// specials included).
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
            DataCommand::Info { dir }
                if dir.join(sru_data::parallel::PARALLEL_MANIFEST).is_file() =>
            {
                let c = ParallelCorpus::open(&dir)
                    .with_context(|| format!("reading the corpus in {}", dir.display()))?;
                print_parallel(c.manifest());
                Ok(())
            }
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
            Kind::Parallel => return self.run_parallel(t),
            Kind::Word => {
                let format = match self.format.unwrap_or(Format::Wt103) {
                    Format::Wt103 => WordFormat::WikiText103,
                    Format::Ptb => WordFormat::Ptb,
                    Format::Bwb => WordFormat::BillionWord,
                    f @ (Format::Raw | Format::Fairseq) => {
                        bail!(
                            "--format {f:?} is for --kind parallel; word corpora take wt103, ptb or bwb"
                        )
                    }
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

    fn run_parallel(self, t: Instant) -> Result<()> {
        let format = match self.format.unwrap_or(Format::Raw) {
            Format::Raw => ParallelFormat::Raw,
            Format::Fairseq => ParallelFormat::Fairseq,
            f => bail!("--format {f:?} is for --kind word; parallel corpora take raw or fairseq"),
        };
        let opts = ParallelOptions {
            src: self.src.clone(),
            tgt: self.tgt.clone(),
            format,
            bpe_vocab: self.bpe_vocab,
            ..ParallelOptions::default()
        };
        eprintln!(
            "preparing the {}→{} corpus in {} ({format:?}{})",
            opts.src,
            opts.tgt,
            self.input.display(),
            if format == ParallelFormat::Raw {
                format!(", joint BPE of {} ids", opts.bpe_vocab)
            } else {
                String::new()
            }
        );
        let mut draw = |p: Progress| {
            eprint!(
                "\r  {:<12} {}/{}   ",
                p.stage,
                p.done + 1,
                p.total.unwrap_or(1)
            );
            let _ = std::io::stderr().flush();
        };
        let m = prepare_parallel(&self.input, &self.out, &opts, &mut draw)
            .with_context(|| format!("preparing {}", self.input.display()))?;
        eprintln!(
            "\rprepared {} in {:.1} s{:30}",
            self.out.display(),
            t.elapsed().as_secs_f64(),
            ""
        );
        print_parallel(&m);
        Ok(())
    }
}

fn print_parallel(m: &sru_data::parallel::ParallelManifest) {
    println!("languages   {} → {} ({:?})", m.src, m.tgt, m.format);
    println!("vocabulary  {} (joint, 4 specials)", m.vocab_size);
    for s in &m.splits {
        println!(
            "{:<17} {:>7} pairs {:>9} {} tokens {:>9} {} tokens",
            s.name, s.pairs, s.src_tokens, m.src, s.tgt_tokens, m.tgt
        );
    }
    println!(
        "cleaning    train: {} pairs removed ({}–{} words, ratio ≤ {})",
        m.train_dropped, m.clean.min_len, m.clean.max_len, m.clean.ratio
    );
}
