//! Language-model workloads: one training step (forward, backward, RAdam update, with the
//! state and attention memory carried as in training) and one inference step (scoring a
//! segment without autodiff under the evaluation mask) of the byte-level SRU++ LM, at any
//! size. `cargo xtask bench train-step`, the criterion bench `train_step` and the side-by-side
//! harness in `benches/compare/` all time these.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::{DType, ElementConversion, Int, Tensor, TensorData};
use sru_kernel::{RecurrenceAutodiffBackend, RecurrenceBackend};
use sru_model::{LanguageModel, LmConfig, SruppState};
use sru_train::adam::{Adam, AdamConfig};
use sru_train::precision::cast_params;

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
    /// The model: the official byte-level LM with dropout 0.
    pub fn config(&self) -> LmConfig {
        LmConfig {
            vocab_size: self.vocab,
            n_d: self.d,
            n_proj: self.proj,
            depth: self.layers,
            ..LmConfig::default()
        }
    }

    /// Tokens per step, L·B.
    pub fn tokens(&self) -> usize {
        self.unroll * self.batch
    }

    /// Model FLOPs per token of a training step: 6 × non-embedding parameters (forward 2,
    /// backward 4 per weight) plus the attention scores and weighted sums,
    /// 3 × 2 × 2 × d' × (memory + L) / 2 on average over positions with memory L.
    pub fn train_flops_per_token(&self) -> f64 {
        let c = self.config();
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

fn tokens<B: burn::tensor::backend::Backend>(
    shape: &LmShape,
    seed: u64,
    device: &B::Device,
) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
    // A fixed pseudo-random byte stream (splitmix64), shifted for the targets.
    let n = shape.tokens() + shape.batch;
    let mut z = seed;
    let stream: Vec<i64> = (0..n)
        .map(|_| {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((x ^ (x >> 31)) % shape.vocab as u64) as i64
        })
        .collect();
    let make = |off: usize| {
        Tensor::from_data(
            TensorData::new(
                stream[off..off + shape.tokens()].to_vec(),
                [shape.unroll, shape.batch],
            ),
            device,
        )
    };
    (make(0), make(shape.batch))
}

/// A training step, repeated: the model, its optimizer and the carried state persist.
pub struct TrainStep<B: RecurrenceAutodiffBackend> {
    model: Option<LanguageModel<B>>,
    optim: OptimizerAdaptor<Adam, LanguageModel<B>, B>,
    state: Option<SruppState<B>>,
    x: Tensor<B, 2, Int>,
    y: Tensor<B, 2, Int>,
}

impl<B: RecurrenceAutodiffBackend> TrainStep<B> {
    /// Builds the model and data on `device`.
    ///
    /// # Errors
    /// An invalid shape.
    pub fn new(shape: &LmShape, device: &B::Device) -> Result<Self, sru_model::ModelError> {
        Self::with_dtype(shape, device, DType::F32)
    }

    /// Builds the model with parameters (and so activations) in `dtype`; the loss, the
    /// optimizer moments and master weights stay in f32 (sru-train's precision policy).
    ///
    /// # Errors
    /// An invalid shape.
    pub fn with_dtype(
        shape: &LmShape,
        device: &B::Device,
        dtype: DType,
    ) -> Result<Self, sru_model::ModelError> {
        B::seed(device, 1234);
        let model = cast_params(shape.config().init::<B>(device)?, dtype);
        let optim = AdamConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.1,
            rectified: true,
        }
        .init::<B, LanguageModel<B>>();
        let (x, y) = tokens::<B>(shape, 7, device);
        Ok(Self {
            model: Some(model),
            optim,
            state: None,
            x,
            y,
        })
    }

    /// One step; returns the loss (read back, so the step has finished on the device).
    ///
    /// # Errors
    /// Model errors.
    pub fn step(&mut self) -> Result<f64, sru_model::ModelError> {
        let model = self.model.take().expect("model present between steps");
        let (loss, state) = model.loss(self.x.clone(), self.y.clone(), self.state.take(), None)?;
        self.state = Some(state.detach());
        let value = f64::from(loss.clone().into_scalar().elem::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optim.step(3e-4, model, grads));
        Ok(value)
    }
}

/// An inference (scoring) step, repeated, with the state carried and the evaluation mask.
pub struct InferStep<B: RecurrenceBackend> {
    model: LanguageModel<B>,
    state: Option<SruppState<B>>,
    x: Tensor<B, 2, Int>,
    y: Tensor<B, 2, Int>,
    window: usize,
}

impl<B: RecurrenceBackend> InferStep<B> {
    /// Builds the model and data on `device`.
    ///
    /// # Errors
    /// An invalid shape.
    pub fn new(shape: &LmShape, device: &B::Device) -> Result<Self, sru_model::ModelError> {
        B::seed(device, 1234);
        let model = shape.config().init::<B>(device)?;
        let (x, y) = tokens::<B>(shape, 7, device);
        Ok(Self {
            model,
            state: None,
            x,
            y,
            window: shape.unroll,
        })
    }

    /// The inference model of a training model.
    pub fn from_model<A: RecurrenceAutodiffBackend<InnerBackend = B>>(
        model: &LanguageModel<A>,
        shape: &LmShape,
        device: &B::Device,
    ) -> Self {
        let (x, y) = tokens::<B>(shape, 7, device);
        Self {
            model: model.valid(),
            state: None,
            x,
            y,
            window: shape.unroll,
        }
    }

    /// One step; returns the summed NLL (read back).
    ///
    /// # Errors
    /// Model errors.
    pub fn step(&mut self) -> Result<f64, sru_model::ModelError> {
        let out =
            self.model
                .forward_hidden(self.x.clone(), self.state.take(), Some(self.window))?;
        self.state = Some(out.state);
        let nll = self.model.token_nll(out.hidden, self.y.clone()).sum();
        Ok(f64::from(nll.into_scalar().elem::<f32>()))
    }
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
