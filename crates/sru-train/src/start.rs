//! Stage 1 of [`crate::train`]: the start of a run on this node. It checks the config
//! against the devices, the link to the other nodes and the corpus; makes the run folder and
//! takes node 0's verdict on it (a new run refuses a folder that holds checkpoints, a resumed
//! one needs one; on one node a refusal ends the run here, on several every node is told);
//! starts a thread for every device but the first ([`Workers`]) and joins the collective on
//! device 0 too; on several nodes the nodes check one another and, on resume, node 0 sends
//! its checkpoint to all ([`crate::cluster`]).

use std::path::PathBuf;

use sru_data::{Cursor, TokenCache};

use crate::backend::TrainingBackend;
use crate::checkpoint;
use crate::cluster::{self, Arrival, Cluster};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::events::RunOptions;
use crate::layout::{CHECKPOINTS_DIR, resume_scratch};
use crate::replica::Workers;
use crate::stream::TrainStream;
use crate::sync::Peer;

/// This node after the start: its corpus, device 0's place in the collective, the other
/// nodes, and the checkpoint to resume from.
pub(crate) struct Joined {
    /// The corpus.
    pub cache: TokenCache,
    /// Device 0's peer.
    pub peer: Peer,
    /// The nodes of the run (`None` on one node).
    pub cluster: Option<Cluster>,
    /// The checkpoint to resume from: node 0's latest; on the other nodes their copy of it
    /// under [`Joined::scratch`].
    pub resume_dir: Option<PathBuf>,
    /// Where a node other than 0 keeps its copy of node 0's checkpoint.
    pub scratch: PathBuf,
    /// This node's index.
    pub node: usize,
    /// This is node 0, which writes metrics and checkpoints.
    pub writes: bool,
}

/// Checks that the corpus fits the model and holds one batch per device.
fn check_data(config: &TrainConfig, cache: &TokenCache) -> Result<(), TrainError> {
    let v = cache.vocab().len();
    if config.model.vocab_size() < v {
        return Err(TrainError::config(
            "data",
            format!(
                "the corpus {} has {v} token types but the model's vocabulary is {}",
                config.data.display(),
                config.model.vocab_size()
            ),
        ));
    }
    // Fails early with the data's own message when the split is too small.
    TrainStream::new(cache, config, 0, config.world(), Cursor::default())?;
    Ok(())
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

/// Starts the run on this node: the checks, the run folder, every device joined to the
/// collective (the others on the returned threads) and, on several nodes, the nodes' check
/// of one another and node 0's checkpoint shared on resume.
///
/// # Errors
/// Bad configs, links or data; a run folder that refuses the run; a failed join or exchange;
/// a node that differs.
pub(crate) fn start<B: TrainingBackend>(
    config: &TrainConfig,
    devices: &[B::Device],
    opts: &RunOptions<'_>,
) -> Result<(Joined, Workers<B>), TrainError> {
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
    cluster::check_link(config, link)?;
    let cache = TokenCache::open(&config.data)?;
    check_data(config, &cache)?;
    let run_dir = &opts.run_dir;
    let ckpt_root = run_dir.join(CHECKPOINTS_DIR);
    std::fs::create_dir_all(run_dir).map_err(TrainError::io(run_dir))?;
    let device0 = &devices[0];
    let node = link.map_or(0, |l| l.node);
    let writes = node == 0;

    // Node 0's run folder decides; on one node a refusal ends the run here.
    let verdict = if writes {
        folder_verdict(&ckpt_root, opts.resume)
    } else {
        Ok(None)
    };
    let (resume_dir, refusal) = match (verdict, link) {
        (Ok(dir), _) => (dir, None),
        (Err(e), None) => return Err(e),
        (Err(e), Some(_)) => (None, Some(e.to_string())),
    };

    // Every device joins the collective: the others on their threads first, since device 0's
    // join waits for them.
    let scratch = resume_scratch(run_dir, node);
    let workers = Workers::<B>::spawn(config, devices, link, opts.resume, &scratch);
    let peer = cluster::join_first::<B>(config.devices, link, device0)?;
    let arrival = Arrival {
        config,
        cache: &cache,
        resume: opts.resume,
        refusal,
        resume_dir,
        scratch: &scratch,
    };
    let (cluster, resume_dir) = cluster::meet::<B::InnerBackend>(&peer, link, arrival, device0)?;
    let joined = Joined {
        cache,
        peer,
        cluster,
        resume_dir,
        scratch,
        node,
        writes,
    };
    Ok((joined, workers))
}
