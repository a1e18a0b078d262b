//! Training on several nodes: what the nodes check with each other and tell each other
//! besides gradients, and what a run does differently there. Before anything else
//! [`check_link`] checks this node's link against the config (and that its data-service port
//! is free). At the start every node describes itself (its rank, data-service
//! address, config, corpus, and node 0's verdict on the run folder) and all descriptions are
//! gathered, so a node started with another config, model or corpus is refused by all with
//! the same message. On resume node 0 sends its latest checkpoint to the others
//! (`share.rs`); [`meet`] is both exchanges, for every device. When an exchange fails,
//! [`Cluster::diagnose`] probes every node's data service to name the one that is gone
//! ([`after_failure`]). [`run_orchestrator`] serves Burn's global orchestrator.

mod share;

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use burn::tensor::backend::{AutodiffBackend, Backend};
use serde::{Deserialize, Serialize};
use sru_data::TokenCache;

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::sync::{NodeLink, Peer, port_free, ws_host_port};
use share::share_checkpoint;

/// Checks that `link` fits `config` (one node without a link, `config.nodes` with one), and
/// that this node's data service can listen on its port.
///
/// # Errors
/// [`TrainError::Config`] naming the setting.
pub(crate) fn check_link(config: &TrainConfig, link: Option<&NodeLink>) -> Result<(), TrainError> {
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
            port_free(port).map_err(|e| {
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

/// What one node says about itself at the start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Hello {
    node: usize,
    address: String,
    /// The config, without the settings that may differ between machines (the data path).
    config: String,
    /// The corpus: vocabulary size, tokens per split, checksum of the token bytes.
    corpus: (usize, [u64; 3], u32),
    resume: bool,
    /// Why node 0 cannot start (a run folder that holds checkpoints, nothing to resume).
    refusal: Option<String>,
}

/// The nodes of a run as this node knows them.
#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    /// How this node reaches the others.
    pub link: NodeLink,
    /// Every node's data-service address, by node.
    pub addresses: Vec<String>,
}

/// The config as the nodes compare it: every line but the data path.
fn comparable(config: &TrainConfig) -> String {
    config
        .to_toml()
        .lines()
        .filter(|l| !l.starts_with("data ="))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first line where two configs differ.
fn first_difference(a: &str, b: &str) -> String {
    let (mut la, mut lb) = (a.lines(), b.lines());
    loop {
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => {
                return format!(
                    "`{}` against `{}`",
                    x.unwrap_or("(nothing)"),
                    y.unwrap_or("(nothing)")
                );
            }
        }
    }
}

/// Checks, with every node, that all run the same config on the same corpus (all devices
/// of this node take part; `refusal` is node 0's verdict on its run folder).
///
/// # Errors
/// [`TrainError::Node`] naming the node that differs (the same on every node).
fn greet<B: Backend>(
    peer: &Peer,
    link: &NodeLink,
    config: &TrainConfig,
    cache: &TokenCache,
    resume: bool,
    refusal: Option<String>,
    device: &B::Device,
) -> Result<Cluster, TrainError> {
    // First an exchange whose shape does not depend on the settings: a gather over another
    // device count would not fit together.
    let counts = peer.sum_fixed::<B>(&[1.0, config.devices as f64, link.nodes as f64], device)?;
    let world = config.world() as f64;
    if counts[0] != world
        || counts[1] != world * config.devices as f64
        || counts[2] != world * link.nodes as f64
    {
        return Err(TrainError::Node {
            node: None,
            why: format!(
                "the nodes disagree on --devices or --nodes: this node has {} devices of {} \
                 nodes, but {} devices joined",
                config.devices, link.nodes, counts[0]
            ),
        });
    }
    let info = cache.info();
    let own = Hello {
        node: link.node,
        address: link.address.clone(),
        config: comparable(config),
        corpus: (info.vocab_size, info.counts, info.checksum),
        resume,
        refusal,
    };
    let bytes = serde_json::to_vec(&own).map_err(|e| TrainError::Node {
        node: Some(link.node),
        why: e.to_string(),
    })?;
    let all = peer.gather::<B>(&bytes, device)?;
    let devices = config.devices;
    let mut hellos = Vec::with_capacity(link.nodes);
    for node in 0..link.nodes {
        let h: Hello =
            serde_json::from_slice(&all[node * devices]).map_err(|_| TrainError::Node {
                node: Some(node),
                why: "its description did not arrive intact: do two nodes share one --node-rank?"
                    .into(),
            })?;
        if h.node != node {
            return Err(TrainError::Node {
                node: Some(h.node),
                why: format!("it took rank {node}'s place: is --node-rank given twice?"),
            });
        }
        hellos.push(h);
    }
    let first = &hellos[0];
    if let Some(why) = &first.refusal {
        return Err(TrainError::Node {
            node: Some(0),
            why: why.clone(),
        });
    }
    for h in &hellos[1..] {
        let differs = |what: &str, detail: String| TrainError::Node {
            node: Some(h.node),
            why: format!("it was started with a different {what} than node 0: {detail}"),
        };
        if h.config != first.config {
            return Err(differs(
                "config",
                format!(
                    "node 0 has {}",
                    first_difference(&first.config, &h.config).replacen(
                        "against",
                        &format!("and node {} has", h.node),
                        1
                    )
                ),
            ));
        }
        if h.corpus != first.corpus {
            return Err(differs(
                "corpus",
                format!(
                    "vocabulary, token counts and checksum {:?} against node 0's {:?}",
                    h.corpus, first.corpus
                ),
            ));
        }
        if h.resume != first.resume {
            return Err(differs(
                "--resume",
                "resume on every node or on none".into(),
            ));
        }
    }
    Ok(Cluster {
        link: link.clone(),
        addresses: hellos.into_iter().map(|h| h.address).collect(),
    })
}

/// The socket address of a `ws://HOST:PORT` address.
fn socket_of(address: &str) -> Option<std::net::SocketAddr> {
    ws_host_port(address)?.to_socket_addrs().ok()?.next()
}

impl Cluster {
    /// `e` with the nodes that cannot be reached named, when it is a failed exchange.
    pub fn diagnose(&self, e: TrainError) -> TrainError {
        let TrainError::Collective { why, .. } = &e else {
            return e;
        };
        let gone: Vec<usize> = (0..self.addresses.len())
            .filter(|&n| n != self.link.node)
            .filter(|&n| {
                socket_of(&self.addresses[n])
                    .is_none_or(|a| TcpStream::connect_timeout(&a, Duration::from_secs(3)).is_err())
            })
            .collect();
        let others: Vec<usize> = (0..self.addresses.len())
            .filter(|&n| n != self.link.node)
            .collect();
        match gone.as_slice() {
            [] => TrainError::Node {
                node: (others.len() == 1).then(|| others[0]),
                why: format!(
                    "{why}; the data service of node{} {} still accepts connections, so it is \
                     stuck or overloaded rather than gone (node {} stops here, the last \
                     checkpoint stays usable)",
                    if others.len() == 1 { "" } else { "s" },
                    others
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.link.node
                ),
            },
            [n, ..] => TrainError::Node {
                node: Some(*n),
                why: format!(
                    "node {n} at {} cannot be reached: it stopped or its machine is down ({why}); \
                     node {} stops here, the last checkpoint stays usable",
                    self.addresses[*n], self.link.node
                ),
            },
        }
    }
}

/// Joins the collective as this node's device 0 (see [`Peer::join`]); on several nodes a
/// failed join asks whether the orchestrator runs and every node was given the node count.
///
/// # Errors
/// As [`Peer::join`]; on several nodes a failed registration is a [`TrainError::Node`].
pub(crate) fn join_first<B: AutodiffBackend>(
    devices: usize,
    link: Option<&NodeLink>,
    device: &B::Device,
) -> Result<Peer, TrainError> {
    Peer::join::<B>(0, devices, link, device).map_err(|e| match (link, e) {
        (Some(l), TrainError::Collective { why, .. }) => TrainError::Node {
            node: None,
            why: format!(
                "{why}; is the orchestrator running at {} and is every node started with \
                 --nodes {}?",
                l.orchestrator, l.nodes
            ),
        },
        (_, e) => e,
    })
}

/// What a device brings to the start's exchanges with the other nodes ([`meet`]).
pub(crate) struct Arrival<'a> {
    /// The run's config.
    pub config: &'a TrainConfig,
    /// The corpus.
    pub cache: &'a TokenCache,
    /// The run resumes from node 0's latest checkpoint.
    pub resume: bool,
    /// Why node 0 cannot start (its device 0 only; `None` everywhere else).
    pub refusal: Option<String>,
    /// The checkpoint node 0 resumes from (its device 0 only; `None` everywhere else).
    pub resume_dir: Option<PathBuf>,
    /// Where each other node's device 0 writes its copy of that checkpoint.
    pub scratch: &'a Path,
}

