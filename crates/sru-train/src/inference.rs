//! A trained model read back for inference: the best (or latest) checkpoint of a run folder,
//! or one checkpoint folder, with its training config.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use sru_kernel::RecurrenceBackend;
use sru_model::weights::parse_safetensors;
use sru_model::{LanguageModel, weights};

use crate::checkpoint::{self, MODEL_FILE, STATE_FILE};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::layout::CHECKPOINTS_DIR;
use crate::resume::{loop_state, parse_loop_state};

/// Which checkpoint of a run to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The best on validation (the latest when no validation ran).
    Best,
    /// The latest.
    Latest,
}

/// A trained model read back for inference.
#[derive(Debug)]
pub struct Trained<B: Backend> {
    /// The model.
    pub model: LanguageModel<B>,
    /// Its training config.
    pub config: TrainConfig,
    /// Updates it was trained for.
    pub step: u64,
    /// The checkpoint folder.
    pub path: PathBuf,
}

/// Loads a model from a run folder (its best or latest checkpoint) or a checkpoint folder.
///
/// # Errors
/// No checkpoint, a corrupt or incompatible one.
pub fn load_trained<B: RecurrenceBackend>(
    path: &Path,
    which: Which,
    device: &B::Device,
) -> Result<Trained<B>, TrainError> {
    let dir = if path.join(checkpoint::MANIFEST).is_file() {
        path.to_path_buf()
    } else {
        let root = path.join(CHECKPOINTS_DIR);
        let latest = checkpoint::latest(&root)
            .ok_or_else(|| TrainError::NoCheckpoint(path.to_path_buf()))?;
        match which {
            Which::Latest => latest,
            Which::Best => {
                // Only the latest state.json is needed to find the best; the chosen checkpoint
                // is read and verified in full below.
                let path = latest.join(STATE_FILE);
                let text = std::fs::read(&path)
                    .map_err(|e| TrainError::checkpoint(&path, format!("cannot read: {e}")))?;
                let state = parse_loop_state(&text, &path)?;
                match state.best {
                    Some(b) if root.join(checkpoint::folder_name(b.step)).is_dir() => {
                        root.join(checkpoint::folder_name(b.step))
                    }
                    _ => latest,
                }
            }
        }
    };
    let ck = checkpoint::read(&dir)?;
    let state = loop_state(&ck)?;
    let dict = parse_safetensors(
        ck.file(MODEL_FILE)?,
        &dir.join(MODEL_FILE).display().to_string(),
    )?;
    let model = state.config.model.init::<B>(device)?;
    let model = weights::load_state_dict(model, dict, None)
        .map_err(|e| TrainError::checkpoint(dir.join(MODEL_FILE), e.to_string()))?;
    Ok(Trained {
        model,
        config: state.config,
        step: state.step,
        path: dir,
    })
}
