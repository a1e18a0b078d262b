//! Training on several nodes: what the nodes check with each other and tell each other
//! besides gradients. At the start every node describes itself (its rank, data-service
//! address, config, corpus, and node 0's verdict on the run folder) and all descriptions are
//! gathered, so a node started with another config, model or corpus is refused by all with
//! the same message. On resume node 0 sends its latest checkpoint to the others. When an
//! exchange fails, [`Cluster::diagnose`] probes every node's data service to name the one
//! that is gone. [`run_orchestrator`] serves Burn's global orchestrator.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use sru_data::TokenCache;

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::sync::{NodeLink, Peer, port_free, ws_host_port};

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
pub(crate) fn greet<B: Backend>(
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

/// Sends node 0's checkpoint `dir` to every node (all devices of every node take part);
/// the others write it under `scratch` and return its folder there.
///
/// # Errors
/// Unreadable or unwritable files, a failed exchange.
pub(crate) fn share_checkpoint<B: Backend>(
    peer: &Peer,
    dir: Option<&Path>,
    scratch: &Path,
    device: &B::Device,
) -> Result<Option<PathBuf>, TrainError> {
    // An archive: for every file, its name's and content's lengths (u64 LE) and bytes.
    let mut archive = Vec::new();
    if let Some(dir) = dir {
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        push_entry(&mut archive, name.as_bytes(), &[]);
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(TrainError::io(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).map_err(TrainError::io(&f))?;
            let name = f.file_name().unwrap_or_default().to_string_lossy();
            push_entry(&mut archive, name.as_bytes(), &bytes);
        }
    }
    let own = (peer.rank == 0).then_some(archive.as_slice());
    let archive = peer.broadcast::<B>(own, device)?;
    let devices = (peer.world / peer.nodes).max(1);
    if dir.is_some() || !peer.rank.is_multiple_of(devices) {
        return Ok(None);
    }
    let bad = || TrainError::checkpoint(scratch, "node 0's checkpoint arrived damaged");
    let mut entries = entries(&archive).ok_or_else(bad)?.into_iter();
    let (folder, _) = entries.next().ok_or_else(bad)?;
    let folder = scratch.join(String::from_utf8_lossy(folder).as_ref());
    if scratch.exists() {
        std::fs::remove_dir_all(scratch).map_err(TrainError::io(scratch))?;
    }
    std::fs::create_dir_all(&folder).map_err(TrainError::io(&folder))?;
    for (name, bytes) in entries {
        let name = String::from_utf8_lossy(name);
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            return Err(bad());
        }
        let path = folder.join(name.as_ref());
        std::fs::write(&path, bytes).map_err(TrainError::io(&path))?;
    }
    Ok(Some(folder))
}

fn push_entry(out: &mut Vec<u8>, name: &[u8], bytes: &[u8]) {
    out.extend_from_slice(&(name.len() as u64).to_le_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn entries(mut archive: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    fn take<'a>(a: &mut &'a [u8]) -> Option<&'a [u8]> {
        let (len, rest) = a.split_at_checked(8)?;
        let len = usize::try_from(u64::from_le_bytes(len.try_into().ok()?)).ok()?;
        let (v, rest) = rest.split_at_checked(len)?;
        *a = rest;
        Some(v)
    }
    let mut out = Vec::new();
    while !archive.is_empty() {
        let name = take(&mut archive)?;
        let bytes = take(&mut archive)?;
        out.push((name, bytes));
    }
    Some(out)
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
    use super::{entries, first_difference, push_entry};

    #[test]
    fn archives_read_back() {
        let mut a = Vec::new();
        push_entry(&mut a, b"step-00000010", &[]);
        push_entry(&mut a, b"model.safetensors", &[1, 2, 3]);
        let e = entries(&a).expect("well formed");
        assert_eq!(
            e,
            vec![
                (&b"step-00000010"[..], &[][..]),
                (&b"model.safetensors"[..], &[1u8, 2, 3][..])
            ]
        );
        assert!(entries(&a[..a.len() - 1]).is_none());
    }

    #[test]
    fn config_differences_are_named() {
        let d = first_difference("a = 1\nlr = 0.1\n", "a = 1\nlr = 0.2\n");
        assert_eq!(d, "`lr = 0.1` against `lr = 0.2`");
    }
}
