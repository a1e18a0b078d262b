//! Translation batches capped by tokens, as fairseq's `--max-tokens`: pairs are ordered by
//! source then target length (ties in a seeded random order), cut greedily into batches whose
//! cost, the longest pair (max of source and target length, `</s>` included) times the number
//! of pairs, stays within `max_tokens`; the batches are fixed and their order is reshuffled
//! every epoch from `(seed, epoch)`. Rank r of `world` reads every world-th batch of an epoch.
//! The position is a [`Cursor`] (epoch, batch), so a resumed run reads exactly the batch it
//! would have read next. [`PairBatch`]es are time-major and right-padded: the source with
//! `</s>` appended, the decoder input `</s>` + target, the output target + `</s>`.

use rand::seq::SliceRandom;
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use crate::batch::Cursor;
use crate::error::DataError;
use crate::parallel::store::PairSet;
use crate::parallel::vocab::{EOS, PAD};

/// How batches are formed and sharded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenBatchSpec {
    /// Most tokens of a batch, padding included (fairseq's `--max-tokens`).
    pub max_tokens: usize,
    /// Most pairs of a batch (`--batch-size`), if capped.
    pub max_sentences: Option<usize>,
    /// Seed of the tie order and of the per-epoch batch order.
    pub seed: u64,
    /// This process's rank.
    pub rank: usize,
    /// Number of ranks.
    pub world: usize,
}

impl TokenBatchSpec {
    /// A single-process spec.
    pub fn new(max_tokens: usize, seed: u64) -> Self {
        Self {
            max_tokens,
            max_sentences: None,
            seed,
            rank: 0,
            world: 1,
        }
    }
}

/// One batch of pairs, time-major `(len, batch)`, row-major: element (t, b) at `t·batch + b`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairBatch {
    /// Pairs in the batch.
    pub batch: usize,
    /// Source positions (longest source + `</s>`).
    pub src_len: usize,
    /// Target positions (longest target + 1).
    pub tgt_len: usize,
    /// Source ids + `</s>`, right-padded with `<pad>`.
    pub src: Vec<u32>,
    /// Decoder inputs: `</s>` + target ids, right-padded.
    pub prev: Vec<u32>,
    /// Targets: target ids + `</s>`, right-padded.
    pub target: Vec<u32>,
    /// Which pairs these are (indices into the split).
    pub indices: Vec<usize>,
    /// Non-padding target tokens (the loss's normaliser).
    pub target_tokens: usize,
}

fn cost(pairs: &PairSet, i: usize) -> usize {
    pairs.src(i).len().max(pairs.tgt(i).len()) + 1
}

/// The batches of one split.
#[derive(Debug, Clone)]
pub struct TokenBatches {
    batches: Vec<Vec<usize>>,
    spec: TokenBatchSpec,
}

impl TokenBatches {
    /// Cuts `pairs` into batches.
    ///
    /// # Errors
    /// `max_tokens` 0, rank ≥ world, a pair longer than `max_tokens` (naming it), fewer
    /// batches than ranks.
    pub fn new(pairs: &PairSet, spec: TokenBatchSpec) -> Result<Self, DataError> {
        if spec.max_tokens == 0 || spec.max_sentences == Some(0) {
            return Err(DataError::Option {
                option: "max-tokens",
                why: "must be at least 1".into(),
            });
        }
        if spec.world == 0 || spec.rank >= spec.world {
            return Err(DataError::Option {
                option: "rank",
                why: format!("rank {} of world {}", spec.rank, spec.world),
            });
        }
        if let Some(i) = (0..pairs.len()).find(|&i| cost(pairs, i) > spec.max_tokens) {
            return Err(DataError::Option {
                option: "max-tokens",
                why: format!(
                    "pair {} ({} source, {} target tokens + </s>) does not fit in {} tokens; raise --max-tokens",
                    i + 1,
                    pairs.src(i).len(),
                    pairs.tgt(i).len(),
                    spec.max_tokens
                ),
            });
        }
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        order.shuffle(&mut Pcg64::new(u128::from(spec.seed), 0x5eed));
        order.sort_by_key(|&i| pairs.tgt(i).len());
        order.sort_by_key(|&i| pairs.src(i).len());
        let mut batches = Vec::new();
        let mut cur: Vec<usize> = Vec::new();
        let mut longest = 0;
        for i in order {
            let c = cost(pairs, i);
            let full = spec.max_sentences.is_some_and(|m| cur.len() >= m);
            if !cur.is_empty() && (full || longest.max(c) * (cur.len() + 1) > spec.max_tokens) {
                batches.push(std::mem::take(&mut cur));
                longest = 0;
            }
            longest = longest.max(c);
            cur.push(i);
        }
        if !cur.is_empty() {
            batches.push(cur);
        }
        if batches.len() < spec.world {
            return Err(DataError::Option {
                option: "max-tokens",
                why: format!(
                    "{} batches for {} ranks; lower --max-tokens",
                    batches.len(),
                    spec.world
                ),
            });
        }
        Ok(Self { batches, spec })
    }

    /// Batches this rank reads per epoch (equal on every rank: the remainder is left out).
    pub fn per_epoch(&self) -> u64 {
        (self.batches.len() / self.spec.world) as u64
    }

    /// Batches of the split in all ranks.
    pub fn total(&self) -> usize {
        self.batches.len()
    }

