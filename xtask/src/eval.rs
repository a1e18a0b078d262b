//! `cargo xtask eval --run <dir>`: scores a split with a trained model (its best checkpoint
//! by default) and prints the loss, bits per token and perplexity.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use sru_data::{Split, TokenCache};
use sru_model::bits_per_character;
use sru_train::{EvalSpec, Which, evaluate, load_trained};

use crate::backend::{BackendJob, BackendKind, dispatch};
use sru_train::TrainingBackend;

/// Which split to score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// Validation.
    Valid,
    /// Test.
    Test,
    /// Training data.
    Train,
}

/// Which checkpoint of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WhichArg {
    /// Best on validation.
    Best,
    /// The latest.
    Latest,
}

/// Evaluate a trained model.
#[derive(Debug, Args)]
pub struct Eval {
    /// A run folder (or one checkpoint folder).
    #[arg(long)]
    run: PathBuf,
    /// Split.
    #[arg(long, value_enum, default_value_t = SplitArg::Test)]
    split: SplitArg,
    /// Segment and memory length (default: the run's eval_unroll).
    #[arg(long)]
    eval_unroll: Option<usize>,
    /// Streams (the official final evaluation uses 1).
    #[arg(long, default_value_t = 1)]
    batch_size: usize,
    /// Score at most this many tokens.
    #[arg(long)]
    max_tokens: Option<u64>,
    /// Checkpoint.
    #[arg(long, value_enum, default_value_t = WhichArg::Best)]
    checkpoint: WhichArg,
    /// Backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    backend: BackendKind,
}

impl Eval {
    pub fn run(self) -> Result<()> {
        let backend = self.backend;
        dispatch(backend, 1, self)
    }
}

impl BackendJob for Eval {
    type Output = ();
    fn run<B: TrainingBackend>(self, devices: Vec<B::Device>) -> Result<()> {
        let device = &devices[0];
        let which = match self.checkpoint {
            WhichArg::Best => Which::Best,
            WhichArg::Latest => Which::Latest,
        };
        let trained = load_trained::<B::InnerBackend>(&self.run, which, device)?;
        let cache = TokenCache::open(&trained.config.data)?;
        let split = match self.split {
            SplitArg::Valid => Split::Valid,
            SplitArg::Test => Split::Test,
            SplitArg::Train => Split::Train,
        };
        let spec = EvalSpec {
            split,
            batch: self.batch_size,
            unroll: self.eval_unroll.unwrap_or(trained.config.eval_unroll),
            max_tokens: self.max_tokens,
        };
        eprintln!(
            "checkpoint {} (update {})  ·  {} split, batch {}, unroll {}",
            trained.path.display(),
            trained.step,
            split.name(),
            spec.batch,
            spec.unroll
        );
        let r = evaluate(&trained.model, &cache, &spec, device, &mut |done, total| {
            eprint!("\r  {done}/{total} tokens");
        })?;
        eprintln!();
        println!(
            "{}: loss {:.4}  bits/token {:.4}  perplexity {:.3}  ({} tokens, {:.1} s, {:.0} tokens/s)",
            split.name(),
            r.loss,
            bits_per_character(r.loss),
            r.loss.exp(),
            r.tokens,
            r.seconds,
            r.tokens as f64 / r.seconds.max(1e-9)
        );
        Ok(())
    }
}
