//! A model's parameters as host values: [`flat_params`], every tensor of its state dict in
//! the dict's order as one list of f32. Tests compare runs with it; at a checkpoint the
//! data-parallel replicas compare its CRC-32 ([`crate::lead`]).

use burn::tensor::backend::Backend;
use sru_model::LanguageModel;
use sru_model::weights::state_dict;

use crate::error::TrainError;

/// The model's parameters as a flat list of f32 (for comparing runs in tests).
///
/// # Errors
/// A parameter that cannot be read back as f32.
pub fn flat_params<B: Backend>(model: &LanguageModel<B>) -> Result<Vec<f32>, TrainError> {
    let dict = state_dict(model)?;
    let mut out = Vec::new();
    for data in dict.values() {
        out.extend(data.clone().convert::<f32>().to_vec::<f32>().map_err(|e| {
            TrainError::Model(sru_model::ModelError::Weights {
                origin: "state_dict".into(),
                why: format!("{e:?}"),
            })
        })?);
    }
    Ok(out)
}
