//! The thin adapter to Burn (feature `burn`): a [`Batch`] as integer tensors `(L, B)`,
//! time-major, as the model takes them. The core types above know nothing of Burn.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use crate::batch::Batch;

impl Batch {
    /// Inputs and targets as `(len, batch)` integer tensors on `device`.
    pub fn to_tensors<B: Backend>(
        &self,
        device: &B::Device,
    ) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
        let make = |v: &[u32]| {
            let data: Vec<i64> = v.iter().map(|&x| i64::from(x)).collect();
            Tensor::from_data(TensorData::new(data, [self.len, self.batch]), device)
        };
        (make(&self.inputs), make(&self.targets))
    }
}
