//! Ordered stream batching (spec §3.2, the official `create_batches` /
//! `DistributedLMOrderedIterator`): a split of N tokens is cut into `batch · world` contiguous
//! streams of `N / (batch · world)` tokens; rank r reads streams `[r·batch, (r+1)·batch)`.
//! Segment i covers stream positions `[i·L, i·L + l)` as inputs and one position later as
//! targets, with `l = min(L, len - 1 - i·L)` (the last segment may be shorter).
//!
//! The position is a [`Cursor`] (a segment index), so a resumed run reads exactly the batch
//! it would have read next. Batches are time-major `(l, batch)`, as the model expects.

use serde::{Deserialize, Serialize};

use crate::cache::{Split, TokenCache};
use crate::error::DataError;

/// Shape and sharding of an ordered stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSpec {
    /// Streams per rank (B).
    pub batch: usize,
    /// Segment length (L, `unroll_size`).
    pub unroll: usize,
    /// This process's rank.
    pub rank: usize,
    /// Number of ranks.
    pub world: usize,
}

impl StreamSpec {
    /// A single-process spec.
    pub fn new(batch: usize, unroll: usize) -> Self {
        Self {
            batch,
            unroll,
            rank: 0,
            world: 1,
        }
    }
}

/// Where an ordered stream is: the index of the next segment. Serialisable into checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cursor {
    /// Next segment.
    pub segment: u64,
    /// Completed passes over the split (epochs).
    pub epoch: u64,
}

impl Cursor {
    /// The cursor after this one in a pass of `segments` segments (wrapping to the next epoch).
    pub fn advance(self, segments: u64) -> Cursor {
        if self.segment + 1 >= segments {
            Cursor {
                segment: 0,
                epoch: self.epoch + 1,
            }
        } else {
            Cursor {
                segment: self.segment + 1,
                epoch: self.epoch,
            }
        }
    }
}

/// One batch: inputs and targets `(len, batch)` time-major, row-major in `Vec`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Input ids, `len · batch` values, index `t · batch + b`.
    pub inputs: Vec<u32>,
    /// Target ids (the next token of each input).
    pub targets: Vec<u32>,
    /// Time steps in this batch (≤ unroll).
    pub len: usize,
    /// Streams B.
    pub batch: usize,
}

/// Ordered batches over one split of a cache.
#[derive(Debug)]
pub struct OrderedStream<'a> {
    cache: &'a TokenCache,
    split: Split,
    spec: StreamSpec,
    stream_len: u64,
}

impl<'a> OrderedStream<'a> {
    /// Batches of `split` under `spec`.
    ///
    /// # Errors
    /// [`DataError::Option`] for zero sizes or rank ≥ world; [`DataError::SplitTooSmall`] when
    /// each stream would hold fewer than two tokens.
    pub fn new(cache: &'a TokenCache, split: Split, spec: StreamSpec) -> Result<Self, DataError> {
        if spec.batch == 0 || spec.unroll == 0 || spec.world == 0 {
            return Err(DataError::Option {
                option: "stream spec",
                why: format!("batch, unroll and world must be positive: {spec:?}"),
            });
        }
        if spec.rank >= spec.world {
            return Err(DataError::Option {
                option: "rank",
                why: format!("rank {} is not below world {}", spec.rank, spec.world),
            });
        }
        let streams = (spec.batch * spec.world) as u64;
        let n = cache.len(split);
        let stream_len = n / streams;
        if stream_len < 2 {
            return Err(DataError::SplitTooSmall {
                split: split.name().into(),
                tokens: n,
                needed: 2 * streams,
                batch: spec.batch * spec.world,
            });
        }
        Ok(Self {
            cache,
            split,
            spec,
            stream_len,
        })
    }

    /// Tokens per stream.
    pub fn stream_len(&self) -> u64 {
        self.stream_len
    }

    /// Segments in one pass.
    pub fn num_segments(&self) -> u64 {
        (self.stream_len - 1).div_ceil(self.spec.unroll as u64)
    }

    /// Predicted tokens in one pass for this rank.
    pub fn tokens_per_pass(&self) -> u64 {
        (self.stream_len - 1) * self.spec.batch as u64
    }

    /// The batch of segment `i` (`i < num_segments()`).
    pub fn segment(&self, i: u64) -> Batch {
        let b = self.spec.batch;
        let start = i * self.spec.unroll as u64;
        let len = (self.spec.unroll as u64).min(self.stream_len - 1 - start) as usize;
        let mut inputs = vec![0u32; len * b];
        let mut targets = vec![0u32; len * b];
        let mut run = vec![0u32; len + 1];
        for col in 0..b {
            let stream = (self.spec.rank * b + col) as u64;
            self.cache
                .read(self.split, stream * self.stream_len + start, &mut run);
            for t in 0..len {
                inputs[t * b + col] = run[t];
                targets[t * b + col] = run[t + 1];
            }
        }
        Batch {
            inputs,
            targets,
            len,
            batch: b,
        }
    }

    /// The batch at `cursor` and the cursor after it (wrapping to the next epoch).
    pub fn next(&self, cursor: Cursor) -> (Batch, Cursor) {
        let seg = cursor.segment % self.num_segments();
        let batch = self.segment(seg);
        let next = Cursor {
            segment: seg,
            epoch: cursor.epoch,
        }
        .advance(self.num_segments());
        (batch, next)
    }

    /// One pass from the start: every segment in order.
    pub fn iter(&self) -> impl Iterator<Item = Batch> + '_ {
        (0..self.num_segments()).map(move |i| self.segment(i))
    }
}
