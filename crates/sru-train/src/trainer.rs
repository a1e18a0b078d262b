//! The training loop (spec §3.2–3.3): truncated back-propagation through the ordered train
//! stream, the recurrent state and attention memory carried and detached between segments,
//! gradient accumulation, an all-reduce of gradients between devices, global-norm clipping,
//! RAdam/AdamW on the warmup + cosine schedule; periodic validation; atomic checkpoints with
//! everything needed to continue bit-identically; a final evaluation of valid and test.
//!
//! One thread per device. Device 0 (this thread) also evaluates, writes metrics and
//! checkpoints and reports [`Event`]s; the others only train. The library never prints.
//!
//! Reproducibility: the backend's random generator is reseeded before every segment from
//! (seed, update, segment, device), so dropout masks do not depend on history and a resumed
//! run draws the same masks. Burn's generators are per process (Flex) or per device, so two
//! runs in one process at once, or several CPU peers with dropout, interleave their draws
//! and are not reproducible; one run per process on the CPU is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

use burn::module::{AutodiffModule, Module, ParamId, list_param_ids};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsAccumulator, GradientsParams, Optimizer};
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::ElementConversion;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use sru_data::{Cursor, OrderedStream, Split, StreamSpec, TokenCache};
use sru_kernel::RecurrenceBackend;
use sru_model::weights::{StateDict, parse_safetensors, safetensors_bytes, state_dict};
use sru_model::{LanguageModel, SruppState, weights};

use crate::TrainingBackend;
use crate::adam::{Adam, AdamConfig};
use crate::carry;
use crate::checkpoint::{self, CARRY_FILE, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE};
use crate::clip::{global_norm, scale};
use crate::config::{OptimizerKind, TrainConfig};
use crate::error::TrainError;
use crate::eval::{EvalResult, EvalSpec, evaluate, planned_tokens};
use crate::metrics::{self, MetricLine};
use crate::precision::{LossScale, cast_params};
use crate::schedule::LrSchedule;
use crate::sync::Peer;

/// The config file of a run folder.
pub const CONFIG_FILE: &str = "config.toml";
/// The checkpoint folder of a run folder.
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// What the loop reports to its caller (device 0 only).
#[derive(Debug, Clone)]
pub enum Event {
    /// Training begins (or resumes).
    Started {
        /// Parameters of the model.
        params: usize,
        /// Tokens per update over all devices.
        tokens_per_step: u64,
        /// Updates already done (non-zero when resuming).
        start_step: u64,
        /// Updates in the whole run.
        steps: u64,
        /// The checkpoint resumed from.
        resumed_from: Option<PathBuf>,
    },
    /// One update finished.
    Step {
        /// Completed updates.
        step: u64,
        /// Mean training loss of the update (nats per token).
        loss: f64,
        /// Learning rate used.
        lr: f64,
        /// Global gradient norm before clipping.
        grad_norm: f64,
        /// Throughput of this update (all devices).
        tokens_per_s: f64,
        /// The update was skipped (f16 overflow).
        skipped: bool,
    },
    /// A metrics line was written.
    Logged(MetricLine),
    /// An evaluation starts.
    EvalStarted {
        /// Completed updates.
        step: u64,
        /// The split.
        split: Split,
        /// Tokens it will score.
        tokens: u64,
    },
    /// Evaluation progress.
    EvalProgress {
        /// Tokens scored.
        done: u64,
        /// Tokens to score.
        total: u64,
    },
    /// An evaluation finished.
    Evaluated {
        /// Completed updates.
        step: u64,
        /// The split.
        split: Split,
        /// The result.
        result: EvalResult,
    },
    /// A checkpoint was written.
    Checkpointed {
        /// Completed updates.
        step: u64,
        /// Its folder.
        path: PathBuf,
    },
    /// A stop was requested (SIGINT/SIGTERM); the run saved and ends.
    Interrupted {
        /// Completed updates.
        step: u64,
    },
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Completed updates.
    pub step: u64,
    /// It stopped on request before the last update.
    pub interrupted: bool,
    /// The last periodic validation.
    pub last_valid: Option<EvalResult>,
    /// The best periodic validation: (step, loss).
    pub best: Option<(u64, f64)>,
    /// Final full evaluation of valid.
    pub final_valid: Option<EvalResult>,
    /// Final full evaluation of test.
    pub final_test: Option<EvalResult>,
    /// Training seconds of this session (without evaluation).
    pub train_seconds: f64,
    /// Training tokens of this session.
    pub train_tokens: u64,
    /// The last checkpoint written.
    pub last_checkpoint: Option<PathBuf>,
}

