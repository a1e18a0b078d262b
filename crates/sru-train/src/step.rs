//! One update of the recipe (spec §3.3), the same for `train()`, the benchmarks and anything
//! else that times training: for each of `accumulate` segments, forward with the carried
//! (detached) state, the loss scaled by 1/accumulate (and by the f16 loss scale), backward,
//! gradients summed; then the gradients averaged over the data-parallel peers, unscaled,
//! clipped to the global norm ([`clip_global_norm`]), and the optimizer step at the schedule's
//! learning rate. The mean loss and a stop request are summed over the peers, so every peer
//! takes the same decisions.
//!
//! Dropout is reseeded before every segment from (seed, update, segment, peer), so the masks
//! do not depend on history and a resumed run draws the same ones.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsAccumulator, GradientsParams, Optimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Int, Tensor};
use rand::Rng;
use rand_pcg::Pcg64;
use sru_model::{Autocast, LanguageModel, LmState};

use crate::TrainingBackend;
use crate::adam::{Adam, AdamConfig};
use crate::clip::{clip_global_norm, scale};
use crate::config::{OptimizerKind, TrainConfig};
use crate::error::TrainError;
use crate::precision::LossScale;
use crate::schedule::LrSchedule;
use crate::sync::Peer;

/// The optimizer of a training step (RAdam or AdamW over the language model).
pub type Optim<B> = OptimizerAdaptor<Adam, LanguageModel<B>, B>;
/// Its state, as Burn records it.
pub type OptimRecord<B> = <Optim<B> as Optimizer<LanguageModel<B>, B>>::Record;

/// The optimizer `config` asks for, with no state yet.
pub fn optimizer<B: TrainingBackend>(config: &TrainConfig) -> Optim<B> {
    AdamConfig {
        beta1: config.beta1,
        beta2: config.beta2,
        eps: config.eps,
        weight_decay: config.weight_decay,
        rectified: config.optimizer == OptimizerKind::Radam,
    }
    .init::<B, LanguageModel<B>>()
}

/// The model a run starts from: initialised from `config.seed` on `device`, its parameters in
/// f32, computing under the run's precision ([`crate::Precision::autocast`]).
///
/// # Errors
/// An invalid model configuration.
pub fn initial_model<B: TrainingBackend>(
    config: &TrainConfig,
    device: &B::Device,
) -> Result<LanguageModel<B>, TrainError> {
    B::seed(device, config.seed);
    Ok(config
        .model
        .init::<B>(device)?
        .materialized()
        .with_autocast(config.precision.autocast()))
}

/// The seed of the random masks of one segment: a PCG-64 stream keyed by the run seed and the
/// position (update, segment within it, peer), so it depends on nothing else.
pub fn segment_seed(seed: u64, update: u64, segment: u64, peer: u64) -> u64 {
    let state = (u128::from(seed) << 64) | u128::from(update);
    let stream = (u128::from(segment) << 64) | u128::from(peer);
    Pcg64::new(state, stream).next_u64()
}

/// One training segment: `(L, B)` tokens and their targets.
#[derive(Debug, Clone)]
pub struct Segment<B: Backend> {
    /// Input tokens `(L, B)`.
    pub tokens: Tensor<B, 2, Int>,
    /// Target tokens `(L, B)` (the inputs shifted by one).
    pub targets: Tensor<B, 2, Int>,
    /// The segment opens a pass over the data: the carried state restarts from zero.
    pub starts_pass: bool,
}

/// What one update did; identical on every peer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateOutcome {
    /// Mean training loss over segments and peers (nats per token).
    pub loss: f64,
    /// Global gradient norm before clipping (unscaled).
    pub grad_norm: f64,
    /// Learning rate of the update.
    pub lr: f64,
    /// The optimizer stepped (false: an f16 overflow skipped the update).
    pub applied: bool,
    /// Some peer asked to stop after this update.
    pub stop: bool,
    /// Seconds this peer spent exchanging with the others (status sum and gradient
    /// all-reduce, waiting for the slowest peer included).
    pub exchange_seconds: f64,
}

/// Where a step continues from: the updates done, the loss scale and the carried state.
#[derive(Debug, Clone)]
pub struct StepState<B: Backend> {
    /// Completed updates.
    pub step: u64,
    /// The f16 loss scale (1 otherwise).
    pub loss_scale: LossScale,
    /// The recurrent state carried into the next segment.
    pub carry: Option<LmState<B>>,
}

/// The recipe's settings that one update reads.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Policy {
    accumulate: usize,
    clip_grad: f64,
    seed: u64,
    inject_nan_at_step: Option<u64>,
}

/// The training step of one peer: the model, its optimizer, the schedule, the carried state.
pub struct TrainStep<B: TrainingBackend> {
    /// Present except while the optimizer owns it inside `update`.
    model: Option<LanguageModel<B>>,
    optim: Optim<B>,
    schedule: LrSchedule,
    policy: Policy,
    state: StepState<B>,
    peer: Peer,
    device: B::Device,
}

