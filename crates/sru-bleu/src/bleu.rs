//! Corpus BLEU (Papineni et al., 2002) exactly as sacreBLEU 2.6.0's `corpus_bleu` computes it:
//! each segment's clipped n-gram matches (n = 1..4) against the element-wise maximum of its
//! references' n-gram counts, its length and the closest reference length (ties: the shorter),
//! summed over the corpus; then the geometric mean of the four precisions with `exp`
//! smoothing (NIST: the k-th order without matches counts as 1 / (2^k · total)) times the
//! brevity penalty exp(1 − ref_len / sys_len) when the system is shorter.

use std::collections::HashMap;
use std::ops::AddAssign;

use serde::Serialize;

use crate::error::BleuError;
use crate::tokenize::{Tokenize, rstrip, words};

/// sacreBLEU's version that this crate reproduces (and names in the signature).
pub const SACREBLEU_VERSION: &str = "2.6.0";

/// BLEU's largest n-gram order.
pub const MAX_ORDER: usize = 4;

/// How the text is prepared before n-grams are counted (sacreBLEU's command-line options).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BleuOptions {
    /// The word tokenizer (`--tokenize`).
    pub tokenize: Tokenize,
    /// Lower-case hypotheses and references first (`--lowercase`).
    pub lowercase: bool,
}

/// The sufficient statistics of a corpus (or of one segment): they add up over segments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BleuStats {
    /// Hypothesis words.
    pub sys_len: u64,
    /// Closest reference words.
    pub ref_len: u64,
    /// Clipped matching n-grams, n = 1..4.
    pub counts: [u64; MAX_ORDER],
    /// Hypothesis n-grams, n = 1..4.
    pub totals: [u64; MAX_ORDER],
}

impl AddAssign for BleuStats {
    fn add_assign(&mut self, o: Self) {
        self.sys_len += o.sys_len;
        self.ref_len += o.ref_len;
        for n in 0..MAX_ORDER {
            self.counts[n] += o.counts[n];
            self.totals[n] += o.totals[n];
        }
    }
}

/// A corpus BLEU score with the figures sacreBLEU prints beside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BleuScore {
    /// BLEU, 0–100.
    pub score: f64,
    /// The n-gram precisions in percent (smoothed where an order has no match).
    pub precisions: [f64; MAX_ORDER],
    /// The brevity penalty.
    pub bp: f64,
    /// The statistics it was computed from.
    #[serde(flatten)]
    pub stats: BleuStats,
}

/// sacreBLEU's `my_log`: the natural log, with log 0 as −9999999999.
fn my_log(x: f64) -> f64 {
    if x == 0.0 { -9_999_999_999.0 } else { x.ln() }
}

impl BleuStats {
    /// The score of these statistics (sacreBLEU's `compute_bleu` with `smooth_method='exp'`,
    /// `effective_order=False`).
    pub fn score(&self) -> BleuScore {
        let (sys, refl) = (self.sys_len as f64, self.ref_len as f64);
        let bp = if self.sys_len < self.ref_len {
            if self.sys_len > 0 {
                (1.0 - refl / sys).exp()
            } else {
                0.0
            }
        } else {
            1.0
        };
        let mut precisions = [0.0; MAX_ORDER];
        if self.counts.iter().all(|&c| c == 0) {
            return BleuScore {
                score: 0.0,
                precisions,
                bp,
                stats: *self,
            };
        }
        let mut smooth = 1.0;
        for n in 0..MAX_ORDER {
            let total = self.totals[n] as f64;
            if self.totals[n] == 0 {
                break;
            }
            precisions[n] = if self.counts[n] == 0 {
                smooth *= 2.0;
                100.0 / (smooth * total)
            } else {
                100.0 * self.counts[n] as f64 / total
            };
        }
        // Summed left to right as Python's `sum`, for the same rounding.
        let log_sum = precisions.iter().fold(0.0, |acc, &p| acc + my_log(p));
        let score = bp * (log_sum / MAX_ORDER as f64).exp();
        BleuScore {
            score,
            precisions,
            bp,
            stats: *self,
        }
    }
}

