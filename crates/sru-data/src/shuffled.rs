//! The shuffled-sentence stream of One Billion Word (spec §3.1, the official
//! `LMShuffledIterator`): sentences (runs `<S> … <S>` in the cache) are shuffled with a seed,
//! dealt round-robin to B parallel streams, each stream is the concatenation of its sentences,
//! and segments of L are cut from all streams in step, targets shifted by one. An epoch ends
//! when the shortest stream runs out; the next epoch reshuffles with `seed + epoch`.
//!
//! Departure from the official code, for exact resumption: the official iterator hands the
//! next sentence to whichever stream runs dry first; here stream b takes sentences b, b + B,
//! b + 2B, … of the permutation, so a [`Cursor`] (epoch, segment) alone fixes the position.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64;

use crate::batch::{Batch, Cursor, StreamSpec};
use crate::cache::{Split, TokenCache};
use crate::error::DataError;

/// Sentence-shuffled batches over one split.
#[derive(Debug)]
pub struct ShuffledSentences<'a> {
    cache: &'a TokenCache,
    split: Split,
    spec: StreamSpec,
    seed: u64,
    /// (start, length) of every sentence in the split.
    sentences: Vec<(u64, u32)>,
    /// This rank's stream plans of the epoch last asked for (a reshuffle costs O(sentences)).
    epoch_plans: std::sync::Mutex<Option<(u64, std::sync::Arc<Vec<StreamPlan>>)>>,
}

/// A stream of one epoch: its sentences and their cumulative end offsets.
#[derive(Debug)]
struct StreamPlan {
    sentences: Vec<(u64, u32)>,
    ends: Vec<u64>,
}

impl StreamPlan {
    fn len(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Copies stream positions `[from, from + out.len())` into `out`.
    fn read(&self, cache: &TokenCache, split: Split, from: u64, out: &mut [u32]) {
        let mut pos = from;
        let mut filled = 0;
        let mut k = self.ends.partition_point(|&e| e <= pos);
        while filled < out.len() {
            let (start, len) = self.sentences[k];
            let sent_start = self.ends[k] - len as u64;
            let within = pos - sent_start;
            let take = ((len as u64 - within) as usize).min(out.len() - filled);
            cache.read(split, start + within, &mut out[filled..filled + take]);
            filled += take;
            pos += take as u64;
            k += 1;
        }
    }
}

impl<'a> ShuffledSentences<'a> {
    /// Finds the sentences of `split` (each delimited by `boundary` on both sides, as
    /// `<S> … <S>`) and prepares the seeded stream.
    ///
    /// # Errors
    /// Invalid sizes, or fewer sentences than streams.
    pub fn new(
        cache: &'a TokenCache,
        split: Split,
        spec: StreamSpec,
        boundary: u32,
        seed: u64,
    ) -> Result<Self, DataError> {
        if spec.batch == 0 || spec.unroll == 0 || spec.world == 0 || spec.rank >= spec.world {
            return Err(DataError::Option {
                option: "stream spec",
                why: format!(
                    "batch, unroll and world must be positive and rank below world: {spec:?}"
                ),
            });
        }
        let n = cache.len(split);
        let mut sentences = Vec::new();
        let mut buf = vec![0u32; 1 << 16];
        let mut open: Option<u64> = None;
        let mut pos = 0u64;
        while pos < n {
            let take = ((n - pos) as usize).min(buf.len());
            cache.read(split, pos, &mut buf[..take]);
            for (i, &t) in buf[..take].iter().enumerate() {
                if t == boundary {
                    let p = pos + i as u64;
                    match open.take() {
                        Some(s) => sentences.push((s, (p - s + 1) as u32)),
                        None => open = Some(p),
                    }
                }
            }
            pos += take as u64;
        }
        let streams = spec.batch * spec.world;
        if sentences.len() < streams {
            return Err(DataError::SplitTooSmall {
                split: split.name().into(),
                tokens: n,
                needed: streams as u64,
                batch: streams,
            });
        }
        Ok(Self {
            cache,
            split,
            spec,
            seed,
            sentences,
            epoch_plans: std::sync::Mutex::new(None),
        })
    }

    /// Sentences found.
    pub fn num_sentences(&self) -> usize {
        self.sentences.len()
    }

    /// This rank's B stream plans for `epoch`: one seeded shuffle, dealt round-robin.
    fn plans(&self, epoch: u64) -> std::sync::Arc<Vec<StreamPlan>> {
        let mut cached = self.epoch_plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((e, plans)) = cached.as_ref()
            && *e == epoch
        {
            return plans.clone();
        }
        let mut order: Vec<u32> = (0..self.sentences.len() as u32).collect();
        order.shuffle(&mut Pcg64::seed_from_u64(self.seed.wrapping_add(epoch)));
        let streams = self.spec.batch * self.spec.world;
        let plans: Vec<StreamPlan> = (0..self.spec.batch)
            .map(|col| {
                let stream = self.spec.rank * self.spec.batch + col;
                let sentences: Vec<(u64, u32)> = order
                    .iter()
                    .skip(stream)
                    .step_by(streams)
                    .map(|&k| self.sentences[k as usize])
                    .collect();
                let mut acc = 0u64;
                let ends = sentences
                    .iter()
                    .map(|&(_, l)| {
                        acc += l as u64;
                        acc
                    })
                    .collect();
                StreamPlan { sentences, ends }
            })
            .collect();
        let plans = std::sync::Arc::new(plans);
        *cached = Some((epoch, plans.clone()));
        plans
    }

    /// The batch at `cursor` and the cursor after it.
    pub fn next(&self, cursor: Cursor) -> (Batch, Cursor) {
        let b = self.spec.batch;
        let plans = self.plans(cursor.epoch);
        let shortest = plans.iter().map(StreamPlan::len).min().unwrap_or(0);
        let segments = (shortest.saturating_sub(1))
            .div_ceil(self.spec.unroll as u64)
            .max(1);
        let seg = cursor.segment.min(segments - 1);
        let start = seg * self.spec.unroll as u64;
        let len = (self.spec.unroll as u64)
            .min(shortest.saturating_sub(1 + start))
            .max(1) as usize;
        let mut inputs = vec![0u32; len * b];
        let mut targets = vec![0u32; len * b];
        let mut run = vec![0u32; len + 1];
        for (col, plan) in plans.iter().enumerate() {
            plan.read(self.cache, self.split, start, &mut run);
            for t in 0..len {
                inputs[t * b + col] = run[t];
                targets[t * b + col] = run[t + 1];
            }
        }
        let next = Cursor {
            segment: seg,
            epoch: cursor.epoch,
        }
        .advance(segments);
        (
            Batch {
                inputs,
                targets,
                len,
                batch: b,
            },
            next,
        )
    }
}
