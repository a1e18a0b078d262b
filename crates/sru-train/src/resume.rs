//! What a checkpoint holds beyond the raw files of [`crate::checkpoint`], and how a run
//! continues from one: the loop state in `state.json` ([`LoopState`]: step, data cursor,
//! config, metrics, best validation, loss scale, the open metrics window), the optimizer
//! state keyed by parameter position (parameter ids are new in every process), the model
//! under the official names, and every device's carried state.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use burn::module::{ParamId, list_param_ids};
use burn::optim::Optimizer;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::DType;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use sru_data::Cursor;
use sru_model::weights::{StateDict, parse_safetensors, safetensors_bytes, state_dict};
use sru_model::{LanguageModel, weights};

use crate::TrainingBackend;
use crate::checkpoint::{self, CARRY_FILE, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::events::Best;
use crate::metrics::MetricLine;
use crate::precision::LossScale;
use crate::step::{Optim, OptimRecord, TrainStep};

/// The training metrics accumulated since the last `train` metrics line (saved in
/// checkpoints, so a resumed run writes the same lines as an uninterrupted one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Window {
    /// Sum of the updates' losses.
    pub loss: f64,
    /// Sum of the updates' gradient norms.
    pub norm: f64,
    /// Updates in the window.
    pub updates: u64,
    /// Their training seconds.
    pub seconds: f64,
    /// Their seconds of exchange with the other devices.
    #[serde(default)]
    pub exchange: f64,
}

/// What a run has recorded so far: its metrics lines, the best validation, the training
/// seconds of earlier sessions and the open metrics window.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    pub metrics: Vec<MetricLine>,
    pub best: Option<Best>,
    pub elapsed_s: f64,
    pub window: Window,
}

/// `state.json` of a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LoopState {
    pub step: u64,
    pub cursor: Cursor,
    pub config: TrainConfig,
    pub metrics: Vec<MetricLine>,
    pub best: Option<Best>,
    pub loss_scale: LossScale,
    pub elapsed_s: f64,
    pub params: usize,
    #[serde(default)]
    pub window: Window,
}

/// Parses the `state.json` read from `path`.
pub(crate) fn parse_loop_state(bytes: &[u8], path: &Path) -> Result<LoopState, TrainError> {
    serde_json::from_slice(bytes).map_err(|e| TrainError::checkpoint(path, format!("corrupt: {e}")))
}

/// The loop state of a verified checkpoint.
pub(crate) fn loop_state(ck: &checkpoint::Loaded) -> Result<LoopState, TrainError> {
    parse_loop_state(ck.file(STATE_FILE)?, &ck.path.join(STATE_FILE))
}

/// Parameter ids in a fixed order (the module's visiting order), so optimizer state can be
/// stored by position and matched to a model whose ids were created anew.
fn param_order<B: Backend>(model: &LanguageModel<B>) -> Vec<ParamId> {
    let mut seen = HashSet::new();
    list_param_ids(model)
        .into_iter()
        .filter(|id| seen.insert(*id))
        .collect()
}

/// Ids 0, 1, … n−1: the positions under which optimizer state is stored.
fn positional(n: usize) -> Vec<ParamId> {
    (0..n as u64).map(ParamId::from).collect()
}

/// `record` with every id of `from` replaced by the id at the same position of `to`.
fn rekey<B: TrainingBackend>(
    record: OptimRecord<B>,
    from: &[ParamId],
    to: &[ParamId],
) -> Result<OptimRecord<B>, String> {
    if from.len() != to.len() {
        return Err(format!(
            "it holds state for {} parameter tensors, the model has {}",
            from.len(),
            to.len()
        ));
    }
    let index: HashMap<ParamId, usize> = from.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    record
        .into_iter()
        .map(|(id, v)| {
            index
                .get(&id)
                .map(|&i| (to[i], v))
                .ok_or_else(|| format!("state for an unknown parameter {id}"))
        })
        .collect()
}

/// A run read back from its latest checkpoint, ready to continue.
pub(crate) struct Resumed<B: TrainingBackend> {
    pub model: LanguageModel<B>,
    pub optim: Optim<B>,
    pub state: LoopState,
    /// Every device's carried state (`rank{r}.…`).
    pub carry: StateDict,
    pub from: PathBuf,
}

