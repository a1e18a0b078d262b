//! [`train`]: a whole run. It checks the config and data, starts one thread per extra device,
//! joins the collective (on several nodes: checks the nodes against each other, see
//! [`crate::cluster`]), builds the model (or reads the latest checkpoint, node 0's on every
//! node), and runs the loop on every device: [`TrainStep::update`] on the device's
//! [`TrainStream`], and on each node's device 0 also the duties of [`crate::lead`]. At the
//! end, node 0 evaluates valid and test in full with the best weights on validation
//! (reloaded from their checkpoint, as the official scripts do), with the final evaluation's
//! window and batch.
//!
//! Reproducibility: the backend's random generator is reseeded before every segment (see
//! [`crate::step`]). Burn's generators are per process (Flex) or per device, so two runs in
//! one process at once, or several CPU peers with dropout, interleave their draws and are
//! not reproducible; one run per process on the CPU is.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::time::Instant;

use burn::module::Module;
use sru_data::{Cursor, Split, TokenCache};
use sru_model::weights::StateDict;

use crate::TrainingBackend;
use crate::carry;
use crate::checkpoint;
use crate::cluster::{Cluster, greet, share_checkpoint};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::eval::EvalSpec;
use crate::events::{Event, RunOptions, Summary};
use crate::inference::{Which, load_trained};
use crate::lead::{Due, Lead, gather_parts};
use crate::metrics::{self, MetricLine};
use crate::precision::LossScale;
use crate::resume::{History, resume};
use crate::step::{StepState, TrainStep, initial_model, optimizer};
use crate::stream::TrainStream;
use crate::sync::{NodeLink, Peer};

/// The config file of a run folder (node 0's on several nodes).
pub const CONFIG_FILE: &str = "config.toml";

/// The config file node `node` writes into its run folder: [`CONFIG_FILE`] on node 0,
/// `config-node-{node}.toml` on the others (which keep nothing else there), so that a run
/// folder shared by several nodes holds one of each.
pub fn config_file(node: usize) -> String {
    if node == 0 {
        CONFIG_FILE.to_string()
    } else {
        format!("config-node-{node}.toml")
    }
}
/// The checkpoint folder of a run folder.
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// Where every device starts: updates done, data cursor, loss scale, and the carried state
/// of all devices.
#[derive(Clone)]
struct Start {
    step: u64,
    cursor: Cursor,
    loss_scale: LossScale,
    carry: StateDict,
}

