//! Data parallelism through Burn's collective (`burn::collective`): one peer per device, each
//! a thread with its own model copy and data shard, on one machine or on several (nodes, each
//! a process; Burn's global collective links them through an orchestrator and a WebSocket
//! data service per node, see [`crate::cluster`]). After every update's backward pass the
//! peers average their gradients with one all-reduce, so the optimizer steps (and the
//! weights) stay identical everywhere. A small status vector (loss, stop request) is summed
//! in the same way, so all peers take the same decisions about NaN, interruption and
//! checkpoints. With one device nothing is exchanged and no collective is started.
//!
//! The gradients travel as one flat buffer, the parameters in declaration order. Burn's own
//! `GradientsParams::all_reduce` pairs tensors by `ParamId`, which is random per process, so
//! two separately started processes would add up different parameters' gradients.
//!
//! Other values travel through the same all-reduce: [`Peer::gather`] (every peer's bytes, each
//! in its own slot of zeros) and [`Peer::broadcast`] (peer 0's bytes). Bytes are packed three
//! to an f32 as integers below 2²⁴, which any sum with zeros keeps exact.
//!
//! On several nodes every exchange is bounded in time ([`Peer::patience`]): a node that
//! stops answering makes the others fail with [`TrainError::Collective`] instead of waiting
//! forever.
//!
//! One job per file: this one the collective calls ([`Peer`]); `net.rs` how a node is reached
//! ([`NodeLink`], [`ws_host_port`]); `pack.rs` the bytes packed into f32; `flat.rs` the
//! gradients flattened in declaration order and put back.

mod flat;
mod net;
mod pack;

pub(crate) use net::port_free;
pub use net::{NodeLink, ws_host_port};

use std::sync::mpsc;
use std::time::Duration;

use burn::collective::{self, CollectiveConfig, CollectiveError, PeerId, ReduceOperation};
use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData, TensorPrimitive};

use crate::error::TrainError;
use pack::{BYTES_PER_VALUE, pack, unpack};

/// The largest buffer (f32 elements) one all-reduce carries: the data service sends each
/// node's share as one WebSocket frame, at most 512 MiB. Gradient buffers stay in one piece
/// up to 2²⁷ parameters (134 M); larger ones, and large gathers, go in pieces of this size.
const MAX_ELEMENTS: usize = 1 << 27;

/// One peer of the collective (or a lone device).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peer {
    /// This device's rank over all nodes: `node × devices + device`.
    pub rank: usize,
    /// Devices in all: `nodes × devices`.
    pub world: usize,
    /// Nodes (processes) in all.
    pub nodes: usize,
    /// The longest wait for the other nodes in one exchange (`None`: no bound; local peers).
    pub patience: Option<Duration>,
}

/// Turns a failure of peer `rank`'s collective call into [`TrainError::Collective`].
fn err<E: std::fmt::Debug>(rank: usize) -> impl Fn(E) -> TrainError {
    move |e| TrainError::Collective {
        rank: Some(rank),
        why: format!("{e:?}"),
    }
}

