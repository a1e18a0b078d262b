//! Device 0's duties besides training, and when to do them: after every update it reports
//! the step, keeps the metrics window, writes a `train` metrics line every `log_every`
//! updates, validates every `eval_every` updates (and at the end) as the official scripts do
//! (the training unroll as segment and window, `eval_batch_size` streams), checkpoints after a
//! validation, every `checkpoint_every` updates and on a stop request. Every device takes
//! part in a checkpoint ([`gather_parts`]: carried state and a weight checksum from all, which
//! must agree). On several nodes each node's device 0 does all this, so that all stay in
//! step, and node 0 alone writes. How a checkpoint is written is [`crate::checkpoint`]'s
//! business; what it holds is [`crate::resume`]'s.

use std::path::PathBuf;

use sru_data::{Split, TokenCache};
use sru_kernel::RecurrenceBackend;
use sru_model::LanguageModel;
use sru_model::weights::{StateDict, parse_safetensors, safetensors_bytes};

use crate::backend::TrainingBackend;
use crate::carry;
use crate::checkpoint;
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::eval::{EvalResult, EvalSpec, evaluate, planned_tokens};
use crate::events::{Best, Event};
use crate::layout::CHECKPOINTS_DIR;
use crate::metrics::{self, MetricLine};
use crate::params::flat_params;
use crate::resume::{History, LoopState, checkpoint_files};
use crate::step::{TrainStep, UpdateOutcome};
use crate::stream::TrainStream;

/// What device 0 keeps besides its training step.
pub(crate) struct Lead<'a> {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Where the run's events go.
    pub on_event: &'a mut dyn FnMut(Event),
    /// The metrics lines, best validation, earlier sessions' seconds and open window.
    pub history: History,
    /// Training seconds of this session.
    pub train_seconds: f64,
    /// Training tokens of this session.
    pub train_tokens: u64,
    /// The last periodic validation.
    pub last_valid: Option<EvalResult>,
    /// The last checkpoint written.
    pub last_checkpoint: Option<PathBuf>,
    /// This is node 0, which writes metrics and checkpoints (the other nodes' first devices
    /// do everything else, evaluation included, so that all stay in step).
    pub writes: bool,
    /// Parameters of the model (saved in every checkpoint's loop state).
    pub params: usize,
}

/// What an update asks of the devices besides training.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Due {
    /// Validate.
    pub eval: bool,
    /// Write a checkpoint (every device takes part).
    pub checkpoint: bool,
}

impl Due {
    /// The duties after update `step` with outcome `u`.
    pub fn after(c: &TrainConfig, step: u64, u: &UpdateOutcome) -> Due {
        let at_end = step == c.steps;
        let eval = c.eval_every > 0 && step.is_multiple_of(c.eval_every) || at_end;
        let periodic = c.checkpoint_every > 0 && step.is_multiple_of(c.checkpoint_every);
        Due {
            eval: eval && !u.stop,
            checkpoint: u.stop || eval || periodic,
        }
    }
}