    /// This rank's batch order of `epoch` (indices into the batches).
    fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.batches.len()).collect();
        order.shuffle(&mut Pcg64::new(
            u128::from(self.spec.seed),
            u128::from(epoch) + 1,
        ));
        let n = self.per_epoch() as usize * self.spec.world;
        order
            .into_iter()
            .take(n)
            .skip(self.spec.rank)
            .step_by(self.spec.world)
            .collect()
    }

    /// The batch at `cursor` and the cursor after it (shuffled order, as training reads).
    pub fn next(&self, pairs: &PairSet, cursor: Cursor) -> (PairBatch, Cursor) {
        let order = self.epoch_order(cursor.epoch);
        let at = (cursor.segment as usize).min(order.len().saturating_sub(1));
        (
            collate(pairs, &self.batches[order[at]]),
            cursor.advance(self.per_epoch()),
        )
    }

    /// Every batch in length order, unshuffled, for evaluation (all ranks' batches).
    pub fn in_order(&self) -> impl Iterator<Item = &[usize]> {
        self.batches.iter().map(Vec::as_slice)
    }
}

/// The batch of pairs `indices`.
pub fn collate(pairs: &PairSet, indices: &[usize]) -> PairBatch {
    let b = indices.len();
    let src_len = indices
        .iter()
        .map(|&i| pairs.src(i).len())
        .max()
        .unwrap_or(0)
        + 1;
    let tgt_len = indices
        .iter()
        .map(|&i| pairs.tgt(i).len())
        .max()
        .unwrap_or(0)
        + 1;
    let mut src = vec![PAD; src_len * b];
    let mut prev = vec![PAD; tgt_len * b];
    let mut target = vec![PAD; tgt_len * b];
    let mut target_tokens = 0;
    for (j, &i) in indices.iter().enumerate() {
        let s = pairs.src(i);
        for (t, &id) in s.iter().chain(std::iter::once(&EOS)).enumerate() {
            src[t * b + j] = id;
        }
        let y = pairs.tgt(i);
        prev[j] = EOS;
        for (t, &id) in y.iter().enumerate() {
            prev[(t + 1) * b + j] = id;
            target[t * b + j] = id;
        }
        target[y.len() * b + j] = EOS;
        target_tokens += y.len() + 1;
    }
    PairBatch {
        batch: b,
        src_len,
        tgt_len,
        src,
        prev,
        target,
        indices: indices.to_vec(),
        target_tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: usize) -> PairSet {
        let mut s = PairSet::new();
        for i in 0..n {
            let a: Vec<u32> = (0..(i % 7 + 1) as u32).map(|x| x + 4).collect();
            let b: Vec<u32> = (0..(i % 5 + 2) as u32).map(|x| x + 10).collect();
            s.push(&a, &b);
        }
        s
    }

    #[test]
    fn batches_fit_cover_every_pair_once_and_resume_exactly() -> Result<(), DataError> {
        let pairs = set(100);
        let tb = TokenBatches::new(&pairs, TokenBatchSpec::new(32, 7))?;
        let mut seen = vec![0; 100];
        let mut cur = Cursor::default();
        let mut first = Vec::new();
        for _ in 0..tb.per_epoch() {
            let (b, next) = tb.next(&pairs, cur);
            assert!(b.src_len.max(b.tgt_len) * b.batch <= 32);
            for &i in &b.indices {
                seen[i] += 1;
            }
            first.push(b.indices.clone());
            cur = next;
        }
        assert!(seen.iter().all(|&c| c == 1));
        assert_eq!(
            cur,
            Cursor {
                segment: 0,
                epoch: 1
            }
        );
        // Epoch 1 has another order; a cursor in the middle gives the same batch again.
        let (b1, _) = tb.next(&pairs, cur);
        let (b1_again, _) = tb.next(
            &pairs,
            Cursor {
                segment: 0,
                epoch: 1,
            },
        );
        assert_eq!(b1, b1_again);
        let order: Vec<Vec<usize>> = (0..tb.per_epoch())
            .map(|s| {
                tb.next(
                    &pairs,
                    Cursor {
                        segment: s,
                        epoch: 1,
                    },
                )
                .0
                .indices
            })
            .collect();
        assert_ne!(order, first);
        Ok(())
    }

    #[test]
    fn collate_pads_and_shifts() {
        let mut p = PairSet::new();
        p.push(&[4, 5], &[6]);
        p.push(&[7], &[8, 9]);
        let b = collate(&p, &[0, 1]);
        assert_eq!((b.src_len, b.tgt_len), (3, 3));
        assert_eq!(b.src, vec![4, 7, 5, EOS, EOS, PAD]);
        assert_eq!(b.prev, vec![EOS, EOS, 6, 8, PAD, 9]);
        assert_eq!(b.target, vec![6, 8, EOS, 9, PAD, EOS]);
        assert_eq!(b.target_tokens, 5);
    }

    #[test]
    fn too_long_pairs_and_bad_ranks_are_refused() {
        let p = set(10);
        assert!(TokenBatches::new(&p, TokenBatchSpec::new(4, 1)).is_err());
        let spec = TokenBatchSpec {
            rank: 2,
            world: 2,
            ..TokenBatchSpec::new(64, 1)
        };
        assert!(TokenBatches::new(&p, spec).is_err());
    }
}
