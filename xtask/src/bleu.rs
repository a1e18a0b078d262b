//! `cargo xtask bleu --hyp FILE --ref FILE [--ref FILE …] [--tokenize 13a|none] [--lowercase]
//! [--json]`: corpus BLEU equal to sacreBLEU 2.6.0's (`sacrebleu REF… -i HYP`), printed in its
//! `-f text` format with the signature, or as JSON.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use sru_bleu::{BleuOptions, Tokenize, corpus_bleu};

/// Arguments of `cargo xtask bleu`.
#[derive(Debug, Args)]
pub struct Bleu {
    /// Hypotheses, one detokenised sentence a line (`-` reads stdin).
    #[arg(long)]
    hyp: PathBuf,
    /// References, one file per reference stream, aligned with the hypotheses.
    #[arg(long = "ref", required = true)]
    refs: Vec<PathBuf>,
    /// Word tokenizer: 13a (sacreBLEU's default) or none (already tokenised text, as fairseq
    /// scores IWSLT'14).
    #[arg(long, default_value = "13a")]
    tokenize: String,
    /// Lower-case hypotheses and references first (case-insensitive BLEU).
    #[arg(long)]
    lowercase: bool,
    /// Print `{"score", "precisions", "bp", "sys_len", "ref_len", …}` instead of the text line.
    #[arg(long)]
    json: bool,
    /// Decimals of the score in the text line (sacreBLEU's `-w`, default 1).
    #[arg(long, default_value_t = 1)]
    width: usize,
}

fn lines(path: &PathBuf) -> Result<Vec<String>> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .context("reading hypotheses from stdin (not UTF-8?)")?;
        return Ok(text.lines().map(str::to_owned).collect());
    }
    Ok(sru_data::read_lines(path)?)
}

impl Bleu {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        let opts = BleuOptions {
            tokenize: self.tokenize.parse::<Tokenize>()?,
            lowercase: self.lowercase,
        };
        let hyps = lines(&self.hyp)?;
        let mut refs = Vec::new();
        for r in &self.refs {
            let lines = lines(r)?;
            if lines.len() != hyps.len() {
                bail!(
                    "{} has {} lines but {} has {}: one reference line per hypothesis line",
                    r.display(),
                    lines.len(),
                    self.hyp.display(),
                    hyps.len()
                );
            }
            refs.push(lines);
        }
        let s = corpus_bleu(&hyps, &refs, &opts)?;
        let sig = opts.signature(refs.len());
        if self.json {
            let v = serde_json::json!({
                "name": "BLEU",
                "score": s.score,
                "precisions": s.precisions,
                "bp": s.bp,
                "sys_len": s.stats.sys_len,
                "ref_len": s.stats.ref_len,
                "counts": s.stats.counts,
                "totals": s.stats.totals,
                "signature": sig,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            println!("{}", s.format(&sig, self.width));
        }
        Ok(())
    }
}