/// Where and how to run.
#[derive(Debug)]
pub struct RunOptions<'a> {
    /// The run folder (config, checkpoints, metrics).
    pub run_dir: PathBuf,
    /// Continue from the latest checkpoint in `run_dir`.
    pub resume: bool,
    /// Set to request a clean stop (checkpoint, then return).
    pub stop: &'a AtomicBool,
}

/// The best validation so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Best {
    step: u64,
    loss: f64,
}

/// `state.json` of a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LoopState {
    step: u64,
    cursor: Cursor,
    config: TrainConfig,
    metrics: Vec<MetricLine>,
    best: Option<Best>,
    loss_scale: LossScale,
    elapsed_s: f64,
    params: usize,
    #[serde(default)]
    window: Window,
}

/// The loop state of a verified checkpoint.
fn loop_state(ck: &checkpoint::Loaded) -> Result<LoopState, TrainError> {
    parse_loop_state(ck.file(STATE_FILE)?, &ck.path.join(STATE_FILE))
}

/// Parses the `state.json` read from `path`.
fn parse_loop_state(bytes: &[u8], path: &Path) -> Result<LoopState, TrainError> {
    serde_json::from_slice(bytes).map_err(|e| TrainError::checkpoint(path, format!("corrupt: {e}")))
}

type Optim<B> = OptimizerAdaptor<Adam, LanguageModel<B>, B>;
type OptimRecord<B> = <Optim<B> as Optimizer<LanguageModel<B>, B>>::Record;

fn optimizer<B: TrainingBackend>(config: &TrainConfig) -> Optim<B> {
    AdamConfig {
        beta1: config.beta1,
        beta2: config.beta2,
        eps: config.eps,
        weight_decay: config.weight_decay,
        rectified: config.optimizer == OptimizerKind::Radam,
    }
    .init::<B, LanguageModel<B>>()
}

/// Parameter ids in a fixed order (the module's visiting order), so optimizer state can be
/// stored by position and matched to a model whose ids were created anew.
fn param_order<B: Backend>(model: &LanguageModel<B>) -> Vec<ParamId> {
    let mut seen = std::collections::HashSet::new();
    list_param_ids(model)
        .into_iter()
        .filter(|id| seen.insert(*id))
        .collect()
}

fn rekey<B: TrainingBackend>(
    record: OptimRecord<B>,
    from: &[ParamId],
    to: &[ParamId],
) -> Result<OptimRecord<B>, String> {
    if from.len() != to.len() {
        return Err(format!(
            "it holds state for {} parameter tensors, the model has {}",
            from.len(),
            to.len()
        ));
    }
    let index: HashMap<ParamId, usize> = from.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    record
        .into_iter()
        .map(|(id, v)| {
            index
                .get(&id)
                .map(|&i| (to[i], v))
                .ok_or_else(|| format!("state for an unknown parameter {id}"))
        })
        .collect()
}

fn positional(n: usize) -> Vec<ParamId> {
    (0..n as u64).map(ParamId::from).collect()
}

