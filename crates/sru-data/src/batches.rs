//! The batches of a split as the corpus's recorded [`StreamLayout`] says to read them:
//! contiguous text as B ordered streams ([`OrderedStream`]), sentences as whole sentences
//! dealt to B streams ([`ShuffledSentences`], shuffled every pass for training, in order for
//! evaluation). Training and evaluation use this, so no flag has to name the stream kind.

use crate::batch::{Batch, Cursor, OrderedStream, StreamSpec};
use crate::cache::{Split, StreamLayout, TokenCache};
use crate::error::DataError;
use crate::shuffled::{SentenceOrder, ShuffledSentences};

/// Batches of one split, of either stream kind.
#[derive(Debug)]
pub enum Batches<'a> {
    /// Running text.
    Ordered(OrderedStream<'a>),
    /// Sentences.
    Sentences(ShuffledSentences<'a>),
}

impl<'a> Batches<'a> {
    /// The training batches of `cache` under `spec`; sentences are reshuffled every pass from
    /// `seed`.
    ///
    /// # Errors
    /// Invalid sizes; a split too small for one batch.
    pub fn train(cache: &'a TokenCache, spec: StreamSpec, seed: u64) -> Result<Self, DataError> {
        Self::new(cache, Split::Train, spec, SentenceOrder::Shuffled { seed })
    }

    /// The evaluation batches of `split` (sentences in file order).
    ///
    /// # Errors
    /// Invalid sizes; a split too small for one batch.
    pub fn eval(cache: &'a TokenCache, split: Split, spec: StreamSpec) -> Result<Self, DataError> {
        Self::new(cache, split, spec, SentenceOrder::InOrder)
    }

    fn new(
        cache: &'a TokenCache,
        split: Split,
        spec: StreamSpec,
        order: SentenceOrder,
    ) -> Result<Self, DataError> {
        Ok(match cache.layout() {
            StreamLayout::Contiguous => Batches::Ordered(OrderedStream::new(cache, split, spec)?),
            StreamLayout::Sentences { .. } => {
                Batches::Sentences(ShuffledSentences::new(cache, split, spec, order)?)
            }
        })
    }

    /// The batch at `cursor` and the cursor after it.
    pub fn next(&self, cursor: Cursor) -> (Batch, Cursor) {
        match self {
            Batches::Ordered(s) => s.next(cursor),
            Batches::Sentences(s) => s.next(cursor),
        }
    }

    /// Batches in pass `pass`.
    pub fn num_segments(&self, pass: u64) -> u64 {
        match self {
            Batches::Ordered(s) => s.num_segments(),
            Batches::Sentences(s) => s.num_segments(pass),
        }
    }

    /// Targets this rank reads in pass `pass`.
    pub fn tokens_per_pass(&self, pass: u64) -> u64 {
        match self {
            Batches::Ordered(s) => s.tokens_per_pass(),
            Batches::Sentences(s) => s.tokens_per_pass(pass),
        }
    }

    /// Whether a model's carried state should restart with every pass: yes for running text
    /// (each pass re-reads the same streams from their start), no for sentences (the official
    /// loop carries it on; the sentences are independent anyway).
    pub fn restarts_state_each_pass(&self) -> bool {
        matches!(self, Batches::Ordered(_))
    }

    /// One pass from the start, every batch in order (evaluation).
    pub fn pass(&self) -> impl Iterator<Item = Batch> + '_ {
        let n = self.num_segments(0);
        let mut cursor = Cursor::default();
        (0..n).map(move |_| {
            let (b, next) = self.next(cursor);
            cursor = next;
            b
        })
    }
}
