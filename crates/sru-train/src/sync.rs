//! Data parallelism through Burn's collective (`burn::collective`): one peer per device, each
//! a thread of this process with its own model copy and data shard. After every update's
//! backward pass the peers average their gradients with an all-reduce, so the optimizer steps
//! (and the weights) stay identical everywhere. A small status vector (loss, stop request) is
//! summed in the same way, so all peers take the same decisions about NaN, interruption and
//! checkpoints. With one device nothing is exchanged and no collective is started.

use burn::collective::{self, CollectiveConfig, PeerId, ReduceOperation};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData, TensorPrimitive};

use crate::error::TrainError;

/// One peer of the collective (or a lone device).
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// This device's index.
    pub rank: usize,
    /// Devices in all.
    pub world: usize,
}

fn err<E: std::fmt::Debug>(rank: usize) -> impl Fn(E) -> TrainError {
    move |e| TrainError::Collective {
        rank: Some(rank),
        why: format!("{e:?}"),
    }
}

impl Peer {
    /// A lone device: nothing is exchanged.
    pub fn single() -> Peer {
        Peer { rank: 0, world: 1 }
    }

    /// Joins the collective of `world` devices (blocks until all have joined).
    ///
    /// # Errors
    /// The collective refused the registration.
    pub fn join<B: AutodiffBackend>(
        rank: usize,
        world: usize,
        device: &B::Device,
    ) -> Result<Peer, TrainError> {
        if world > 1 {
            let config = CollectiveConfig::default().with_num_devices(world);
            collective::register::<B::InnerBackend>(PeerId::from(rank), device.clone(), config)
                .map_err(err(rank))?;
        }
        Ok(Peer { rank, world })
    }

    /// Averages the gradients over all peers.
    ///
    /// # Errors
    /// The collective failed (another peer left or sent different shapes).
    pub fn mean_gradients<B: AutodiffBackend>(
        &self,
        grads: GradientsParams,
    ) -> Result<GradientsParams, TrainError> {
        if self.world == 1 {
            return Ok(grads);
        }
        grads
            .all_reduce::<B::InnerBackend>(PeerId::from(self.rank), ReduceOperation::Mean)
            .map_err(err(self.rank))
    }

    /// Sums a small vector of host values over all peers (exchanged as f32).
    ///
    /// # Errors
    /// The collective failed.
    pub fn sum<B: AutodiffBackend>(
        &self,
        values: &[f64],
        device: &B::Device,
    ) -> Result<Vec<f64>, TrainError> {
        if self.world == 1 {
            return Ok(values.to_vec());
        }
        let host: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        let t =
            Tensor::<B::InnerBackend, 1>::from_data(TensorData::new(host, [values.len()]), device);
        let out = collective::all_reduce::<B::InnerBackend>(
            PeerId::from(self.rank),
            t.into_primitive().tensor(),
            ReduceOperation::Sum,
        )
        .map_err(err(self.rank))?;
        let out = Tensor::<B::InnerBackend, 1>::from_primitive(TensorPrimitive::Float(out));
        let v = out
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(err(self.rank))?;
        Ok(v.into_iter().map(f64::from).collect())
    }

    /// Leaves the collective.
    pub fn leave<B: AutodiffBackend>(self) {
        if self.world > 1 {
            let _ = collective::finish_collective::<B::InnerBackend>(PeerId::from(self.rank));
        }
    }

    /// Forgets every peer and pending operation (after a failed run, so another can start).
    pub fn reset<B: AutodiffBackend>() {
        collective::reset_collective::<<B as AutodiffBackend>::InnerBackend>();
    }
}
