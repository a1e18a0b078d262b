//! The training segments of one device: its shard of the ordered train stream (rank r of
//! `world` takes its `batch` streams, as the official `create_batches`), cut into segments of
//! `unroll` tokens with shifted targets, from a resumable [`Cursor`]. The first segment of
//! every pass over the data is marked, so the step restarts the carried state there.

use burn::tensor::backend::Backend;
use sru_data::{Cursor, OrderedStream, Split, StreamSpec, TokenCache};

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::step::Segment;

/// A device's segments of the training split.
#[derive(Debug)]
pub struct TrainStream<'a> {
    stream: OrderedStream<'a>,
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
            stream: OrderedStream::new(cache, Split::Train, spec)?,
            cursor,
        })
    }

    /// The next segment as tensors on `device`; the cursor moves past it.
    pub fn next_segment<B: Backend>(&mut self, device: &B::Device) -> Segment<B> {
        let starts_pass = self
            .cursor
            .segment
            .is_multiple_of(self.stream.num_segments());
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
