//! Drawing the next token from the model's log-probabilities: a softmax temperature, then
//! optionally only the k most likely tokens (top-k) and/or the smallest set of most likely
//! tokens whose probabilities reach p (nucleus, top-p), from a seeded generator, so a seed
//! always gives the same text.

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// How to sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplingConfig {
    /// Softmax temperature; 0 always picks the most likely token.
    pub temperature: f64,
    /// Sample among the k most likely tokens only.
    pub top_k: Option<usize>,
    /// Sample among the most likely tokens whose probabilities sum to p, in (0, 1].
    pub top_p: Option<f64>,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_k: None,
            top_p: None,
        }
    }
}

impl SamplingConfig {
    /// Checks the options.
    ///
    /// # Errors
    /// [`ModelError::Sampling`] naming the option out of range.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |option, why: &str| {
            Err(ModelError::Sampling {
                option,
                why: why.into(),
            })
        };
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return bad("temperature", "must be a finite number ≥ 0");
        }
        if self.top_k == Some(0) {
            return bad("top_k", "must be at least 1");
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return bad("top_p", "must lie in (0, 1]");
        }
        Ok(())
    }
}

/// A seeded sampler.
#[derive(Debug, Clone)]
pub struct Sampler {
    config: SamplingConfig,
    rng: Pcg64,
}

impl Sampler {
    /// A sampler drawing from a generator seeded with `seed`.
    ///
    /// # Errors
    /// Options out of range.
    pub fn new(config: SamplingConfig, seed: u64) -> Result<Self, ModelError> {
        config.validate()?;
        Ok(Self {
            config,
            rng: Pcg64::seed_from_u64(seed),
        })
    }

    /// The id drawn from `log_probs` (one entry per vocabulary id).
    ///
    /// # Errors
    /// An empty distribution.
    pub fn sample(&mut self, log_probs: &[f32]) -> Result<usize, ModelError> {
        if log_probs.is_empty() {
            return Err(ModelError::Empty { name: "log_probs" });
        }
        let c = self.config;
        let mut order: Vec<usize> = (0..log_probs.len()).collect();
        order.sort_by(|&a, &b| log_probs[b].total_cmp(&log_probs[a]));
        if c.temperature == 0.0 {
            return Ok(order[0]);
        }
        let top = f64::from(log_probs[order[0]]);
        let mut weights: Vec<(usize, f64)> = order
            .iter()
            .map(|&i| (i, ((f64::from(log_probs[i]) - top) / c.temperature).exp()))
            .collect();
        if let Some(k) = c.top_k {
            weights.truncate(k);
        }
        if let Some(p) = c.top_p {
            let total: f64 = weights.iter().map(|w| w.1).sum();
            let mut acc = 0.0;
            let keep = weights
                .iter()
                .position(|w| {
                    acc += w.1 / total;
                    acc >= p
                })
                .map_or(weights.len(), |n| n + 1);
            weights.truncate(keep);
        }
        let total: f64 = weights.iter().map(|w| w.1).sum();
        let mut r = self.rng.random::<f64>() * total;
        for &(i, w) in &weights {
            r -= w;
            if r <= 0.0 {
                return Ok(i);
            }
        }
        Ok(weights[weights.len() - 1].0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(temperature: f64, top_k: Option<usize>, top_p: Option<f64>) -> Sampler {
        let config = SamplingConfig {
            temperature,
            top_k,
            top_p,
        };
        Sampler::new(config, 7).expect("valid options")
    }

    #[test]
    fn sampling_respects_temperature_top_k_and_top_p() {
        let lp: Vec<f32> = [0.5f32, 0.3, 0.15, 0.05].iter().map(|p| p.ln()).collect();
        let draw = |s: &mut Sampler| s.sample(&lp).expect("non-empty");
        assert_eq!(draw(&mut sampler(0.0, None, None)), 0);
        let (mut k1, mut p7) = (sampler(1.0, Some(1), None), sampler(1.0, None, Some(0.7)));
        for _ in 0..200 {
            assert_eq!(draw(&mut k1), 0);
            assert!(draw(&mut p7) < 2);
        }
        let mut s = sampler(1.0, None, None);
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[draw(&mut s)] += 1;
        }
        assert!(counts[0] > 1700 && counts[0] < 2300, "{counts:?}");
        assert!(counts[3] > 100 && counts[3] < 320, "{counts:?}");
    }

    #[test]
    fn a_seed_gives_the_same_draws_and_bad_options_are_named() {
        let lp: Vec<f32> = (0..50).map(|i| -(i as f32) / 10.0).collect();
        let draws = |seed| {
            let mut s = Sampler::new(SamplingConfig::default(), seed).expect("valid");
            (0..20)
                .map(|_| s.sample(&lp).expect("draw"))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(3), draws(3));
        assert_ne!(draws(3), draws(4));
        for (config, option) in [
            (
                SamplingConfig {
                    temperature: -1.0,
                    ..Default::default()
                },
                "temperature",
            ),
            (
                SamplingConfig {
                    top_k: Some(0),
                    ..Default::default()
                },
                "top_k",
            ),
            (
                SamplingConfig {
                    top_p: Some(1.5),
                    ..Default::default()
                },
                "top_p",
            ),
        ] {
            let e = Sampler::new(config, 0).expect_err("refused");
            assert!(
                matches!(e, ModelError::Sampling { option: o, .. } if o == option),
                "{e}"
            );
        }
    }
}
