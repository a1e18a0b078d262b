//! The training segments of one device, read as the corpus's recorded layout says
//! ([`Batches`]): running text as its shard of the ordered train stream (rank r of `world`
//! takes its `batch` streams, as the official `create_batches`), sentences (One Billion Word)
//! dealt whole to the streams and reshuffled every pass from the run's seed, as the official
//! `LMShuffledIterator`; segments of `unroll` tokens with shifted targets, from a resumable
//! [`Cursor`]. For running text the first segment of every pass is marked, so the step
//! restarts the carried state there; the official Billion Word loop never resets it.

use burn::tensor::backend::Backend;
use sru_data::{Batches, Cursor, StreamSpec, TokenCache};

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::step::Segment;

/// A device's segments of the training split.
#[derive(Debug)]
pub struct TrainStream<'a> {
    stream: Batches<'a>,
    cursor: Cursor,
}

impl<'a> TrainStream<'a> {
    /// The segments of device `rank` of `world` under `config`'s batch and unroll, from
    /// `cursor`.
    ///
    /// # Errors
    /// A training split too small for the batch; `rank ≥ world`.
    pub fn new(
        cache: &'a TokenCache,
        config: &TrainConfig,
        rank: usize,
        world: usize,
        cursor: Cursor,
    ) -> Result<Self, TrainError> {
        let spec = StreamSpec {
            batch: config.batch_size,
            unroll: config.unroll,
            rank,
            world,
        };
        Ok(Self {
            stream: Batches::train(cache, spec, config.seed)?,
            cursor,
        })
    }

    /// The next segment as tensors on `device`; the cursor moves past it.
    pub fn next_segment<B: Backend>(&mut self, device: &B::Device) -> Segment<B> {
        let starts_pass = self.stream.restarts_state_each_pass()
            && self
                .cursor
                .segment
                .is_multiple_of(self.stream.num_segments(self.cursor.epoch));
        let (batch, next) = self.stream.next(self.cursor);
        self.cursor = next;
        let (tokens, targets) = batch.to_tensors::<B>(device);
        Segment {
            tokens,
            targets,
            starts_pass,
        }
    }

    /// Where the next segment starts (saved in checkpoints).
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }
}
