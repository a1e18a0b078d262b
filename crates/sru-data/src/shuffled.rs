//! The sentence stream of One Billion Word, as the official `LMShuffledIterator.stream_iterator`
//! (`data_utils.py`, asappresearch/sru 3.0.0-dev) reads it.
//!
//! A split of a [`StreamLayout::Sentences`] cache is `<S> w… <S> w… <S> …`: sentence k is the
//! run `[b_k, b_{k+1}]` between two consecutive boundaries (the official `<S> w… <S>`). Each of
//! the B streams holds the rest of its current sentence; filling a batch of L steps, stream
//! i = 0, 1, … takes `n = min(len − 1, L − filled)` tokens as inputs and the same shifted by
//! one as targets, keeps the last token it took, and pulls the next sentence of the pass when
//! one token is left, so the trailing `<S>` of a sentence is only a target and the next
//! sentence starts with its own. A pass ends at the first batch that cannot be filled (that
//! batch is dropped, as the official iterator drops it), and the next pass starts with fresh
//! streams.
//!
//! - Training ([`SentenceOrder::Shuffled`]): every pass draws a new permutation of the
//!   sentences from `(seed, pass)` (PCG-64), as the official loop reshuffles each shard it
//!   reads; rank r of `world` reads the sentences at positions r, r + world, … of it (the
//!   official script shards by file instead). All ranks stop a pass together, after the number
//!   of batches the shortest rank can fill.
//! - Evaluation ([`SentenceOrder::InOrder`]): the sentences in file order, one pass, as the
//!   official `get_iterator('valid' | 'test')`.
//!
//! The position is a [`Cursor`] (pass, batch): the streams' state at a cursor is rebuilt by
//! replaying the pass's sentence lengths (no tokens are read), and kept between consecutive
//! calls, so a resumed run reads exactly the batches an uninterrupted one would.

use std::sync::{Arc, Mutex};

use rand::seq::SliceRandom;
use rand_pcg::Pcg64;

use crate::batch::{Batch, Cursor, StreamSpec};
use crate::cache::{Split, StreamLayout, TokenCache};
use crate::error::DataError;

/// In which order a pass reads the sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentenceOrder {
    /// A new seeded permutation every pass (training).
    Shuffled {
        /// The run's data seed.
        seed: u64,
    },
    /// File order (validation and test).
    InOrder,
}

/// Batches of whole sentences over one split of a sentence corpus.
#[derive(Debug)]
pub struct ShuffledSentences<'a> {
    cache: &'a TokenCache,
    split: Split,
    spec: StreamSpec,
    order: SentenceOrder,
    /// Positions of the boundary tokens; sentence k is `[bounds[k], bounds[k + 1]]`.
    bounds: Vec<u64>,
    /// The pass last asked for.
    plan: Mutex<Option<Arc<PassPlan>>>,
    /// The streams after the batch last read: (pass, next batch, streams).
    live: Mutex<Option<(u64, u64, Dealer)>>,
}

/// One pass of this rank: its sentences in reading order, and the batches all ranks fill.
#[derive(Debug)]
struct PassPlan {
    pass: u64,
    sentences: Vec<u32>,
    batches: u64,
}

/// A piece of a stream's column: `n` inputs from token `start` of the split, targets shifted.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: u64,
    n: usize,
}

/// The B streams of one rank: the next sentence to pull and each stream's (sentence, offset).
#[derive(Debug, Clone)]
struct Dealer {
    next: usize,
    streams: Vec<Option<(u32, u64)>>,
}

impl Dealer {
    fn new(batch: usize) -> Self {
        Self {
            next: 0,
            streams: vec![None; batch],
        }
    }

    /// Fills one batch of `unroll` steps from `sentences`, recording the pieces of every column
    /// when `out` is given; false when the pass runs out of sentences first.
    fn fill(
        &mut self,
        sentences: &[u32],
        bounds: &[u64],
        unroll: usize,
        mut out: Option<&mut Vec<Vec<Piece>>>,
    ) -> bool {
        for (i, stream) in self.streams.iter_mut().enumerate() {
            let mut filled = 0;
            while filled < unroll {
                let remaining = |s: &Option<(u32, u64)>| {
                    s.map_or(0, |(k, off)| {
                        bounds[k as usize + 1] - bounds[k as usize] + 1 - off
                    })
                };
                if remaining(stream) <= 1 {
                    let Some(&k) = sentences.get(self.next) else {
                        return false;
                    };
                    self.next += 1;
                    *stream = Some((k, 0));
                }
                let n = ((remaining(stream) - 1) as usize).min(unroll - filled);
                if let (Some(out), Some((k, off))) = (out.as_deref_mut(), *stream) {
                    out[i].push(Piece {
                        start: bounds[k as usize] + off,
                        n,
                    });
                }
                if let Some((_, off)) = stream.as_mut() {
                    *off += n as u64;
                }
                filled += n;
            }
        }
        true
    }
}

