//! `cargo xtask generate --run <dir> --prompt <text>`: continues a prompt with a trained
//! model, token by token with the model's stateful decoder (carried c and attention memory:
//! each new token costs one step, not a pass over the whole context), streaming the text as
//! it is produced. Sampling: temperature, top-k, nucleus (top-p), seeded.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use sru_data::{TextStream, TokenCache};
use sru_model::{Decoder, Sampler, SamplingConfig};
use sru_train::{Which, load_trained};

use crate::backend::{BackendJob, BackendKind, dispatch};
use sru_train::TrainingBackend;

/// Generate text from a trained model.
#[derive(Debug, Args)]
pub struct Generate {
    /// A run folder (or one checkpoint folder); its best checkpoint is used.
    #[arg(long)]
    run: PathBuf,
    /// The text to continue.
    #[arg(long)]
    prompt: String,
    /// Tokens to generate.
    #[arg(long, default_value_t = 200)]
    max_tokens: usize,
    /// Softmax temperature (0: always the most likely token).
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Sample among the k most likely tokens only.
    #[arg(long)]
    top_k: Option<usize>,
    /// Sample among the most likely tokens whose probabilities sum to p.
    #[arg(long)]
    top_p: Option<f64>,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 1234)]
    seed: u64,
    /// Backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    backend: BackendKind,
}

impl Generate {
    fn sampling(&self) -> SamplingConfig {
        SamplingConfig {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
        }
    }

    pub fn run(self) -> Result<()> {
        self.sampling().validate()?;
        if self.prompt.is_empty() {
            bail!("--prompt is empty: give the model some text to continue");
        }
        let backend = self.backend;
        dispatch(backend, 1, self)
    }
}

impl BackendJob for Generate {
    type Output = ();
    fn run<B: TrainingBackend>(self, devices: Vec<B::Device>) -> Result<()> {
        let device = &devices[0];
        let trained = load_trained::<B::InnerBackend>(&self.run, Which::Best, device)?;
        let tokenizer = TokenCache::open(&trained.config.data)?.tokenizer()?;
        let prompt_ids = tokenizer.encode(&self.prompt)?;
        if prompt_ids.is_empty() {
            bail!(
                "--prompt {:?} has no tokens for this vocabulary",
                self.prompt
            );
        }
        let prompt: Vec<i64> = prompt_ids.iter().map(|&i| i64::from(i)).collect();
        eprintln!(
            "checkpoint {} (update {}); prompt {} tokens",
            trained.path.display(),
            trained.step,
            prompt.len()
        );
        let mut decoder = Decoder::new(&trained.model, trained.config.eval_unroll);
        let mut sampler = Sampler::new(self.sampling(), self.seed)?;
        let mut text = TextStream::continuing(tokenizer.as_ref(), &prompt_ids)?;
        let mut out = std::io::stdout().lock();
        write!(out, "{}", self.prompt)?;
        let mut next = decoder.feed_and_sample(&prompt, &mut sampler, device)?;
        for _ in 0..self.max_tokens {
            write!(out, "{}", text.push(next as u32)?)?;
            out.flush()?;
            next = decoder.feed_and_sample(&[next], &mut sampler, device)?;
        }
        writeln!(out, "{}", text.finish()?)?;
        Ok(())
    }
}