impl<B: TrainingBackend> std::fmt::Debug for TrainStep<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainStep")
            .field("step", &self.state.step)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl<B: TrainingBackend> TrainStep<B> {
    /// The first update of a run on one device: [`initial_model`], a fresh optimizer, no
    /// carried state.
    ///
    /// # Errors
    /// An invalid configuration.
    pub fn new(config: &TrainConfig, device: B::Device) -> Result<Self, TrainError> {
        config.validate()?;
        let model = initial_model::<B>(config, &device)?;
        let state = StepState {
            step: 0,
            loss_scale: LossScale::for_precision(config.precision),
            carry: None,
        };
        Ok(Self::from_parts(
            config,
            model,
            optimizer::<B>(config),
            state,
            Peer::single(),
            device,
        ))
    }

    /// A step from its parts (a resumed run, or one peer of several).
    pub fn from_parts(
        config: &TrainConfig,
        model: LanguageModel<B>,
        optim: Optim<B>,
        state: StepState<B>,
        peer: Peer,
        device: B::Device,
    ) -> Self {
        Self {
            model: Some(model),
            optim,
            schedule: LrSchedule::of(config),
            policy: Policy {
                accumulate: config.accumulate,
                clip_grad: config.clip_grad,
                seed: config.seed,
                inject_nan_at_step: config.inject_nan_at_step,
            },
            state,
            peer,
            device,
        }
    }

    /// The model (between updates).
    pub fn model(&self) -> &LanguageModel<B> {
        self.model
            .as_ref()
            .expect("the model is present between updates")
    }

    /// Where the step stands: updates done, loss scale, carried state.
    pub fn state(&self) -> &StepState<B> {
        &self.state
    }

    /// The optimizer's state.
    pub fn optimizer_record(&self) -> OptimRecord<B> {
        self.optim.to_record()
    }

    /// This peer.
    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// The device it trains on.
    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// One update over `accumulate` segments drawn from `next_segment`; `stop_requested`
    /// (this peer's) is shared with the others.
    ///
    /// # Errors
    /// Model or data errors; a non-finite loss or gradient norm ([`TrainError::NonFinite`]);
    /// a failed exchange with the other peers.
    pub fn update(
        &mut self,
        next_segment: &mut dyn FnMut() -> Result<Segment<B>, TrainError>,
        stop_requested: bool,
    ) -> Result<UpdateOutcome, TrainError> {
        let p = self.policy;
        let step = self.state.step;
        let lr = self.schedule.lr_at(step);
        let loss_scale = self.state.loss_scale.scale;
        let model = self
            .model
            .take()
            .expect("the model is present between updates");
        let mut acc = GradientsAccumulator::<LanguageModel<B>>::new();
        let mut loss_sum = 0.0;
        for micro in 0..p.accumulate {
            let segment = next_segment()?;
            if segment.starts_pass {
                self.state.carry = None;
            }
            let seed = segment_seed(p.seed, step, micro as u64, self.peer.rank as u64);
            B::seed(&self.device, seed);
            let (mut loss, carry) = model.loss(
                segment.tokens,
                segment.targets,
                self.state.carry.take(),
                None,
            )?;
            self.state.carry = Some(carry.detach());
            if p.inject_nan_at_step == Some(step + 1) {
                loss = loss.mul_scalar(f64::NAN);
            }
            loss_sum += f64::from(loss.clone().into_scalar().elem::<f32>());
            let grads = loss.mul_scalar(loss_scale / p.accumulate as f64).backward();
            acc.accumulate(&model, GradientsParams::from_grads(grads, &model));
        }
        let local = [
            loss_sum / p.accumulate as f64,
            f64::from(u8::from(stop_requested)),
        ];
        let exchange = std::time::Instant::now();
        let status = self.peer.sum::<B>(&local, &self.device)?;
        let mut exchange_seconds = exchange.elapsed().as_secs_f64();
        let loss = status[0] / self.peer.world as f64;
        let stop = status[1] > 0.0;
        if !loss.is_finite() {
            self.model = Some(model);
            return Err(TrainError::NonFinite {
                step: step + 1,
                what: "loss",
                value: loss,
            });
        }
        let exchange = std::time::Instant::now();
        let mut grads = self
            .peer
            .mean_gradients::<B, _>(&model, acc.grads(), &self.device)?;
        if self.peer.world > 1 {
            // The all-reduce's result is used lazily on some backends: wait for it here.
            let _ = B::sync(&self.device);
        }
        exchange_seconds += exchange.elapsed().as_secs_f64();
        if loss_scale != 1.0 {
            // PyTorch's `GradScaler.unscale_`, before clipping.
            scale::<B, _>(&model, &mut grads, 1.0 / loss_scale);
        }
        let grad_norm = clip_global_norm::<B, _>(&model, &mut grads, p.clip_grad);
        if !grad_norm.is_finite() && !self.state.loss_scale.dynamic {
            self.model = Some(model);
            return Err(TrainError::NonFinite {
                step: step + 1,
                what: "gradient norm",
                value: grad_norm,
            });
        }
        let applied = self.state.loss_scale.update(grad_norm.is_finite());
        let model = if applied {
            self.optim.step(lr, model, grads)
        } else {
            model
        };
        self.model = Some(model);
        self.state.step += 1;
        Ok(UpdateOutcome {
            loss,
            grad_norm,
            lr,
            applied,
            stop,
            exchange_seconds,
        })
    }

    /// The inference copy of the model (no autodiff), for evaluation: in f32, whatever the
    /// training precision (as the official final evaluation).
    pub fn inference_model(&self) -> LanguageModel<B::InnerBackend> {
        self.model().valid().with_autocast(Autocast::Off)
    }
}

#[cfg(test)]
mod tests {
    use super::segment_seed;

    #[test]
    fn segment_seeds_differ_by_every_coordinate_and_repeat() {
        let base = segment_seed(1234, 10, 0, 0);
        assert_eq!(base, segment_seed(1234, 10, 0, 0));
        for other in [
            segment_seed(1235, 10, 0, 0),
            segment_seed(1234, 11, 0, 0),
            segment_seed(1234, 10, 1, 0),
            segment_seed(1234, 10, 0, 1),
        ] {
            assert_ne!(base, other);
        }
    }
}