/// This device's part in the start's exchanges with the other nodes, when there are some
/// (`link`): the check of every node against the others ([`greet`], with node 0's verdict on
/// its run folder), then on resume node 0's checkpoint sent to every node
/// ([`share_checkpoint`]). Returns the nodes (`None` on one node) and the checkpoint to resume
/// from: `arrival.resume_dir`, or on each other node's device 0 its copy of node 0's.
///
/// # Errors
/// [`TrainError::Node`] naming the node that differs; a failed exchange; unreadable or
/// unwritable checkpoint files.
pub(crate) fn meet<B: Backend>(
    peer: &Peer,
    link: Option<&NodeLink>,
    arrival: Arrival<'_>,
    device: &B::Device,
) -> Result<(Option<Cluster>, Option<PathBuf>), TrainError> {
    let Arrival {
        config,
        cache,
        resume,
        refusal,
        mut resume_dir,
        scratch,
    } = arrival;
    let Some(l) = link else {
        return Ok((None, resume_dir));
    };
    let c = greet::<B>(peer, l, config, cache, resume, refusal, device)?;
    if resume
        && let Some(dir) = share_checkpoint::<B>(peer, resume_dir.as_deref(), scratch, device)?
    {
        resume_dir = Some(dir);
    }
    Ok((Some(c), resume_dir))
}