impl<'a> ShuffledSentences<'a> {
    /// The sentence batches of `split` of a [`StreamLayout::Sentences`] cache under `spec`,
    /// read in `order`.
    ///
    /// # Errors
    /// [`DataError::Option`] for zero sizes, `rank ≥ world`, a contiguous cache, a split that
    /// does not start with the boundary, or too few sentences for one batch per rank.
    pub fn new(
        cache: &'a TokenCache,
        split: Split,
        spec: StreamSpec,
        order: SentenceOrder,
    ) -> Result<Self, DataError> {
        if spec.batch == 0 || spec.unroll == 0 || spec.world == 0 || spec.rank >= spec.world {
            return Err(DataError::Option {
                option: "stream spec",
                why: format!(
                    "batch, unroll and world must be positive and rank below world: {spec:?}"
                ),
            });
        }
        let StreamLayout::Sentences { boundary } = cache.layout() else {
            return Err(DataError::Option {
                option: "stream layout",
                why: format!(
                    "{} holds running text, not sentences; read it as an OrderedStream",
                    cache.path().display()
                ),
            });
        };
        let n = cache.len(split);
        let mut bounds = Vec::new();
        let mut buf = vec![0u32; 1 << 16];
        let mut pos = 0u64;
        while pos < n {
            let take = ((n - pos) as usize).min(buf.len());
            cache.read(split, pos, &mut buf[..take]);
            bounds.extend(
                buf[..take]
                    .iter()
                    .enumerate()
                    .filter(|&(_, &t)| t == boundary)
                    .map(|(i, _)| pos + i as u64),
            );
            pos += take as u64;
        }
        if n > 0 && bounds.first() != Some(&0) {
            return Err(DataError::Option {
                option: "stream layout",
                why: format!(
                    "split `{}` of {} does not start with the sentence boundary",
                    split.name(),
                    cache.path().display()
                ),
            });
        }
        let s = Self {
            cache,
            split,
            spec,
            order,
            bounds,
            plan: Mutex::new(None),
            live: Mutex::new(None),
        };
        if s.num_segments(0) == 0 {
            return Err(DataError::Option {
                option: "batch",
                why: format!(
                    "split `{}` has {} sentences ({n} tokens), too few for one batch of {} \
                     streams × {} steps on each of {} ranks",
                    split.name(),
                    s.num_sentences(),
                    spec.batch,
                    spec.unroll,
                    spec.world
                ),
            });
        }
        Ok(s)
    }

    /// Sentences in the split.
    pub fn num_sentences(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    /// Batches in pass `pass` (every rank reads this many).
    pub fn num_segments(&self, pass: u64) -> u64 {
        self.plan(pass).batches
    }

    /// Predicted tokens in pass `pass` for this rank (every batch is full: L × B).
    pub fn tokens_per_pass(&self, pass: u64) -> u64 {
        self.num_segments(pass) * (self.spec.unroll * self.spec.batch) as u64
    }

    /// The sentence order of pass `pass`, this rank's share, and the batches of the pass.
    fn plan(&self, pass: u64) -> Arc<PassPlan> {
        let mut cached = self.plan.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = cached.as_ref()
            && p.pass == pass
        {
            return p.clone();
        }
        let mut order: Vec<u32> = (0..self.num_sentences() as u32).collect();
        if let SentenceOrder::Shuffled { seed } = self.order {
            order.shuffle(&mut Pcg64::new(u128::from(seed), u128::from(pass)));
        }
        let world = self.spec.world;
        let share =
            |r: usize| -> Vec<u32> { order.iter().skip(r).step_by(world).copied().collect() };
        let batches = (0..world)
            .map(|r| {
                let sentences = share(r);
                let mut dealer = Dealer::new(self.spec.batch);
                let mut filled = 0u64;
                while dealer.fill(&sentences, &self.bounds, self.spec.unroll, None) {
                    filled += 1;
                }
                filled
            })
            .min()
            .unwrap_or(0);
        let plan = Arc::new(PassPlan {
            pass,
            sentences: share(self.spec.rank),
            batches,
        });
        *cached = Some(plan.clone());
        plan
    }

    /// The batch at `cursor` and the cursor after it (a cursor past the end of its pass reads
    /// the first batch of the next).
    pub fn next(&self, cursor: Cursor) -> (Batch, Cursor) {
        let mut plan = self.plan(cursor.epoch);
        let mut at = cursor;
        if at.segment >= plan.batches {
            at = Cursor {
                segment: 0,
                epoch: at.epoch + 1,
            };
            plan = self.plan(at.epoch);
        }
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let mut dealer = match live.take() {
            Some((pass, next, dealer)) if pass == at.epoch && next == at.segment => dealer,
            _ => {
                let mut d = Dealer::new(self.spec.batch);
                for _ in 0..at.segment {
                    d.fill(&plan.sentences, &self.bounds, self.spec.unroll, None);
                }
                d
            }
        };
        let (b, l) = (self.spec.batch, self.spec.unroll);
        let mut pieces = vec![Vec::new(); b];
        dealer.fill(&plan.sentences, &self.bounds, l, Some(&mut pieces));
        *live = Some((at.epoch, at.segment + 1, dealer));
        let mut inputs = vec![0u32; l * b];
        let mut targets = vec![0u32; l * b];
        let mut run = Vec::with_capacity(l + 1);
        for (col, column) in pieces.iter().enumerate() {
            let mut t = 0;
            for p in column {
                run.resize(p.n + 1, 0);
                self.cache.read(self.split, p.start, &mut run);
                for j in 0..p.n {
                    inputs[(t + j) * b + col] = run[j];
                    targets[(t + j) * b + col] = run[j + 1];
                }
                t += p.n;
            }
        }
        (
            Batch {
                inputs,
                targets,
                len: l,
                batch: b,
            },
            at.advance(plan.batches),
        )
    }
}
