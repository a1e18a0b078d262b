//! One data-parallel replica of a run, on one device: where it starts ([`StartPoint`]), the
//! loop it runs until the last update or a stop ([`run_device`]), and for every device of a
//! node but the first the thread it runs on ([`Workers`]): started before device 0 joins the
//! collective, it joins too, takes part in the start's exchanges with the other nodes, then
//! trains the copy of the model device 0 sends it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;
use std::time::Instant;

use burn::module::Module;
use sru_data::{Cursor, TokenCache};
use sru_model::LanguageModel;
use sru_model::weights::StateDict;

use crate::backend::TrainingBackend;
use crate::carry;
use crate::cluster::{self, Arrival};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::lead::{Due, Lead, gather_parts};
use crate::precision::LossScale;
use crate::step::{Optim, StepState, TrainStep};
use crate::stream::TrainStream;
use crate::sync::{NodeLink, Peer};

/// Where every device starts: updates done, data cursor, loss scale, and the carried state
/// of all devices.
#[derive(Clone)]
pub(crate) struct StartPoint {
    /// Updates done.
    pub step: u64,
    /// Where the data continues.
    pub cursor: Cursor,
    /// The f16 loss scale.
    pub loss_scale: LossScale,
    /// Every device's carried state (`rank{r}.…`; empty for a new run).
    pub carry: StateDict,
}

impl StartPoint {
    /// Device `rank`'s step state, its carried state loaded onto `device`.
    pub fn state<B: TrainingBackend>(
        &self,
        rank: usize,
        config: &TrainConfig,
        device: &B::Device,
    ) -> Result<StepState<B>, TrainError> {
        Ok(StepState {
            step: self.step,
            loss_scale: self.loss_scale,
            carry: carry::load::<B>(&self.carry, rank, config.precision.dtype(), device)?,
        })
    }
}

/// The model, optimizer and start of every device, sent to the device threads once known.
type Parts<B> = (LanguageModel<B>, Optim<B>, StartPoint);

/// The threads of this node's devices other than the first, and the channel that sends
/// each its parts.
pub(crate) struct Workers<B: TrainingBackend> {
    parts: Vec<(Sender<Parts<B>>, B::Device)>,
    threads: Vec<JoinHandle<Result<(), TrainError>>>,
}

impl<B: TrainingBackend> Workers<B> {
    /// Starts a thread for every device of `devices` but the first (not scoped: after a
    /// failure on device 0 they may stay blocked in the collective, which `Peer::reset`
    /// abandons). Each joins the collective, takes part in the start's exchanges, then trains
    /// a copy of the model sent to it; when device 0 fails before sending one, it ends.
    pub fn spawn(
        config: &TrainConfig,
        devices: &[B::Device],
        link: Option<&NodeLink>,
        resume: bool,
        scratch: &Path,
    ) -> Workers<B> {
        let world = config.world();
        let mut workers = Vec::new();
        let mut parts_tx = Vec::new();
        for (r, device) in devices.iter().enumerate().skip(1) {
            let (tx, rx) = channel::<Parts<B>>();
            parts_tx.push((tx, device.clone()));
            let (config, device, link) = (config.clone(), device.clone(), link.cloned());
            let scratch = scratch.to_path_buf();
            workers.push(std::thread::spawn(move || -> Result<(), TrainError> {
                let cache = TokenCache::open(&config.data)?;
                let peer = Peer::join::<B>(r, config.devices, link.as_ref(), &device)?;
                let arrival = Arrival {
                    config: &config,
                    cache: &cache,
                    resume,
                    refusal: None,
                    resume_dir: None,
                    scratch: &scratch,
                };
                cluster::meet::<B::InnerBackend>(&peer, link.as_ref(), arrival, &device)?;
                let Ok((m, o, start)) = rx.recv() else {
                    return Ok(()); // device 0 failed before training
                };
                let state = start.state::<B>(peer.rank, &config, &device)?;
                let mut stream = TrainStream::new(&cache, &config, peer.rank, world, start.cursor)?;
                let mut train = TrainStep::from_parts(&config, m, o, state, peer, device);
                let never = AtomicBool::new(false);
                run_device(&mut train, &mut stream, &config, &cache, None, &never)?;
                peer.leave::<B>();
                Ok(())
            }));
        }
        Workers {
            parts: parts_tx,
            threads: workers,
        }
    }

    /// Sends every thread a copy of `model` (the same parameter ids) and `optim`, and where
    /// to start.
    pub fn send(&mut self, model: &LanguageModel<B>, optim: &Optim<B>, start: &StartPoint) {
        for (tx, device) in self.parts.drain(..) {
            let _ = tx.send((model.clone().fork(&device), optim.clone(), start.clone()));
        }
    }

    /// Waits for every thread to end.
    ///
    /// # Errors
    /// The first error of a device, in device order; a thread that panicked.
    pub fn join(self) -> Result<(), TrainError> {
        for w in self.threads {
            w.join().map_err(|_| TrainError::Collective {
                rank: None,
                why: "a device thread panicked".into(),
            })??;
        }
        Ok(())
    }
}

/// The loop every device runs until the last update or a stop; `lead` is `Some` on each
/// node's device 0. Returns whether it stopped on request.
pub(crate) fn run_device<B: TrainingBackend>(
    train: &mut TrainStep<B>,
    stream: &mut TrainStream<'_>,
    config: &TrainConfig,
    cache: &TokenCache,
    mut lead: Option<&mut Lead<'_>>,
    stop: &AtomicBool,
) -> Result<bool, TrainError> {
    while train.state().step < config.steps {
        let t0 = Instant::now();
        let requested = lead.is_some() && stop.load(Ordering::SeqCst);
        let device = train.device().clone();
        let u = train.update(&mut || Ok(stream.next_segment::<B>(&device)), requested)?;
        // The update's time includes its device sync (the loss was read back).
        let seconds = t0.elapsed().as_secs_f64();
        match lead.as_deref_mut() {
            Some(lead) => lead.after_update(train, stream, cache, config, (&u, seconds))?,
            None => {
                if Due::after(config, train.state().step, &u).checkpoint {
                    gather_parts(train)?;
                }
            }
        }
        if u.stop {
            return Ok(true);
        }
    }
    Ok(false)
}