/// A 64-bit mix of the run seed and the position in the run (splitmix64), so dropout masks
/// depend only on (seed, update, segment, device) and resume reproduces them.
fn mix(seed: u64, step: u64, micro: u64, rank: u64) -> u64 {
    let mut z = seed
        ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ micro.wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ rank.wrapping_mul(0x94D0_49BB_1331_11EB);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What every device starts from.
struct Start {
    step: u64,
    cursor: Cursor,
    loss_scale: LossScale,
    carry: StateDict,
}

/// One device's part of the run.
struct Rank<B: TrainingBackend> {
    peer: Peer,
    device: B::Device,
    model: Option<LanguageModel<B>>,
    optim: Optim<B>,
    carry: Option<SruppState<B>>,
    config: TrainConfig,
    cache: TokenCache,
    schedule: LrSchedule,
    step: u64,
    cursor: Cursor,
    loss_scale: LossScale,
}

/// The outcome of one update, identical on every device.
struct Update {
    loss: f64,
    grad_norm: f64,
    lr: f64,
    applied: bool,
    stop: bool,
}

impl<B: TrainingBackend> Rank<B> {
    fn model(&self) -> &LanguageModel<B> {
        // Present except while the optimizer owns it inside `update`.
        self.model.as_ref().expect("model present between updates")
    }

    /// One update: `accumulate` segments forward and backward, the all-reduce, clipping and
    /// the optimizer step.
    fn update(&mut self, stop_requested: bool) -> Result<Update, TrainError> {
        let c = &self.config;
        let spec = StreamSpec {
            batch: c.batch_size,
            unroll: c.unroll,
            rank: self.peer.rank,
            world: self.peer.world,
        };
        let stream = OrderedStream::new(&self.cache, Split::Train, spec)?;
        let segments = stream.num_segments();
        let lr = self.schedule.lr_at(self.step);
        let mut acc = GradientsAccumulator::<LanguageModel<B>>::new();
        let mut loss_sum = 0.0;
        let model = self.model.take().expect("model present between updates");
        for micro in 0..c.accumulate {
            if self.cursor.segment.is_multiple_of(segments) {
                self.carry = None; // a new pass over the data starts from a zero state
            }
            B::seed(
                &self.device,
                mix(c.seed, self.step, micro as u64, self.peer.rank as u64),
            );
            let (batch, next) = stream.next(self.cursor);
            self.cursor = next;
            let (x, y) = batch.to_tensors::<B>(&self.device);
            let (mut loss, state) = model.loss(x, y, self.carry.take(), None)?;
            self.carry = Some(state.detach());
            if c.inject_nan_at_step == Some(self.step + 1) {
                loss = loss.mul_scalar(f64::NAN);
            }
            loss_sum += f64::from(loss.clone().into_scalar().elem::<f32>());
            let grads = loss
                .mul_scalar(self.loss_scale.scale / c.accumulate as f64)
                .backward();
            acc.accumulate(&model, GradientsParams::from_grads(grads, &model));
        }
        let local = [
            loss_sum / c.accumulate as f64,
            f64::from(u8::from(stop_requested)),
        ];
        let status = self.peer.sum::<B>(&local, &self.device)?;
        let loss = status[0] / self.peer.world as f64;
        let stop = status[1] > 0.0;
        if !loss.is_finite() {
            return Err(TrainError::NonFinite {
                step: self.step + 1,
                what: "loss",
                value: loss,
            });
        }
        let mut grads = self.peer.mean_gradients::<B>(acc.grads())?;
        let grad_norm = global_norm::<B, _>(&model, &grads) / self.loss_scale.scale;
        if !grad_norm.is_finite() && !self.loss_scale.dynamic {
            return Err(TrainError::NonFinite {
                step: self.step + 1,
                what: "gradient norm",
                value: grad_norm,
            });
        }
        let applied = self.loss_scale.update(grad_norm.is_finite());
        let model = if applied {
            let clip = if c.clip_grad > 0.0 && grad_norm > c.clip_grad {
                c.clip_grad / (grad_norm + 1e-6)
            } else {
                1.0
            };
            let factor = clip / self.loss_scale.scale;
            if factor != 1.0 {
                scale::<B, _>(&model, &mut grads, factor);
            }
            self.optim.step(lr, model, grads)
        } else {
            model
        };
        self.model = Some(model);
        self.step += 1;
        Ok(Update {
            loss,
            grad_norm,
            lr,
            applied,
            stop,
        })
    }
}

/// A training window for the metrics line (saved in checkpoints, so a resumed run writes
/// the same lines as an uninterrupted one).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Window {
    loss: f64,
    norm: f64,
    updates: u64,
    seconds: f64,
}