impl Lead<'_> {
    /// Training seconds over all sessions of the run.
    pub fn elapsed(&self) -> f64 {
        self.history.elapsed_s + self.train_seconds
    }

    /// Writes `line` to `metrics.jsonl` and reports it.
    pub fn log(&mut self, line: MetricLine) -> Result<(), TrainError> {
        if self.writes {
            metrics::append(&self.run_dir, &line)?;
        }
        self.history.metrics.push(line.clone());
        (self.on_event)(Event::Logged(line));
        Ok(())
    }

    /// Everything device 0 does after update `step` (taking `seconds`) besides training.
    pub fn after_update<B: TrainingBackend>(
        &mut self,
        train: &TrainStep<B>,
        stream: &TrainStream<'_>,
        cache: &TokenCache,
        config: &TrainConfig,
        (u, seconds): (&UpdateOutcome, f64),
    ) -> Result<(), TrainError> {
        let step = train.state().step;
        let tokens_per_step = config.tokens_per_step();
        self.train_seconds += seconds;
        self.train_tokens += tokens_per_step;
        let w = &mut self.history.window;
        w.loss += u.loss;
        w.norm += u.grad_norm;
        w.updates += 1;
        w.seconds += seconds;
        w.exchange += u.exchange_seconds;
        (self.on_event)(Event::Step {
            step,
            loss: u.loss,
            lr: u.lr,
            grad_norm: u.grad_norm,
            tokens_per_s: tokens_per_step as f64 / seconds.max(1e-9),
            skipped: !u.applied,
        });
        if step.is_multiple_of(config.log_every.max(1)) || step == config.steps {
            let w = std::mem::take(&mut self.history.window);
            let n = w.updates.max(1);
            let mut line = MetricLine::new(
                step,
                "train",
                w.loss / n as f64,
                n * tokens_per_step,
                self.elapsed(),
            )
            .with_flops(config);
            line.lr = Some(u.lr);
            line.grad_norm = Some(w.norm / n as f64);
            line.tokens_per_s = Some((n * tokens_per_step) as f64 / w.seconds.max(1e-9));
            if train.peer().world > 1 {
                line.exchange_s = Some(w.exchange / n as f64);
            }
            self.log(line)?;
        }
        let due = Due::after(config, step, u);
        if due.eval {
            let spec = EvalSpec {
                split: Split::Valid,
                batch: config.eval_batch_size,
                unroll: config.unroll,
                max_tokens: config.eval_max_tokens,
            };
            let r = self.evaluate(&train.inference_model(), step, train.device(), cache, &spec)?;
            if !r.loss.is_finite() {
                // A diverged model: stop as for a non-finite training loss, before a checkpoint
                // of it replaces the last good one.
                return Err(TrainError::NonFinite {
                    step,
                    what: "validation loss",
                    value: r.loss,
                });
            }
            self.last_valid = Some(r);
            self.log(
                MetricLine::new(step, "valid", r.loss, r.tokens, self.elapsed()).with_flops(config),
            )?;
            if self.history.best.is_none_or(|b| r.loss < b.loss) {
                self.history.best = Some(Best { step, loss: r.loss });
            }
        }
        if due.checkpoint {
            self.checkpoint(train, stream, config)?;
        }
        if u.stop {
            (self.on_event)(Event::Interrupted { step });
        }
        Ok(())
    }

    /// Scores `spec` with `model` (the weights of update `step`), reporting progress.
    pub fn evaluate<B: RecurrenceBackend>(
        &mut self,
        model: &LanguageModel<B>,
        step: u64,
        device: &B::Device,
        cache: &TokenCache,
        spec: &EvalSpec,
    ) -> Result<EvalResult, TrainError> {
        let total = planned_tokens(cache, spec)?;
        (self.on_event)(Event::EvalStarted {
            step,
            split: spec.split,
            tokens: total,
        });
        let on_event = &mut self.on_event;
        let result = evaluate(model, cache, spec, device, &mut |done, total| {
            on_event(Event::EvalProgress { done, total })
        })?;
        (self.on_event)(Event::Evaluated {
            step,
            split: spec.split,
            result,
        });
        Ok(result)
    }

    /// Writes the checkpoint of the current update, with every device's carried state.
    fn checkpoint<B: TrainingBackend>(
        &mut self,
        train: &TrainStep<B>,
        stream: &TrainStream<'_>,
        config: &TrainConfig,
    ) -> Result<(), TrainError> {
        let (carry_dict, weights) = gather_parts(train)?;
        let step = train.state().step;
        let world = train.peer().world;
        if let Some(r) = weights.iter().position(|&w| w != weights[0]) {
            let devices = (world / train.peer().nodes).max(1);
            return Err(TrainError::Node {
                node: Some(r / devices),
                why: format!(
                    "the replicas' weights differ after update {step} (device {r}: crc32 \
                     {:08x}, device 0: {:08x}); the last checkpoint is left as it was",
                    weights[r], weights[0]
                ),
            });
        }
        if world > 1 {
            (self.on_event)(Event::ReplicasAgree {
                step,
                weights_crc32: weights[0],
                replicas: world,
            });
        }
        if !self.writes {
            return Ok(());
        }
        let step = train.state().step;
        let state = LoopState {
            step,
            cursor: stream.cursor(),
            config: config.clone(),
            metrics: self.history.metrics.clone(),
            best: self.history.best,
            loss_scale: train.state().loss_scale,
            elapsed_s: self.elapsed(),
            params: self.params,
            window: self.history.window.clone(),
        };
        let root = self.run_dir.join(CHECKPOINTS_DIR);
        let files = checkpoint_files(train, &carry_dict, &state, &root)?;
        let path = checkpoint::write(&root, step, &files)?;
        checkpoint::prune(&root, config.keep_last, self.history.best.map(|b| b.step))?;
        (self.on_event)(Event::Checkpointed {
            step,
            path: path.clone(),
        });
        self.last_checkpoint = Some(path);
        Ok(())
    }
}

/// Every device's part of a checkpoint, gathered from all (every device calls this after the
/// same updates): the carried state of all devices, and a CRC-32 of each device's weights
/// (they must all agree).
pub(crate) fn gather_parts<B: TrainingBackend>(
    train: &TrainStep<B>,
) -> Result<(StateDict, Vec<u32>), TrainError> {
    let peer = train.peer();
    let mut dict = StateDict::new();
    carry::save(&mut dict, peer.rank, &train.state().carry)?;
    // With one replica there is nothing to compare its weights with.
    let mut crc = crc32fast::Hasher::new();
    if peer.world > 1 {
        for v in flat_params(train.model())? {
            crc.update(&v.to_le_bytes());
        }
    }
    let mut bytes = crc.finalize().to_le_bytes().to_vec();
    bytes.extend(safetensors_bytes(&dict)?);
    let all = peer.gather::<B::InnerBackend>(&bytes, train.device())?;
    let mut carry = StateDict::new();
    let mut weights = Vec::with_capacity(all.len());
    for (r, part) in all.iter().enumerate() {
        let damaged = || TrainError::Collective {
            rank: Some(r),
            why: "its part of the checkpoint arrived damaged".into(),
        };
        let (crc, rest) = part.split_at_checked(4).ok_or_else(damaged)?;
        weights.push(u32::from_le_bytes(crc.try_into().map_err(|_| damaged())?));
        carry.extend(parse_safetensors(
            rest,
            &format!("device {r}'s carried state"),
        )?);
    }
    Ok((carry, weights))
}