impl Start {
    /// Device `rank`'s step state, its carried state loaded onto `device`.
    fn state<B: TrainingBackend>(
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

/// Checks that the corpus fits the model and holds one batch per device.
fn check_data(config: &TrainConfig, cache: &TokenCache) -> Result<(), TrainError> {
    let v = cache.vocab().len();
    if config.model.vocab_size < v {
        return Err(TrainError::config(
            "data",
            format!(
                "the corpus {} has {v} token types but the model's vocabulary is {}",
                config.data.display(),
                config.model.vocab_size
            ),
        ));
    }
    // Fails early with the data's own message when the split is too small.
    TrainStream::new(cache, config, 0, config.world(), Cursor::default())?;
    Ok(())
}

/// The loop every device runs until the last update or a stop; `lead` is `Some` on each
/// node's device 0. Returns whether it stopped on request.
fn run_device<B: TrainingBackend>(
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

/// Checks that `link` fits `config` (one node without a link, `config.nodes` with one).
fn check_link(config: &TrainConfig, link: Option<&NodeLink>) -> Result<(), TrainError> {
    match link {
        None if config.nodes > 1 => Err(TrainError::config(
            "nodes",
            format!(
                "the config trains on {} nodes; give this node its rank and the orchestrator",
                config.nodes
            ),
        )),
        Some(l) if l.nodes != config.nodes => Err(TrainError::config(
            "nodes",
            format!(
                "config asks for {} nodes, the link for {}",
                config.nodes, l.nodes
            ),
        )),
        Some(l) if l.node >= l.nodes => Err(TrainError::config(
            "node_rank",
            format!(
                "node rank {} is not below the node count {}",
                l.node, l.nodes
            ),
        )),
        Some(l) => {
            let port = l.port()?;
            crate::sync::port_free(port).map_err(|e| {
                TrainError::config(
                    "node_address",
                    format!(
                        "this node's data service cannot listen on port {port} ({e}); is \
                             another node or program using it?"
                    ),
                )
            })
        }
        None => Ok(()),
    }
}

/// Node 0's verdict on its run folder: the checkpoint to resume from, or why it cannot start.
fn folder_verdict(
    ckpt_root: &std::path::Path,
    resume: bool,
) -> Result<Option<std::path::PathBuf>, TrainError> {
    if resume {
        checkpoint::latest(ckpt_root)
            .map(Some)
            .ok_or_else(|| TrainError::NoCheckpoint(ckpt_root.to_path_buf()))
    } else if !checkpoint::list(ckpt_root).is_empty() {
        let run_dir = ckpt_root.parent().unwrap_or(ckpt_root);
        Err(TrainError::config(
            "run folder",
            format!(
                "{} already holds checkpoints; resume it or choose another run folder",
                run_dir.display()
            ),
        ))
    } else {
        Ok(None)
    }
}

/// The model, optimizer and start of every device, sent to the device threads once known.
type Parts<B> = (sru_model::LanguageModel<B>, crate::step::Optim<B>, Start);

/// Trains `config` on `devices` (one per data-parallel peer of this node) into
/// `opts.run_dir`; with `opts.link`, together with the other nodes of the run.
///
/// A new run refuses a folder that already holds checkpoints; `opts.resume` continues from
/// the latest one, which must match the config's model and device count. On several nodes,
/// node 0 writes metrics and checkpoints (every node's carried state included) and sends its
/// checkpoint to the others on resume; the others keep only their config ([`config_file`]).
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
    config.validate()?;
    if devices.len() != config.devices {
        return Err(TrainError::config(
            "devices",
            format!(
                "config asks for {} devices, {} given",
                config.devices,
                devices.len()
            ),
        ));
    }
    let link = opts.link.as_ref();
    check_link(config, link)?;
    let cache = TokenCache::open(&config.data)?;
    check_data(config, &cache)?;
    let run_dir = &opts.run_dir;
    let ckpt_root = run_dir.join(CHECKPOINTS_DIR);
    std::fs::create_dir_all(run_dir).map_err(TrainError::io(run_dir))?;
    let device0 = devices[0].clone();
    let node = link.map_or(0, |l| l.node);
    let writes = node == 0;

    // Node 0's run folder decides; on one node a refusal ends the run here.
    let verdict = if writes {
        folder_verdict(&ckpt_root, opts.resume)
    } else {
        Ok(None)
    };
    let (mut resume_dir, refusal) = match (verdict, link) {
        (Ok(dir), _) => (dir, None),
        (Err(e), None) => return Err(e),
        (Err(e), Some(_)) => (None, Some(e.to_string())),
    };

    // Other devices: a thread each (not scoped: after a failure on device 0 they may stay
    // blocked in the collective, which `Peer::reset` abandons). Each joins the collective,
    // takes part in the start's exchanges, then trains a copy of the model sent to it.
    let world = config.world();
    let scratch = run_dir.join(format!(".resume-node-{node}"));
    let mut workers = Vec::new();
    let mut parts_tx = Vec::new();
    for (r, device) in devices.iter().enumerate().skip(1) {
        let (tx, rx) = channel::<Parts<B>>();
        parts_tx.push((tx, device.clone()));
        let (config, device, link) = (config.clone(), device.clone(), link.cloned());
        let (resume, scratch) = (opts.resume, scratch.clone());
        workers.push(std::thread::spawn(move || -> Result<(), TrainError> {
            let cache = TokenCache::open(&config.data)?;
            let peer = Peer::join::<B>(r, config.devices, link.as_ref(), &device)?;
            if let Some(l) = &link {
                greet::<B::InnerBackend>(&peer, l, &config, &cache, resume, None, &device)?;
                if resume {
                    share_checkpoint::<B::InnerBackend>(&peer, None, &scratch, &device)?;
                }
            }
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
    let peer = Peer::join::<B>(0, config.devices, link, &device0).map_err(|e| match (link, e) {
        (Some(l), TrainError::Collective { why, .. }) => TrainError::Node {
            node: None,
            why: format!(
                "{why}; is the orchestrator running at {} and is every node started with \
                 --nodes {}?",
                l.orchestrator, l.nodes
            ),
        },
        (_, e) => e,
    })?;
    let cluster: Option<Cluster> = match link {
        Some(l) => {
            let c =
                greet::<B::InnerBackend>(&peer, l, config, &cache, opts.resume, refusal, &device0)?;
            if opts.resume
                && let Some(dir) = share_checkpoint::<B::InnerBackend>(
                    &peer,
                    resume_dir.as_deref(),
                    &scratch,
                    &device0,
                )?
            {
                resume_dir = Some(dir);
            }
            Some(c)
        }
        None => None,
    };

    // The model: initialised from the seed, or the latest checkpoint's weights.
    let mut model = initial_model::<B>(config, &device0)?;
    let mut optim = optimizer::<B>(config);
    let mut start = Start {
        step: 0,
        cursor: Cursor::default(),
        loss_scale: LossScale::for_precision(config.precision),
        carry: StateDict::new(),
    };
    let mut history = History::default();
    let mut resumed_from = None;
    if let Some(dir) = resume_dir.as_deref().filter(|_| opts.resume) {
        let r = resume(dir, config, model, optim, &device0)?;
        (model, optim) = (r.model, r.optim);
        start = Start {
            step: r.state.step,
            cursor: r.state.cursor,
            loss_scale: r.state.loss_scale,
            carry: r.carry,
        };
        if writes {
            metrics::rewrite(run_dir, &r.state.metrics)?;
            resumed_from = Some(r.from);
        } else {
            // The copy of node 0's checkpoint has served.
            std::fs::remove_dir_all(&scratch).map_err(TrainError::io(&scratch))?;
        }
        history = History {
            metrics: r.state.metrics,
            best: r.state.best,
            elapsed_s: r.state.elapsed_s,
            window: r.state.window,
        };
    } else if writes {
        metrics::rewrite(run_dir, &[])?;
    }
    let config_path = run_dir.join(config_file(node));
    std::fs::write(&config_path, config.to_toml()).map_err(TrainError::io(&config_path))?;

    let params = config.model.num_params();
    on_event(Event::Started {
        params,
        tokens_per_step: config.tokens_per_step(),
        start_step: start.step,
        steps: config.steps,
        resumed_from,
    });

    // Other devices: a copy of the same model (same parameter ids) and optimizer each.
    for (tx, device) in parts_tx {
        let _ = tx.send((model.clone().fork(&device), optim.clone(), start.clone()));
    }
    let state = start.state::<B>(peer.rank, config, &device0)?;
    let mut train = TrainStep::from_parts(config, model, optim, state, peer, device0);
    let mut stream = TrainStream::new(&cache, config, peer.rank, world, start.cursor)?;
    let mut lead = Lead {
        run_dir: run_dir.clone(),
        on_event,
        history,
        train_seconds: 0.0,
        train_tokens: 0,
        last_valid: None,
        last_checkpoint: None,
        writes,
        params,
    };
    let outcome = run_device(
        &mut train,
        &mut stream,
        config,
        &cache,
        Some(&mut lead),
        opts.stop,
    );
    let interrupted = match outcome {
        Ok(stopped) => stopped,
        Err(e) => {
            if let Some(c) = &cluster {
                return Err(c.diagnose(e));
            }
            if world > 1 {
                Peer::reset::<B>();
            }
            return Err(e);
        }
    };
    peer.leave::<B>();
    for w in workers {
        w.join().map_err(|_| TrainError::Collective {
            rank: None,
            why: "a device thread panicked".into(),
        })??;
    }

    let (mut final_valid, mut final_test, mut final_step) = (None, None, None);
    if !interrupted && config.final_eval && writes {
        let step = train.state().step;
        let best = lead.history.best.map(|b| b.step).filter(|&b| b != step);
        let (model, from) = match best {
            Some(b) if ckpt_root.join(checkpoint::folder_name(b)).is_dir() => {
                let dir = ckpt_root.join(checkpoint::folder_name(b));
                let t = load_trained::<B::InnerBackend>(&dir, Which::Best, train.device())?;
                (t.model, b)
            }
            _ => (train.inference_model(), step),
        };
        final_step = Some(from);
        for split in [Split::Valid, Split::Test] {
            if cache.is_empty(split) {
                continue;
            }
            let spec = EvalSpec {
                split,
                batch: config.final_eval_batch_size,
                unroll: config.eval_unroll,
                max_tokens: None,
            };
            let r = lead.evaluate(&model, from, train.device(), &cache, &spec)?;
            let name = format!("final_{}", split.name());
            let line =
                MetricLine::new(step, &name, r.loss, r.tokens, lead.elapsed()).with_flops(config);
            lead.log(line)?;
            match split {
                Split::Valid => final_valid = Some(r),
                _ => final_test = Some(r),
            }
        }
    }
    Ok(Summary {
        step: train.state().step,
        interrupted,
        last_valid: lead.last_valid,
        best: lead.history.best,
        final_step,
        final_valid,
        final_test,
        train_seconds: lead.train_seconds,
        train_tokens: lead.train_tokens,
        last_checkpoint: lead.last_checkpoint,
        paper_mismatch: config.paper_mismatch(),
    })
}