/// Device 0's extra duties.
struct Main<'a> {
    run_dir: PathBuf,
    on_event: &'a mut dyn FnMut(Event),
    metrics: Vec<MetricLine>,
    best: Option<Best>,
    elapsed_before: f64,
    train_seconds: f64,
    train_tokens: u64,
    window: Window,
    last_valid: Option<EvalResult>,
    last_checkpoint: Option<PathBuf>,
    carry_rx: Receiver<(usize, StateDict)>,
    params: usize,
}

impl Main<'_> {
    fn elapsed(&self) -> f64 {
        self.elapsed_before + self.train_seconds
    }

    fn log(&mut self, line: MetricLine) -> Result<(), TrainError> {
        metrics::append(&self.run_dir, &line)?;
        self.metrics.push(line.clone());
        (self.on_event)(Event::Logged(line));
        Ok(())
    }

    fn evaluate<B: TrainingBackend>(
        &mut self,
        rank: &Rank<B>,
        spec: &EvalSpec,
    ) -> Result<EvalResult, TrainError> {
        let total = planned_tokens(&rank.cache, spec)?;
        (self.on_event)(Event::EvalStarted {
            step: rank.step,
            split: spec.split,
            tokens: total,
        });
        let model = rank.model().valid();
        let on_event = &mut self.on_event;
        let result = evaluate(
            &model,
            &rank.cache,
            spec,
            &rank.device,
            &mut |done, total| on_event(Event::EvalProgress { done, total }),
        )?;
        (self.on_event)(Event::Evaluated {
            step: rank.step,
            split: spec.split,
            result,
        });
        Ok(result)
    }

    fn checkpoint<B: TrainingBackend>(&mut self, rank: &Rank<B>) -> Result<(), TrainError> {
        let mut carry_dict = StateDict::new();
        carry::save(&mut carry_dict, 0, &rank.carry)?;
        for _ in 1..rank.peer.world {
            let (_, dict) = self.carry_rx.recv().map_err(|_| {
                TrainError::Collective("a device stopped before the checkpoint".into())
            })?;
            carry_dict.extend(dict);
        }
        let model = rank.model();
        let order = param_order(model);
        let record = rekey::<B>(rank.optim.to_record(), &order, &positional(order.len()))
            .map_err(TrainError::Config)?;
        let optim_bytes = BinBytesRecorder::<FullPrecisionSettings>::default()
            .record(record, ())
            .map_err(|e| TrainError::Config(format!("cannot serialise the optimizer: {e:?}")))?;
        let state = LoopState {
            step: rank.step,
            cursor: rank.cursor,
            config: rank.config.clone(),
            metrics: self.metrics.clone(),
            best: self.best,
            loss_scale: rank.loss_scale,
            elapsed_s: self.elapsed(),
            params: self.params,
            window: self.window.clone(),
        };
        let files = [
            (MODEL_FILE, safetensors_bytes(&state_dict(model)?)?),
            (OPTIMIZER_FILE, optim_bytes),
            (CARRY_FILE, safetensors_bytes(&carry_dict)?),
            (
                STATE_FILE,
                serde_json::to_vec_pretty(&state).unwrap_or_default(),
            ),
        ];
        let root = self.run_dir.join(CHECKPOINTS_DIR);
        let path = checkpoint::write(&root, rank.step, &files)?;
        checkpoint::prune(&root, rank.config.keep_last, self.best.map(|b| b.step))?;
        (self.on_event)(Event::Checkpointed {
            step: rank.step,
            path: path.clone(),
        });
        self.last_checkpoint = Some(path);
        Ok(())
    }
}