/// A hypothesis's or reference's n-grams (n = 1..4) with their counts.
type Ngrams<'a> = HashMap<&'a [&'a str], u64>;

fn ngrams<'a>(tokens: &'a [&'a str]) -> Ngrams<'a> {
    let mut out = HashMap::new();
    for n in 1..=MAX_ORDER {
        for w in tokens.windows(n) {
            *out.entry(w).or_insert(0) += 1;
        }
    }
    out
}

/// sacreBLEU's `_get_closest_ref_len`: the reference length nearest the hypothesis's; of two
/// equally near, the shorter.
fn closest_ref_len(hyp_len: usize, ref_lens: &[usize]) -> usize {
    let mut best: Option<(usize, usize)> = None;
    for &r in ref_lens {
        let diff = hyp_len.abs_diff(r);
        best = match best {
            Some((d, l)) if diff > d || (diff == d && r >= l) => Some((d, l)),
            _ => Some((diff, r)),
        };
    }
    best.map_or(0, |(_, l)| l)
}

impl BleuOptions {
    /// A line as sacreBLEU scores it: trailing white space removed, lower-cased if asked,
    /// tokenised.
    pub fn prepare(&self, line: &str) -> String {
        let line = rstrip(line);
        if self.lowercase {
            self.tokenize.apply(&line.to_lowercase())
        } else {
            self.tokenize.apply(line)
        }
    }

    /// The statistics of one segment: its hypothesis against its references.
    pub fn segment_stats<S: AsRef<str>>(&self, hyp: &str, refs: &[S]) -> BleuStats {
        let refs: Vec<String> = refs.iter().map(|r| self.prepare(r.as_ref())).collect();
        let ref_tokens: Vec<Vec<&str>> = refs.iter().map(|r| words(r).collect()).collect();
        let mut ref_ngrams: Ngrams<'_> = HashMap::new();
        for toks in &ref_tokens {
            for (g, c) in ngrams(toks) {
                let e = ref_ngrams.entry(g).or_insert(0);
                *e = (*e).max(c);
            }
        }
        let ref_lens: Vec<usize> = ref_tokens.iter().map(Vec::len).collect();
        let hyp = self.prepare(hyp);
        let hyp_tokens: Vec<&str> = words(&hyp).collect();
        let mut stats = BleuStats {
            sys_len: hyp_tokens.len() as u64,
            ref_len: closest_ref_len(hyp_tokens.len(), &ref_lens) as u64,
            ..BleuStats::default()
        };
        for (g, c) in ngrams(&hyp_tokens) {
            let n = g.len() - 1;
            stats.totals[n] += c;
            if let Some(&r) = ref_ngrams.get(g) {
                stats.counts[n] += c.min(r);
            }
        }
        stats
    }

    /// The signature sacreBLEU prints with a score, e.g.
    /// `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`.
    pub fn signature(&self, nrefs: usize) -> String {
        let case = if self.lowercase { "lc" } else { "mixed" };
        format!(
            "nrefs:{nrefs}|case:{case}|eff:no|tok:{}|smooth:exp|version:{SACREBLEU_VERSION}",
            self.tokenize
        )
    }
}

/// Corpus BLEU of `hyps` against reference streams `refs` (each stream one line per
/// hypothesis), as `sacrebleu REF... -i HYP` computes it.
///
/// # Errors
/// No reference stream, or a stream of another length than the hypotheses.
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(
    hyps: &[H],
    refs: &[Vec<R>],
    options: &BleuOptions,
) -> Result<BleuScore, BleuError> {
    if refs.is_empty() {
        return Err(BleuError::NoReferences);
    }
    if let Some((index, r)) = refs.iter().enumerate().find(|(_, r)| r.len() != hyps.len()) {
        return Err(BleuError::LengthMismatch {
            index,
            lines: r.len(),
            hyps: hyps.len(),
        });
    }
    let mut stats = BleuStats::default();
    for (i, hyp) in hyps.iter().enumerate() {
        let seg_refs: Vec<&str> = refs.iter().map(|r| r[i].as_ref()).collect();
        stats += options.segment_stats(hyp.as_ref(), &seg_refs);
    }
    Ok(stats.score())
}

impl BleuScore {
    /// The line sacreBLEU's `-f text` prints, with `width` decimals for the score (its
    /// default is 1), e.g. `BLEU|nrefs:1|…|version:2.6.0 = 40.1 81.8/55.6/28.6/20.0 (BP =
    /// 1.000 ratio = 1.100 hyp_len = 11 ref_len = 10)`.
    pub fn format(&self, signature: &str, width: usize) -> String {
        let precs: Vec<String> = self.precisions.iter().map(|p| format!("{p:.1}")).collect();
        let ratio = if self.stats.ref_len > 0 {
            self.stats.sys_len as f64 / self.stats.ref_len as f64
        } else {
            0.0
        };
        format!(
            "BLEU|{signature} = {:.width$} {} (BP = {:.3} ratio = {ratio:.3} hyp_len = {} ref_len = {})",
            self.score,
            precs.join("/"),
            self.bp,
            self.stats.sys_len,
            self.stats.ref_len,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_reference_length_prefers_the_shorter_on_ties() {
        assert_eq!(closest_ref_len(5, &[3, 7]), 3);
        assert_eq!(closest_ref_len(5, &[7, 3]), 3);
        assert_eq!(closest_ref_len(5, &[6, 9, 4]), 4);
        assert_eq!(closest_ref_len(5, &[]), 0);
    }

    #[test]
    fn a_perfect_match_scores_100_and_mismatched_streams_are_refused() {
        let o = BleuOptions::default();
        let h = ["the cat sat on the mat ."];
        let s = corpus_bleu(&h, &[vec!["the cat sat on the mat ."]], &o).ok();
        assert!((s.map_or(0.0, |s| s.score) - 100.0).abs() < 1e-12);
        let err = corpus_bleu(&h, &[vec!["a", "b"]], &o).err();
        assert_eq!(
            err,
            Some(BleuError::LengthMismatch {
                index: 0,
                lines: 2,
                hyps: 1
            })
        );
        assert_eq!(
            corpus_bleu::<_, &str>(&h, &[], &o).err(),
            Some(BleuError::NoReferences)
        );
    }
}