/// Reads checkpoint `dir` into `model` and `optim`, after checking that it was made for the
/// same model and the same nodes × devices × batch × unroll as `config`.
pub(crate) fn resume<B: TrainingBackend>(
    dir: &Path,
    config: &TrainConfig,
    model: LanguageModel<B>,
    optim: Optim<B>,
    device: &B::Device,
) -> Result<Resumed<B>, TrainError> {
    let ck = checkpoint::read(dir)?;
    let state = loop_state(&ck)?;
    let made = &state.config;
    if made.model != config.model {
        return Err(TrainError::checkpoint(
            dir,
            "it was made for a different model configuration",
        ));
    }
    if (made.nodes, made.devices, made.batch_size, made.unroll)
        != (
            config.nodes,
            config.devices,
            config.batch_size,
            config.unroll,
        )
    {
        return Err(TrainError::checkpoint(
            dir,
            format!(
                "it was made with {} node{} × {} devices × batch {} × unroll {}; resume with the \
                 same",
                made.nodes,
                if made.nodes == 1 { "" } else { "s" },
                made.devices,
                made.batch_size,
                made.unroll
            ),
        ));
    }
    // Parameters are f32 whatever the precision (it only changes the products).
    let dtype = DType::F32;
    let model_path = dir.join(MODEL_FILE);
    let dict = parse_safetensors(ck.file(MODEL_FILE)?, &model_path.display().to_string())?;
    let model = weights::load_state_dict(model, dict, Some(dtype))
        .map_err(|e| TrainError::checkpoint(&model_path, e.to_string()))?;
    let optim_path = dir.join(OPTIMIZER_FILE);
    let record: OptimRecord<B> = BinBytesRecorder::<FullPrecisionSettings>::default()
        .load(ck.file(OPTIMIZER_FILE)?.to_vec(), device)
        .map_err(|e| TrainError::checkpoint(&optim_path, format!("corrupt: {e:?}")))?;
    let order = param_order(&model);
    let record = rekey::<B>(record, &positional(order.len()), &order)
        .map_err(|e| TrainError::checkpoint(&optim_path, e))?;
    let carry = parse_safetensors(
        ck.file(CARRY_FILE)?,
        &dir.join(CARRY_FILE).display().to_string(),
    )?;
    Ok(Resumed {
        model,
        optim: optim.load_record(record),
        state,
        carry,
        from: dir.to_path_buf(),
    })
}

/// `state` as the JSON of `state.json`, checked to read back as the same loop state (JSON
/// has no NaN or infinity: serde writes them as `null`, which would make the checkpoint
/// unreadable on resume).
fn state_json(state: &LoopState) -> Result<Vec<u8>, String> {
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?;
    serde_json::from_slice::<LoopState>(&bytes)
        .map_err(|e| format!("it would not read back ({e}); is a metric NaN or infinite?"))?;
    Ok(bytes)
}

/// The files of a checkpoint of `step` (its model and optimizer), with every device's
/// `carry` and the loop `state`. Serialising happens before anything is written, so a
/// failure leaves the previous checkpoint as the latest.
pub(crate) fn checkpoint_files<B: TrainingBackend>(
    step: &TrainStep<B>,
    carry: &StateDict,
    state: &LoopState,
    root: &Path,
) -> Result<Vec<(&'static str, Vec<u8>)>, TrainError> {
    let fail = |file: &str, why: String| {
        TrainError::checkpoint(
            root.join(checkpoint::folder_name(state.step)).join(file),
            format!("cannot serialise: {why}"),
        )
    };
    let model = step.model();
    let order = param_order(model);
    let record = rekey::<B>(step.optimizer_record(), &order, &positional(order.len()))
        .map_err(|e| fail(OPTIMIZER_FILE, e))?;
    let optim_bytes = BinBytesRecorder::<FullPrecisionSettings>::default()
        .record(record, ())
        .map_err(|e| fail(OPTIMIZER_FILE, format!("{e:?}")))?;
    let state_bytes = state_json(state).map_err(|e| fail(STATE_FILE, e))?;
    Ok(vec![
        (MODEL_FILE, safetensors_bytes(&state_dict(model)?)?),
        (OPTIMIZER_FILE, optim_bytes),
        (CARRY_FILE, safetensors_bytes(carry)?),
        (STATE_FILE, state_bytes),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_state_that_would_not_read_back_is_refused() {
        let model = sru_model::preset("tiny").expect("preset");
        let config = TrainConfig::official(model, PathBuf::from("data"));
        let mut state = LoopState {
            step: 3,
            cursor: Cursor::default(),
            config,
            metrics: vec![MetricLine::new(3, "valid", 1.5, 10, 1.0)],
            best: None,
            loss_scale: LossScale::for_precision(crate::config::Precision::F32),
            elapsed_s: 1.0,
            params: 1,
            window: Window::default(),
        };
        let bytes = state_json(&state).expect("finite metrics serialise");
        assert_eq!(
            parse_loop_state(&bytes, Path::new("s"))
                .expect("parse")
                .step,
            3
        );
        state
            .metrics
            .push(MetricLine::new(3, "valid", f64::NAN, 10, 1.0));
        let e = state_json(&state).expect_err("NaN is refused");
        assert!(e.contains("NaN"), "{e}");
    }
}