/// Sends this device's carried state to device 0 for a checkpoint.
fn send_carry<B: TrainingBackend>(
    rank: &Rank<B>,
    tx: &Sender<(usize, StateDict)>,
) -> Result<(), TrainError> {
    let mut dict = StateDict::new();
    carry::save(&mut dict, rank.peer.rank, &rank.carry)?;
    tx.send((rank.peer.rank, dict))
        .map_err(|_| TrainError::Collective("device 0 stopped before the checkpoint".into()))
}

/// The loop every device runs; `main` is `Some` on device 0.
fn run_rank<B: TrainingBackend>(
    rank: &mut Rank<B>,
    mut main: Option<&mut Main<'_>>,
    carry_tx: Option<&Sender<(usize, StateDict)>>,
    stop: &AtomicBool,
) -> Result<bool, TrainError> {
    let c = rank.config.clone();
    let tokens_per_step = c.tokens_per_step();
    while rank.step < c.steps {
        let t0 = Instant::now();
        let requested = main.is_some() && stop.load(Ordering::SeqCst);
        let u = rank.update(requested)?;
        let step = rank.step;
        let at_end = step == c.steps;
        let eval_due = c.eval_every > 0 && step.is_multiple_of(c.eval_every) || at_end;
        let ckpt_due = u.stop
            || eval_due
            || (c.checkpoint_every > 0 && step.is_multiple_of(c.checkpoint_every));
        if let Some(m) = main.as_deref_mut() {
            // The step's time includes its device sync (the loss was read back).
            let dt = t0.elapsed().as_secs_f64();
            m.train_seconds += dt;
            m.train_tokens += tokens_per_step;
            m.window.loss += u.loss;
            m.window.norm += u.grad_norm;
            m.window.updates += 1;
            m.window.seconds += dt;
            (m.on_event)(Event::Step {
                step,
                loss: u.loss,
                lr: u.lr,
                grad_norm: u.grad_norm,
                tokens_per_s: tokens_per_step as f64 / dt.max(1e-9),
                skipped: !u.applied,
            });
            if step.is_multiple_of(c.log_every.max(1)) || at_end {
                let w = std::mem::take(&mut m.window);
                let n = w.updates.max(1);
                let mut line = MetricLine::new(
                    step,
                    "train",
                    w.loss / n as f64,
                    n * tokens_per_step,
                    m.elapsed(),
                );
                line.lr = Some(u.lr);
                line.grad_norm = Some(w.norm / n as f64);
                line.tokens_per_s = Some((n * tokens_per_step) as f64 / w.seconds.max(1e-9));
                m.log(line)?;
            }
            if eval_due && !u.stop {
                let spec = EvalSpec {
                    split: Split::Valid,
                    batch: c.eval_batch_size,
                    unroll: c.eval_unroll,
                    max_tokens: c.eval_max_tokens,
                };
                let r = m.evaluate(rank, &spec)?;
                m.last_valid = Some(r);
                let line = MetricLine::new(step, "valid", r.loss, r.tokens, m.elapsed());
                m.log(line)?;
                if m.best.is_none_or(|b| r.loss < b.loss) {
                    m.best = Some(Best { step, loss: r.loss });
                }
            }
            if ckpt_due {
                m.checkpoint(rank)?;
            }
            if u.stop {
                (m.on_event)(Event::Interrupted { step });
            }
        } else if ckpt_due && let Some(tx) = carry_tx {
            send_carry(rank, tx)?;
        }
        if u.stop {
            return Ok(true);
        }
    }
    Ok(false)
}