/// Runs `f` (a blocking collective call) and waits at most `patience` for it; the call is
/// abandoned on its own thread when it does not return in time.
fn bounded<T: Send + 'static>(
    rank: usize,
    patience: Option<Duration>,
    what: &str,
    f: impl FnOnce() -> Result<T, CollectiveError> + Send + 'static,
) -> Result<T, TrainError> {
    let Some(limit) = patience else {
        return f().map_err(err(rank));
    };
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("sru-collective".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(err(rank))?;
    match rx.recv_timeout(limit) {
        Ok(r) => r.map_err(err(rank)),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(TrainError::Collective {
            rank: Some(rank),
            why: format!(
                "no answer from the other nodes within {} s ({what})",
                limit.as_secs_f64()
            ),
        }),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(TrainError::Collective {
            rank: Some(rank),
            why: format!("the collective failed during {what}"),
        }),
    }
}

impl Peer {
    /// A lone device: nothing is exchanged.
    pub fn single() -> Peer {
        Peer {
            rank: 0,
            world: 1,
            nodes: 1,
            patience: None,
        }
    }

    /// Joins the collective as device `device_index` of `devices` on this node, and through
    /// `link` with the other nodes (blocks until every device of every node has joined, at
    /// most `link.join_timeout`).
    ///
    /// # Errors
    /// A bad address; the collective refused the registration; the other nodes did not
    /// join in time.
    pub fn join<B: AutodiffBackend>(
        device_index: usize,
        devices: usize,
        link: Option<&NodeLink>,
        device: &B::Device,
    ) -> Result<Peer, TrainError> {
        let (node, nodes) = link.map_or((0, 1), |l| (l.node, l.nodes));
        let peer = Peer {
            rank: node * devices + device_index,
            world: nodes * devices,
            nodes,
            // The wait is bounded on each node's first device, the one that talks to the
            // other nodes; the others wait for it (it may be evaluating).
            patience: link.filter(|_| device_index == 0).map(|l| l.timeout),
        };
        if peer.world == 1 {
            return Ok(peer);
        }
        let mut config = CollectiveConfig::default().with_num_devices(devices);
        if let Some(l) = link {
            let parse = |setting, a: &str| {
                a.parse()
                    .map_err(|e| TrainError::config(setting, format!("`{a}`: {e}")))
            };
            config = config
                .with_num_nodes(nodes as u32)
                .with_global_address(parse("orchestrator", &l.orchestrator)?)
                .with_node_address(parse("node_address", &l.address)?)
                .with_data_service_port(l.port()?)
                .with_global_all_reduce_strategy(collective::AllReduceStrategy::Ring);
        }
        let id = PeerId::from(peer.rank);
        let device = device.clone();
        let join = link.map(|l| l.join_timeout);
        bounded(peer.rank, join, "joining", move || {
            collective::register::<B::InnerBackend>(id, device, config)
        })?;
        Ok(peer)
    }

    /// Sums a 1-D tensor over all peers (in pieces of at most [`MAX_ELEMENTS`]; padded so
    /// that every node gets a share of the ring).
    ///
    /// # Errors
    /// The collective failed or did not answer in time.
    pub fn all_reduce_sum<B: Backend>(&self, t: Tensor<B, 1>) -> Result<Tensor<B, 1>, TrainError> {
        if self.world == 1 {
            return Ok(t);
        }
        let n = t.dims()[0];
        let device = t.device();
        let padded = n.max(self.nodes).max(1);
        let t = if padded > n {
            Tensor::cat(vec![t, Tensor::zeros([padded - n], &device)], 0)
        } else {
            t
        };
        let mut pieces = Vec::new();
        let mut start = 0;
        while start < padded {
            // The last piece keeps at least `nodes` elements.
            let mut end = (start + MAX_ELEMENTS).min(padded);
            if padded - end < self.nodes && end < padded {
                end = padded;
            }
            let piece = t.clone().slice(start..end).into_primitive().tensor();
            let id = PeerId::from(self.rank);
            let out = bounded(self.rank, self.patience, "an all-reduce", move || {
                collective::all_reduce::<B>(id, piece, ReduceOperation::Sum)
            })?;
            pieces.push(Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(out)));
            start = end;
        }
        Ok(Tensor::cat(pieces, 0).slice(0..n))
    }

    /// Averages the gradients of `model`'s parameters over all peers: flattened in
    /// declaration order into one buffer, summed, divided by the number of peers.
    ///
    /// # Errors
    /// The collective failed or did not answer in time.
    pub fn mean_gradients<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        model: &M,
        mut grads: GradientsParams,
        device: &B::Device,
    ) -> Result<GradientsParams, TrainError> {
        if self.world == 1 {
            return Ok(grads);
        }
        let (parts, layout) = flat::flatten::<B, M>(model, &mut grads, device);
        if parts.is_empty() {
            return Ok(grads);
        }
        let sum = self.all_reduce_sum(Tensor::cat(parts, 0))?;
        let mean = sum.mul_scalar(1.0 / self.world as f64);
        flat::split::<B, M>(model, &mut grads, mean, layout);
        Ok(grads)
    }

    /// Sums a small vector of host values over all peers (exchanged as f32).
    ///
    /// # Errors
    /// The collective failed or did not answer in time.
    pub fn sum<B: AutodiffBackend>(
        &self,
        values: &[f64],
        device: &B::Device,
    ) -> Result<Vec<f64>, TrainError> {
        self.sum_in::<B::InnerBackend>(values, values.len(), device)
    }

    /// Sums a few host values over all peers in a buffer of fixed size (1024 values), the same
    /// whatever the device and node counts, so that peers that disagree on them still
    /// exchange it and can tell.
    ///
    /// # Errors
    /// More than 1024 values; the collective failed or did not answer in time.
    pub fn sum_fixed<B: Backend>(
        &self,
        values: &[f64],
        device: &B::Device,
    ) -> Result<Vec<f64>, TrainError> {
        const FIXED: usize = 1024;
        if values.len() > FIXED {
            return Err(TrainError::Collective {
                rank: Some(self.rank),
                why: format!(
                    "{} values do not fit a fixed exchange of {FIXED}",
                    values.len()
                ),
            });
        }
        self.sum_in::<B>(values, FIXED, device)
    }

    /// Sums `values`, sent as f32 in a buffer of `len` ≥ `values.len()` (zero-padded).
    fn sum_in<B: Backend>(
        &self,
        values: &[f64],
        len: usize,
        device: &B::Device,
    ) -> Result<Vec<f64>, TrainError> {
        if self.world == 1 {
            return Ok(values.to_vec());
        }
        let mut host = vec![0f32; len];
        for (h, &v) in host.iter_mut().zip(values) {
            *h = v as f32;
        }
        let t = Tensor::<B, 1>::from_data(TensorData::new(host, [len]), device);
        let v = to_host(self.all_reduce_sum(t)?, self.rank)?;
        Ok(v[..values.len()].iter().map(|&v| f64::from(v)).collect())
    }

    /// Every peer's `bytes`, in rank order (one all-reduce for the sizes, one for the bytes).
    ///
    /// # Errors
    /// The collective failed or did not answer in time.
    pub fn gather<B: Backend>(
        &self,
        bytes: &[u8],
        device: &B::Device,
    ) -> Result<Vec<Vec<u8>>, TrainError> {
        if self.world == 1 {
            return Ok(vec![bytes.to_vec()]);
        }
        let sizes = self.sizes::<B>(bytes.len(), device)?;
        let slot = sizes
            .iter()
            .max()
            .copied()
            .unwrap_or(0)
            .div_ceil(BYTES_PER_VALUE);
        let mut all = vec![0f32; slot * self.world];
        let packed = pack(bytes);
        all[self.rank * slot..self.rank * slot + packed.len()].copy_from_slice(&packed);
        let sum = self.all_reduce_sum(Tensor::<B, 1>::from_data(
            TensorData::new(all, [slot * self.world]),
            device,
        ))?;
        let sum = to_host(sum, self.rank)?;
        Ok(sizes
            .iter()
            .enumerate()
            .map(|(r, &len)| unpack(&sum[r * slot..(r + 1) * slot], len))
            .collect())
    }

    /// Peer 0's `bytes` on every peer (the others pass `None`).
    ///
    /// # Errors
    /// The collective failed or did not answer in time.
    pub fn broadcast<B: Backend>(
        &self,
        bytes: Option<&[u8]>,
        device: &B::Device,
    ) -> Result<Vec<u8>, TrainError> {
        let own = bytes.unwrap_or_default();
        if self.world == 1 {
            return Ok(own.to_vec());
        }
        let len = self.sizes::<B>(own.len(), device)?[0];
        let mut packed = pack(own);
        packed.resize(len.div_ceil(BYTES_PER_VALUE), 0.0);
        if self.rank != 0 {
            packed.iter_mut().for_each(|v| *v = 0.0);
        }
        let n = packed.len();
        let sum = self.all_reduce_sum(Tensor::<B, 1>::from_data(
            TensorData::new(packed, [n]),
            device,
        ))?;
        Ok(unpack(&to_host(sum, self.rank)?, len))
    }

    /// Every peer's `len`, in rank order.
    fn sizes<B: Backend>(&self, len: usize, device: &B::Device) -> Result<Vec<usize>, TrainError> {
        const VALUES: usize = 8usize.div_ceil(BYTES_PER_VALUE);
        let mut all = vec![0f32; VALUES * self.world];
        all[self.rank * VALUES..(self.rank + 1) * VALUES]
            .copy_from_slice(&pack(&(len as u64).to_le_bytes()));
        let sum = self.all_reduce_sum(Tensor::<B, 1>::from_data(
            TensorData::new(all, [VALUES * self.world]),
            device,
        ))?;
        let sum = to_host(sum, self.rank)?;
        Ok((0..self.world)
            .map(|r| {
                let b = unpack(&sum[r * VALUES..(r + 1) * VALUES], 8);
                let mut le = [0u8; 8];
                le.copy_from_slice(&b);
                u64::from_le_bytes(le) as usize
            })
            .collect())
    }

    /// Leaves the collective.
    pub fn leave<B: AutodiffBackend>(self) {
        if self.world > 1 {
            let rank = self.rank;
            let _ = bounded(rank, self.patience, "leaving", move || {
                collective::finish_collective::<B::InnerBackend>(PeerId::from(rank))
            });
        }
    }

    /// Forgets every peer and pending operation (after a failed run on one machine, so
    /// another can start).
    pub fn reset<B: AutodiffBackend>() {
        collective::reset_collective::<<B as AutodiffBackend>::InnerBackend>();
    }
}

/// A 1-D f32 tensor's values on the host.
fn to_host<B: Backend>(t: Tensor<B, 1>, rank: usize) -> Result<Vec<f32>, TrainError> {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(err(rank))
}
