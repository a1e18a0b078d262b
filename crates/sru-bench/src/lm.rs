//! The language-model workloads: a training step and an inference step of the byte-level
//! SRU++ LM at any size. The training step is sru-train's own [`TrainStep`] under the
//! official recipe (RAdam, weight decay 0.1, clipping at 1.0, the precision policy of
//! `cargo xtask train`), so a benchmark times exactly what training runs; only the tokens
//! differ: a fixed synthetic segment (or, for checking that claim, a real corpus stream).
//! The inference step scores a segment as evaluation does ([`score_segment`]), carrying the
//! state, without autodiff. `cargo xtask bench train-step`, the criterion bench `train_step`,
//! `cargo xtask gpu-check` and the side-by-side harness in `benches/compare/` all time these.

use std::path::PathBuf;

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use sru_kernel::RecurrenceBackend;
use sru_model::{LanguageModel, LmState, ModelConfig, SruppLmConfig};
use sru_train::{
    Precision, Segment, TrainConfig, TrainError, TrainStep, TrainStream, TrainingBackend,
    score_segment,
};

/// The size of a byte-level LM workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LmShape {
    /// Width d.
    pub d: usize,
    /// Attention / projection width d'.
    pub proj: usize,
    /// Layers (all with attention).
    pub layers: usize,
    /// Segment length L.
    pub unroll: usize,
    /// Streams B.
    pub batch: usize,
    /// Vocabulary.
    pub vocab: usize,
}

impl LmShape {
    /// The model: the official byte-level LM with dropout 0 (as the side-by-side harness runs
    /// the official code).
    pub fn model(&self) -> ModelConfig {
        SruppLmConfig {
            vocab_size: self.vocab,
            n_d: self.d,
            n_proj: self.proj,
            depth: self.layers,
            ..SruppLmConfig::default()
        }
        .into()
    }

    /// The training config: the official recipe around [`Self::model`] at this batch and
    /// unroll, in `precision`.
    pub fn train_config(&self, precision: Precision) -> TrainConfig {
        let mut c = TrainConfig::official(self.model(), PathBuf::new());
        c.batch_size = self.batch;
        c.unroll = self.unroll;
        c.precision = precision;
        c
    }

    /// Tokens per step, L·B.
    pub fn tokens(&self) -> usize {
        self.unroll * self.batch
    }

    /// Model FLOPs per token of a training step: 6 × non-embedding parameters (forward 2,
    /// backward 4 per weight) plus the attention scores and weighted sums,
    /// 3 × 2 × 2 × d' × (memory + L) / 2 on average over positions with memory L.
    pub fn train_flops_per_token(&self) -> f64 {
        let c = self.model();
        let non_embedding = c.num_params() - self.vocab * self.d;
        let attn = 3.0 * 4.0 * self.proj as f64 * (self.unroll as f64 * 1.5) * self.layers as f64;
        6.0 * non_embedding as f64 + attn
    }

    /// A short label.
    pub fn label(&self) -> String {
        format!(
            "d{} p{} n{} L{} B{}",
            self.d, self.proj, self.layers, self.unroll, self.batch
        )
    }
}

/// A fixed pseudo-random segment of `batch` streams of `unroll` tokens below `vocab`, the
/// targets shifted by one.
pub fn synthetic_segment<B: Backend>(
    unroll: usize,
    batch: usize,
    vocab: usize,
    seed: u64,
    device: &B::Device,
) -> Segment<B> {
    let mut rng = Pcg64::seed_from_u64(seed);
    let n = (unroll + 1) * batch;
    let stream: Vec<i64> = (0..n).map(|_| rng.random_range(0..vocab as i64)).collect();
    let make = |off: usize| {
        Tensor::<B, 2, Int>::from_data(
            TensorData::new(stream[off..off + unroll * batch].to_vec(), [unroll, batch]),
            device,
        )
    };
    Segment {
        tokens: make(0),
        targets: make(batch),
        starts_pass: false,
    }
}

/// Where a training benchmark's segments come from.
#[derive(Debug)]
pub enum Tokens<'a, B: Backend> {
    /// The same synthetic segment every update (the state is still carried).
    Synthetic(Segment<B>),
    /// A corpus, read as `cargo xtask train` reads it.
    Corpus(TrainStream<'a>),
}

/// A training step, repeated: sru-train's [`TrainStep`] with its model, optimizer and
/// carried state persisting between updates.
pub struct TrainBench<'a, B: TrainingBackend> {
    step: TrainStep<B>,
    tokens: Tokens<'a, B>,
}

impl<'a, B: TrainingBackend> TrainBench<'a, B> {
    /// The step of `config` (a fresh run, one device) fed from `tokens`.
    ///
    /// # Errors
    /// An invalid config.
    pub fn new(
        config: &TrainConfig,
        tokens: Tokens<'a, B>,
        device: B::Device,
    ) -> Result<Self, TrainError> {
        Ok(Self {
            step: TrainStep::new(config, device)?,
            tokens,
        })
    }

    /// The step of `shape` in `precision` on synthetic tokens.
    ///
    /// # Errors
    /// An invalid shape.
    pub fn synthetic(
        shape: &LmShape,
        precision: Precision,
        device: B::Device,
    ) -> Result<Self, TrainError> {
        let segment = synthetic_segment(shape.unroll, shape.batch, shape.vocab, 7, &device);
        Self::new(
            &shape.train_config(precision),
            Tokens::Synthetic(segment),
            device,
        )
    }

    /// One update; returns its mean loss (read back, so the step has finished on the device).
    ///
    /// # Errors
    /// Model errors; a non-finite loss.
    pub fn step(&mut self) -> Result<f64, TrainError> {
        let device = self.step.device().clone();
        let tokens = &mut self.tokens;
        let mut next = || {
            Ok(match tokens {
                Tokens::Synthetic(s) => s.clone(),
                Tokens::Corpus(stream) => stream.next_segment::<B>(&device),
            })
        };
        Ok(self.step.update(&mut next, false)?.loss)
    }
}

/// An inference (scoring) step, repeated, with the state carried and the evaluation mask.
pub struct InferBench<B: RecurrenceBackend> {
    model: LanguageModel<B>,
    state: Option<LmState<B>>,
    segment: Segment<B>,
    window: usize,
}

impl<B: RecurrenceBackend> InferBench<B> {
    /// A freshly initialised model of `shape` on synthetic tokens.
    ///
    /// # Errors
    /// An invalid shape.
    pub fn new(shape: &LmShape, device: &B::Device) -> Result<Self, TrainError> {
        B::seed(device, 1234);
        let model = shape.model().init::<B>(device)?;
        Ok(Self::with_model(model, shape, device))
    }

    fn with_model(model: LanguageModel<B>, shape: &LmShape, device: &B::Device) -> Self {
        Self {
            model,
            state: None,
            segment: synthetic_segment(shape.unroll, shape.batch, shape.vocab, 7, device),
            window: shape.unroll,
        }
    }

    /// One step; returns the summed NLL (read back).
    ///
    /// # Errors
    /// Model errors.
    pub fn step(&mut self) -> Result<f64, TrainError> {
        let s = &self.segment;
        let (nll, state) = score_segment(
            &self.model,
            s.tokens.clone(),
            s.targets.clone(),
            self.state.take(),
            self.window,
        )?;
        self.state = Some(state);
        Ok(nll)
    }
}