/// The error a run on this node's devices ends with after `e`: on several nodes, `e` with
/// the node that is gone named ([`Cluster::diagnose`]); on one node with several devices `e`
/// after the collective was reset, so that another run can start in this process.
pub(crate) fn after_failure<B: AutodiffBackend>(
    cluster: Option<&Cluster>,
    world: usize,
    e: TrainError,
) -> TrainError {
    if let Some(c) = cluster {
        return c.diagnose(e);
    }
    if world > 1 {
        Peer::reset::<B>();
    }
    e
}

/// Serves Burn's global orchestrator on `port` (every interface) until Ctrl-C or SIGTERM.
/// It introduces the nodes of each run to one another; it carries no training data.
///
/// # Errors
/// The port is taken; the server could not start.
pub fn run_orchestrator(port: u16) -> Result<(), TrainError> {
    port_free(port).map_err(|e| TrainError::Node {
        node: None,
        why: format!("the orchestrator cannot listen on port {port}: {e}"),
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| TrainError::Node {
            node: None,
            why: format!("cannot start the orchestrator's runtime: {e}"),
        })?;
    runtime.block_on(burn_collective::start_global_orchestrator(port));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::first_difference;

    #[test]
    fn config_differences_are_named() {
        let d = first_difference("a = 1\nlr = 0.1\n", "a = 1\nlr = 0.2\n");
        assert_eq!(d, "`lr = 0.1` against `lr = 0.2`");
    }
}
