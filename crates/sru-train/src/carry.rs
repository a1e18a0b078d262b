//! The state carried between training segments (SRU++: c of every layer and the attention
//! memory; Transformer-XL: the memories), as named tensors for checkpoints, so that a resumed run continues its streams
//! exactly where they were.

use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor};
use sru_model::LmState;
use sru_model::weights::StateDict;

use crate::error::TrainError;

/// Adds the state of device `rank` to `dict` (`rank{r}.c` when the model has one,
/// `rank{r}.memory.{i}`).
///
/// # Errors
/// A tensor that cannot be read back from its device.
pub fn save<B: Backend>(
    dict: &mut StateDict,
    rank: usize,
    state: &Option<LmState<B>>,
) -> Result<(), TrainError> {
    let Some(s) = state else {
        return Ok(());
    };
    let read = |t: &Tensor<B, 3>| t.clone().cast(DType::F32).into_data().convert::<f32>();
    if let Some(c) = &s.c {
        dict.insert(format!("rank{rank}.c"), read(c));
    }
    for (i, m) in s.memory.iter().enumerate() {
        dict.insert(format!("rank{rank}.memory.{i}"), read(m));
    }
    Ok(())
}

/// The state of device `rank` in `dict` (`None` when it had none), in `dtype` on `device`.
///
/// # Errors
/// Missing memory layers or tensors of the wrong rank.
pub fn load<B: Backend>(
    dict: &StateDict,
    rank: usize,
    dtype: DType,
    device: &B::Device,
) -> Result<Option<LmState<B>>, TrainError> {
    let c = dict.get(&format!("rank{rank}.c"));
    let tensor = |name: &str, data: &burn::tensor::TensorData| {
        if data.shape.len() != 3 {
            return Err(TrainError::checkpoint(
                crate::checkpoint::CARRY_FILE,
                format!(
                    "carried state `{name}` has shape {:?}, expected 3 dimensions",
                    data.shape
                ),
            ));
        }
        Ok(Tensor::<B, 3>::from_data(data.clone().convert::<f32>(), device).cast(dtype))
    };
    let c = c.map(|c| tensor("c", c)).transpose()?;
    let mut memory = Vec::new();
    while let Some(m) = dict.get(&format!("rank{rank}.memory.{}", memory.len())) {
        memory.push(tensor("memory", m)?);
    }
    if c.is_none() && memory.is_empty() {
        return Ok(None);
    }
    Ok(Some(LmState { c, memory }))
}
