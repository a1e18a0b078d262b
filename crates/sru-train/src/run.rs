//! [`train`]: a whole run, as four stages, each a function of its own module:
//!
//! 1. start ([`crate::start`]): the config checked against the devices, the node link and
//!    the data; the run folder; one thread per extra device, and every device joined to the
//!    collective (on several nodes: the nodes checked against each other and, on resume, node
//!    0's checkpoint sent to all, see [`crate::cluster`]);
//! 2. init or resume ([`crate::init`]): the model and optimizer from the seed, or from the
//!    latest checkpoint (node 0's on every node);
//! 3. run on devices ([`crate::devices`]): the loop on every device,
//!    [`crate::step::TrainStep::update`] on the device's [`crate::TrainStream`], and on each
//!    node's device 0 also the duties of [`crate::lead`];
//! 4. final evaluation ([`crate::finish`]): node 0 evaluates valid and test in full with the
//!    best weights on validation (reloaded from their checkpoint, as the official scripts do),
//!    with the final evaluation's window and batch.
//!
//! Reproducibility: the backend's random generator is reseeded before every segment (see
//! [`crate::step`]). Burn's generators are per process (Flex) or per device, so two runs in
//! one process at once, or several CPU peers with dropout, interleave their draws and are
//! not reproducible; one run per process on the CPU is.

use crate::backend::TrainingBackend;
use crate::config::TrainConfig;
use crate::devices::run_devices;
use crate::error::TrainError;
use crate::events::{Event, RunOptions, Summary};
use crate::finish::{final_eval, summary};
use crate::init::init_or_resume;
use crate::start::start;

/// Trains `config` on `devices` (one per data-parallel peer of this node) into
/// `opts.run_dir`; with `opts.link`, together with the other nodes of the run.
///
/// A new run refuses a folder that already holds checkpoints; `opts.resume` continues from
/// the latest one, which must match the config's model and device count. On several nodes,
/// node 0 writes metrics and checkpoints (every node's carried state included) and sends its
/// checkpoint to the others on resume; the others keep only their config
/// ([`crate::config_file`]).
///
/// # Errors
/// Bad configs or data, unreadable checkpoints, I/O failures, a non-finite loss or gradient
/// norm ([`TrainError::NonFinite`]; the last good checkpoint is kept), a node that differs,
/// is lost or stops answering ([`TrainError::Node`]).
pub fn train<B: TrainingBackend>(
    config: &TrainConfig,
    devices: &[B::Device],
    opts: &RunOptions<'_>,
    on_event: &mut dyn FnMut(Event),
) -> Result<Summary, TrainError> {
    // 1. Checks, the run folder, this node's devices (and the other nodes) in the collective.
    let (joined, workers) = start::<B>(config, devices, opts)?;
    // 2. The model, optimizer and starting point: from the seed, or the latest checkpoint.
    let init = init_or_resume::<B>(config, &joined, opts, &devices[0], on_event)?;
    // 3. The loop on every device until the last update or a stop.
    let device = devices[0].clone();
    let mut ran = run_devices(config, &joined, workers, init, device, opts, on_event)?;
    // 4. The final evaluation on the best weights (node 0), then the summary.
    let finals = final_eval(config, &joined, &mut ran, opts)?;
    Ok(summary(config, ran, finals))
}