fn check_data(config: &TrainConfig, cache: &TokenCache) -> Result<(), TrainError> {
    let v = cache.vocab().len();
    if config.model.vocab_size < v {
        return Err(TrainError::Config(format!(
            "the corpus {} has {v} token types but the model's vocabulary is {}",
            config.data.display(),
            config.model.vocab_size
        )));
    }
    // Fails early with the data's own message when the split is too small.
    OrderedStream::new(
        cache,
        Split::Train,
        StreamSpec {
            batch: config.batch_size,
            unroll: config.unroll,
            rank: 0,
            world: config.devices,
        },
    )?;
    Ok(())
}

/// Trains `config` on `devices` (one per data-parallel peer) into `opts.run_dir`.
///
/// A new run refuses a folder that already holds checkpoints; `opts.resume` continues from
/// the latest one, which must match the config's model and device count.
///
/// # Errors
/// Bad configs or data, unreadable checkpoints, I/O failures, a non-finite loss or gradient
/// norm ([`TrainError::NonFinite`]; the last good checkpoint is kept).
pub fn train<B: TrainingBackend>(
    config: &TrainConfig,
    devices: &[B::Device],
    opts: &RunOptions<'_>,
    on_event: &mut dyn FnMut(Event),
) -> Result<Summary, TrainError> {
    config.validate()?;
    if devices.len() != config.devices {
        return Err(TrainError::Config(format!(
            "config asks for {} devices, {} given",
            config.devices,
            devices.len()
        )));
    }
    let cache = TokenCache::open(&config.data)?;
    check_data(config, &cache)?;
    let run_dir = &opts.run_dir;
    let ckpt_root = run_dir.join(CHECKPOINTS_DIR);
    std::fs::create_dir_all(run_dir).map_err(TrainError::io(run_dir))?;
    let dtype = config.precision.dtype();
    let device0 = devices[0].clone();

    // The model: initialised from the seed, or the checkpoint's weights.
    B::seed(&device0, config.seed);
    let mut model = cast_params(config.model.init::<B>(&device0)?, dtype);
    let mut optim = optimizer::<B>(config);
    let mut start = Start {
        step: 0,
        cursor: Cursor::default(),
        loss_scale: LossScale::for_precision(config.precision),
        carry: StateDict::new(),
    };
    let mut history = (Vec::new(), None, 0.0, Window::default());
    let mut resumed_from = None;
    if opts.resume {
        let dir = checkpoint::latest(&ckpt_root)
            .ok_or_else(|| TrainError::NoCheckpoint(ckpt_root.clone()))?;
        let ck = checkpoint::read(&dir)?;
        let state = loop_state(&ck)?;
        if state.config.model != config.model {
            return Err(TrainError::checkpoint(
                &dir,
                "it was made for a different model configuration",
            ));
        }
        if state.config.devices != config.devices
            || state.config.batch_size != config.batch_size
            || state.config.unroll != config.unroll
        {
            return Err(TrainError::checkpoint(
                &dir,
                format!(
                    "it was made with {} devices × batch {} × unroll {}; resume with the same",
                    state.config.devices, state.config.batch_size, state.config.unroll
                ),
            ));
        }
        let dict = parse_safetensors(
            ck.file(MODEL_FILE)?,
            &dir.join(MODEL_FILE).display().to_string(),
        )?;
        model = weights::load_state_dict(model, dict, Some(dtype))
            .map_err(|e| TrainError::checkpoint(dir.join(MODEL_FILE), e.to_string()))?;
        let record: OptimRecord<B> = BinBytesRecorder::<FullPrecisionSettings>::default()
            .load(ck.file(OPTIMIZER_FILE)?.to_vec(), &device0)
            .map_err(|e| {
                TrainError::checkpoint(dir.join(OPTIMIZER_FILE), format!("corrupt: {e:?}"))
            })?;
        let order = param_order(&model);
        let record = rekey::<B>(record, &positional(order.len()), &order)
            .map_err(|e| TrainError::checkpoint(dir.join(OPTIMIZER_FILE), e))?;
        optim = optim.load_record(record);
        start = Start {
            step: state.step,
            cursor: state.cursor,
            loss_scale: state.loss_scale,
            carry: parse_safetensors(
                ck.file(CARRY_FILE)?,
                &dir.join(CARRY_FILE).display().to_string(),
            )?,
        };
        metrics::rewrite(run_dir, &state.metrics)?;
        history = (state.metrics, state.best, state.elapsed_s, state.window);
        resumed_from = Some(dir);
    } else {
        if !checkpoint::list(&ckpt_root).is_empty() {
            return Err(TrainError::Config(format!(
                "{} already holds checkpoints; resume it or choose another run folder",
                run_dir.display()
            )));
        }
        metrics::rewrite(run_dir, &[])?;
    }
    let config_path = run_dir.join(CONFIG_FILE);
    std::fs::write(&config_path, config.to_toml()).map_err(TrainError::io(&config_path))?;

    let params = config.model.num_params();
    on_event(Event::Started {
        params,
        tokens_per_step: config.tokens_per_step(),
        start_step: start.step,
        steps: config.steps,
        resumed_from: resumed_from.clone(),
    });

    // Other devices: a copy of the same model (same parameter ids) and optimizer each.
    let world = config.devices;
    let (carry_tx, carry_rx) = channel();
    let mut workers = Vec::new();
    for (r, device) in devices.iter().enumerate().skip(1) {
        let m = model.clone().fork(device);
        let o = optim.clone();
        let cfg = config.clone();
        let device = device.clone();
        let tx = carry_tx.clone();
        let carry_dict = start.carry.clone();
        let (step, cursor, loss_scale) = (start.step, start.cursor, start.loss_scale);
        let never = AtomicBool::new(false);
        workers.push(std::thread::spawn(move || -> Result<(), TrainError> {
            let cache = TokenCache::open(&cfg.data)?;
            let peer = Peer::join::<B>(r, world, &device)?;
            let carry = carry::load::<B>(&carry_dict, r, dtype, &device)?;
            let mut rank = Rank {
                peer,
                device,
                model: Some(m),
                optim: o,
                carry,
                schedule: LrSchedule::of(&cfg),
                config: cfg,
                cache,
                step,
                cursor,
                loss_scale,
            };
            run_rank(&mut rank, None, Some(&tx), &never)?;
            rank.peer.leave::<B>();
            Ok(())
        }));
    }
    drop(carry_tx);
    let peer = Peer::join::<B>(0, world, &device0)?;
    let carry0 = carry::load::<B>(&start.carry, 0, dtype, &device0)?;
    let mut rank = Rank {
        peer,
        device: device0,
        model: Some(model),
        optim,
        carry: carry0,
        config: config.clone(),
        cache,
        schedule: LrSchedule::of(config),
        step: start.step,
        cursor: start.cursor,
        loss_scale: start.loss_scale,
    };
    let mut main = Main {
        run_dir: run_dir.clone(),
        on_event,
        metrics: history.0,
        best: history.1,
        elapsed_before: history.2,
        train_seconds: 0.0,
        train_tokens: 0,
        window: history.3,
        last_valid: None,
        last_checkpoint: None,
        carry_rx,
        params,
    };
    let outcome = run_rank(&mut rank, Some(&mut main), None, opts.stop);
    let interrupted = match outcome {
        Ok(i) => i,
        Err(e) => {
            if world > 1 {
                Peer::reset::<B>();
            }
            return Err(e);
        }
    };
    rank.peer.leave::<B>();
    for w in workers {
        match w.join() {
            Ok(r) => r?,
            Err(_) => return Err(TrainError::Collective("a device thread panicked".into())),
        }
    }

    let (mut final_valid, mut final_test) = (None, None);
    if !interrupted && config.final_eval {
        for split in [Split::Valid, Split::Test] {
            if rank.cache.is_empty(split) {
                continue;
            }
            let spec = EvalSpec {
                split,
                batch: config.final_eval_batch_size,
                unroll: config.eval_unroll,
                max_tokens: None,
            };
            let r = main.evaluate(&rank, &spec)?;
            let name = format!("final_{}", split.name());
            main.log(MetricLine::new(
                rank.step,
                &name,
                r.loss,
                r.tokens,
                main.elapsed(),
            ))?;
            match split {
                Split::Valid => final_valid = Some(r),
                _ => final_test = Some(r),
            }
        }
    }
    Ok(Summary {
        step: rank.step,
        interrupted,
        last_valid: main.last_valid,
        best: main.best.map(|b| (b.step, b.loss)),
        final_valid,
        final_test,
        train_seconds: main.train_seconds,
        train_tokens: main.train_tokens,
        last_checkpoint: main.last_checkpoint,
    })
}

