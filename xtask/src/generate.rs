//! `cargo xtask generate --run <dir> --prompt <text>`: continues a prompt with a trained
//! model, token by token with the model's stateful decoder (carried c and attention memory:
//! each new token costs one step, not a pass over the whole context), streaming the text as
//! it is produced. Sampling: temperature, top-k, nucleus (top-p), seeded.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use sru_data::{Subword, TOKENIZER_FILE, TokenCache, Vocab};
use sru_model::Decoder;
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

/// splitmix64: a small, seeded generator for sampling.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Picks the next token from log-probabilities.
fn sample(
    log_probs: &[f32],
    temperature: f64,
    top_k: Option<usize>,
    top_p: Option<f64>,
    rng: &mut Rng,
) -> usize {
    let mut order: Vec<usize> = (0..log_probs.len()).collect();
    order.sort_by(|&a, &b| log_probs[b].total_cmp(&log_probs[a]));
    if temperature <= 0.0 {
        return order[0];
    }
    let top = f64::from(log_probs[order[0]]);
    let mut weights: Vec<(usize, f64)> = order
        .iter()
        .map(|&i| (i, ((f64::from(log_probs[i]) - top) / temperature).exp()))
        .collect();
    if let Some(k) = top_k {
        weights.truncate(k.max(1));
    }
    if let Some(p) = top_p {
        let total: f64 = weights.iter().map(|w| w.1).sum();
        let mut acc = 0.0;
        let mut keep = 0;
        for (n, w) in weights.iter().enumerate() {
            acc += w.1 / total;
            keep = n + 1;
            if acc >= p {
                break;
            }
        }
        weights.truncate(keep.max(1));
    }
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let mut r = rng.next_f64() * total;
    for &(i, w) in &weights {
        r -= w;
        if r <= 0.0 {
            return i;
        }
    }
    weights[weights.len() - 1].0
}

/// Text in, ids out, and ids back to text as they stream.
enum Codec {
    Bytes {
        table: [u32; 256],
        symbols: Vec<u8>,
        pending: Vec<u8>,
    },
    Words(Vocab),
    Subword(Subword),
}

impl Codec {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(match self {
            Codec::Bytes { table, .. } => {
                let mut ids = Vec::new();
                for &b in text.as_bytes() {
                    let id = table[b as usize];
                    if id == u32::MAX {
                        bail!(
                            "the prompt has byte {b:#04x}, which the training corpus never contained"
                        );
                    }
                    ids.push(id);
                }
                ids
            }
            Codec::Words(vocab) => {
                let index = vocab.word_index().unwrap_or_default();
                let unk = match vocab {
                    Vocab::Words { unk: Some(u), .. } => index.get(u.as_str()).copied(),
                    _ => None,
                };
                text.split_whitespace()
                    .map(|w| {
                        index.get(w).copied().or(unk).ok_or_else(|| {
                            anyhow::anyhow!(
                                "the word {w:?} is not in the vocabulary (and it has no <unk>)"
                            )
                        })
                    })
                    .collect::<Result<_>>()?
            }
            Codec::Subword(s) => s.encode(text)?,
        })
    }

    /// The printable text after one more id (bytes wait until they form UTF-8).
    fn push(&mut self, id: u32) -> String {
        match self {
            Codec::Bytes {
                symbols, pending, ..
            } => {
                pending.extend(symbols.get(id as usize).copied());
                match std::str::from_utf8(pending) {
                    Ok(s) => {
                        let s = s.to_string();
                        pending.clear();
                        s
                    }
                    Err(e) if e.error_len().is_some() || pending.len() >= 4 => {
                        let s = String::from_utf8_lossy(pending).into_owned();
                        pending.clear();
                        s
                    }
                    Err(_) => String::new(),
                }
            }
            Codec::Words(v) => format!(" {}", v.decode(&[id])),
            Codec::Subword(s) => s.decode(&[id]).unwrap_or_default(),
        }
    }
}

impl Generate {
    pub fn run(self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            bail!("--temperature must be ≥ 0");
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            bail!("--top-p must lie in (0, 1]");
        }
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
        let cache = TokenCache::open(&trained.config.data)?;
        let mut codec = match cache.vocab() {
            v @ Vocab::Bytes { symbols } => Codec::Bytes {
                table: v.byte_table().unwrap_or([u32::MAX; 256]),
                symbols: symbols.clone(),
                pending: Vec::new(),
            },
            v @ Vocab::Words { .. } => Codec::Words(v.clone()),
            Vocab::Subword { .. } => {
                Codec::Subword(Subword::load(&trained.config.data.join(TOKENIZER_FILE))?)
            }
        };
        let prompt = codec.encode(&self.prompt)?;
        eprintln!(
            "checkpoint {} (update {}); prompt {} tokens",
            trained.path.display(),
            trained.step,
            prompt.len()
        );
        let mut decoder = Decoder::new(&trained.model, trained.config.eval_unroll);
        let ids: Vec<i64> = prompt.iter().map(|&i| i64::from(i)).collect();
        let lp = decoder.feed(&ids, device)?;
        let [n, v] = lp.dims();
        let mut next: Vec<f32> = lp
            .slice([n - 1..n, 0..v])
            .into_data()
            .convert::<f32>()
            .to_vec()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut rng = Rng(self.seed);
        let mut out = std::io::stdout().lock();
        write!(out, "{}", self.prompt)?;
        for _ in 0..self.max_tokens {
            let id = sample(&next, self.temperature, self.top_k, self.top_p, &mut rng);
            write!(out, "{}", codec.push(id as u32))?;
            out.flush()?;
            next = decoder
                .step(id as i64, device)?
                .into_data()
                .convert::<f32>()
                .to_vec()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        writeln!(out)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_respects_temperature_top_k_and_top_p() {
        let lp: Vec<f32> = [0.5f32, 0.3, 0.15, 0.05].iter().map(|p| p.ln()).collect();
        let mut rng = Rng(7);
        assert_eq!(sample(&lp, 0.0, None, None, &mut rng), 0);
        for _ in 0..200 {
            assert_eq!(sample(&lp, 1.0, Some(1), None, &mut rng), 0);
            assert!(sample(&lp, 1.0, None, Some(0.7), &mut rng) < 2);
        }
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[sample(&lp, 1.0, None, None, &mut rng)] += 1;
        }
        assert!(counts[0] > 1700 && counts[0] < 2300, "{counts:?}");
        assert!(counts[3] > 100 && counts[3] < 320, "{counts:?}");
    }
}
