//! Training compute per token, for comparing models by the compute they were given (the
//! paper's Figure 1 plots dev BPC against GPU hours; FLOPs are the hardware-free version).
//!
//! ```text
//! forward products   P = Σ over weight matrices used once per token: 2 · rows · cols
//!                        + output layer 2 · d · V (+ adaptive heads and tails, see below)
//!                        + Transformer-XL's position projection: 2 · d · H·d_head · K / L
//! attention          A = SRU++ layer with attention: 4 · d' · S      (q kᵀ and P v)
//!                        Transformer-XL layer:       6 · H·d_head · K (AC, BD and P v)
//! training FLOPs/token = 3 · (P + A)  +  SRU++ only: 3 · RECURRENCE_FLOPS · D per layer
//! ```
//! The factor 3 is one forward and two backward products (the gradients of the input and of
//! the weight) for each forward product. Attention counts every score it computes, masked or
//! not, over `S = M + L` keys: SRU++'s memory is the previous segment (`M = L`); a
//! Transformer-XL's is `mem_len` (`K = mem_len + L`). Word-level models count every adaptive
//! cluster for every token, an upper bound (training computes a tail only for its tokens).
//! Embedding lookups, LayerNorm, softmax and biases are not counted.

use crate::adaptive::AdaptiveConfig;
use crate::config::ModelConfig;

/// Element-wise FLOPs of the SRU recurrence per state element and time step, forward and
/// backward together. Forward, per element: two gates `σ(u + v ⊙ c + b)` (2 multiply-adds
/// and a sigmoid counted as 4: 7 each), the cell `f ⊙ c + (1 - f) ⊙ u₀` (4), the highway
/// `r ⊙ c + (1 - r) ⊙ x` (4): 22. The hand-written backward does about twice that: 66 in all.
pub const RECURRENCE_FLOPS: f64 = 66.0;

/// Training FLOPs per token, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FlopsPerToken {
    /// Forward matrix products with weights, per token.
    pub products: f64,
    /// Forward attention products (scores and weighted values), per token.
    pub attention: f64,
    /// Element-wise recurrence work (forward and backward), per token.
    pub recurrence: f64,
}

impl FlopsPerToken {
    /// Training FLOPs per token: `3 · (products + attention) + recurrence`.
    pub fn training(&self) -> f64 {
        3.0 * (self.products + self.attention) + self.recurrence
    }

    /// Forward-only FLOPs per token (inference).
    pub fn forward(&self) -> f64 {
        self.products + self.attention + self.recurrence / 3.0
    }
}

/// Forward FLOPs per token of the output layer (and the adaptive input's projections) of a
/// model of width `d` over `vocab_size` ids.
fn output_flops(adaptive: Option<&AdaptiveConfig>, d: usize, vocab_size: usize) -> f64 {
    let (d, v) = (d as f64, vocab_size as f64);
    match adaptive {
        None => 2.0 * d * v,
        Some(a) => {
            let ranges = a.ranges(vocab_size);
            let n_clusters = a.cutoffs.len() as f64;
            let softmax: f64 = ranges
                .iter()
                .enumerate()
                .map(|(i, (l, r))| {
                    let w = a.width(i) as f64;
                    let rows = (r - l) as f64 + if i == 0 { n_clusters } else { 0.0 };
                    2.0 * (d * w + w * rows)
                })
                .sum();
            let input: f64 = (0..ranges.len()).map(|i| 2.0 * d * a.width(i) as f64).sum();
            softmax + input
        }
    }
}

/// The FLOPs per token of `config` trained on segments of `unroll` tokens.
pub fn per_token(config: &ModelConfig, unroll: usize) -> FlopsPerToken {
    let output = output_flops(config.adaptive(), config.width(), config.vocab_size());
    let l = unroll.max(1) as f64;
    match config {
        ModelConfig::TransformerXl(t) => {
            let d = t.d_model as f64;
            let hd = (t.n_head * t.d_head) as f64;
            let k = (t.mem_len + unroll.max(1)) as f64;
            let layer =
                2.0 * (d * 3.0 * hd + hd * d + 2.0 * d * t.d_inner as f64) + 2.0 * d * hd * k / l;
            FlopsPerToken {
                products: t.n_layer as f64 * layer + output,
                attention: t.n_layer as f64 * 6.0 * hd * k,
                recurrence: 0.0,
            }
        }
        ModelConfig::Srupp(c) => {
            let s = c.srupp();
            let (dp, dd) = (s.proj_size as f64, s.output_size() as f64);
            let keys = 2.0 * l; // memory = the previous segment
            let mut f = FlopsPerToken {
                products: output,
                ..Default::default()
            };
            for i in 0..s.num_layers {
                let c = s.cell(i);
                let (inp, out) = (c.in_features as f64, dd * c.k() as f64);
                f.products += 2.0 * (inp * dp + dp * out);
                if c.attention {
                    f.products += 2.0 * dp * 2.0 * dp;
                    f.attention += 4.0 * dp * keys;
                }
                f.recurrence += RECURRENCE_FLOPS * dd;
            }
            f
        }
    }
}