/// Which checkpoint of a run to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The best on validation (the latest when no validation ran).
    Best,
    /// The latest.
    Latest,
}

/// A trained model read back for inference.
#[derive(Debug)]
pub struct Trained<B: Backend> {
    /// The model.
    pub model: LanguageModel<B>,
    /// Its training config.
    pub config: TrainConfig,
    /// Updates it was trained for.
    pub step: u64,
    /// The checkpoint folder.
    pub path: PathBuf,
}

/// Loads a model from a run folder (its best or latest checkpoint) or a checkpoint folder.
///
/// # Errors
/// No checkpoint, a corrupt or incompatible one.
pub fn load_trained<B: RecurrenceBackend>(
    path: &Path,
    which: Which,
    device: &B::Device,
) -> Result<Trained<B>, TrainError> {
    let dir = if path.join(checkpoint::MANIFEST).is_file() {
        path.to_path_buf()
    } else {
        let root = path.join(CHECKPOINTS_DIR);
        let latest = checkpoint::latest(&root)
            .ok_or_else(|| TrainError::NoCheckpoint(path.to_path_buf()))?;
        match which {
            Which::Latest => latest,
            Which::Best => {
                // Only the latest state.json is needed to find the best; the chosen checkpoint
                // is read and verified in full below.
                let path = latest.join(STATE_FILE);
                let text = std::fs::read(&path)
                    .map_err(|e| TrainError::checkpoint(&path, format!("cannot read: {e}")))?;
                let state = parse_loop_state(&text, &path)?;
                match state.best {
                    Some(b) if root.join(checkpoint::folder_name(b.step)).is_dir() => {
                        root.join(checkpoint::folder_name(b.step))
                    }
                    _ => latest,
                }
            }
        }
    };
    let ck = checkpoint::read(&dir)?;
    let state = loop_state(&ck)?;
    let dict = parse_safetensors(
        ck.file(MODEL_FILE)?,
        &dir.join(MODEL_FILE).display().to_string(),
    )?;
    let model = state.config.model.init::<B>(device)?;
    let model = weights::load_state_dict(model, dict, None)
        .map_err(|e| TrainError::checkpoint(dir.join(MODEL_FILE), e.to_string()))?;
    Ok(Trained {
        model,
        config: state.config,
        step: state.step,
        path: dir,
    })
}

/// The model's parameters as a flat list of f32 (for comparing runs in tests).
pub fn flat_params<B: Backend>(model: &LanguageModel<B>) -> Result<Vec<f32>, TrainError> {
    let dict = state_dict(model)?;
    let mut out = Vec::new();
    for data in dict.values() {
        out.extend(
            data.clone()
                .convert::<f32>()
                .to_vec::<f32>()
                .map_err(|e| TrainError::Config(format!("{e:?}")))?,
        );
    }
    Ok(out)
}
