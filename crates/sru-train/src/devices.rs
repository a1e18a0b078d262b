//! Stage 3 of [`crate::train`]: training on every device of this node until the last update
//! or a stop. Device 0 sends the other devices' threads their copy of the model and
//! optimizer, then runs the same loop ([`crate::replica::run_device`]) on the caller's thread
//! with the duties of [`crate::lead`]; when it is done it leaves the collective and waits for
//! the other devices.

use crate::backend::TrainingBackend;
use crate::cluster;
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::events::{Event, RunOptions};
use crate::init::Init;
use crate::lead::Lead;
use crate::replica::{Workers, run_device};
use crate::start::Joined;
use crate::step::TrainStep;
use crate::stream::TrainStream;

/// This node's training, done: device 0's step and lead, and how it ended.
pub(crate) struct Ran<'a, B: TrainingBackend> {
    /// Device 0's training step after its last update.
    pub train: TrainStep<B>,
    /// Device 0's duties: history, times, the last validation and checkpoint.
    pub lead: Lead<'a>,
    /// It stopped on request before the last update.
    pub interrupted: bool,
}

/// Trains `init` on `device` (device 0) and on the `workers`' devices until the last update
/// or a stop request (`opts.stop`), reporting to `on_event`.
///
/// # Errors
/// Any device's error (on several nodes with the node that is gone named); a non-finite loss
/// or gradient norm; a failed checkpoint.
pub(crate) fn run_devices<'a, B: TrainingBackend>(
    config: &TrainConfig,
    joined: &Joined,
    mut workers: Workers<B>,
    init: Init<B>,
    device: B::Device,
    opts: &RunOptions<'_>,
    on_event: &'a mut dyn FnMut(Event),
) -> Result<Ran<'a, B>, TrainError> {
    let Init {
        model,
        optim,
        start,
        history,
        params,
    } = init;
    let (peer, world) = (joined.peer, config.world());
    // Other devices: a copy of the same model (same parameter ids) and optimizer each.
    workers.send(&model, &optim, &start);
    let state = start.state::<B>(peer.rank, config, &device)?;
    let mut train = TrainStep::from_parts(config, model, optim, state, peer, device);
    let mut stream = TrainStream::new(&joined.cache, config, peer.rank, world, start.cursor)?;
    let mut lead = Lead {
        run_dir: opts.run_dir.clone(),
        on_event,
        history,
        train_seconds: 0.0,
        train_tokens: 0,
        last_valid: None,
        last_checkpoint: None,
        writes: joined.writes,
        params,
    };
    let outcome = run_device(
        &mut train,
        &mut stream,
        config,
        &joined.cache,
        Some(&mut lead),
        opts.stop,
    );
    let interrupted = match outcome {
        Ok(stopped) => stopped,
        Err(e) => {
            return Err(cluster::after_failure::<B>(
                joined.cluster.as_ref(),
                world,
                e,
            ));
        }
    };
    peer.leave::<B>();
    workers.join()?;
    Ok(Ran {
        train,
        lead,
        interrupted,
    })
}
