//! Running `txl_*` fixtures (FIXTURES.md §4.5: the original Transformer-XL over several
//! segments) through sru-model's [`sru_model::TransformerXl`]: the model is built from the
//! fixture's config, its `param.*` tensors are loaded as an official checkpoint (the tied
//! output weight is the embedding), and every segment's per-token losses, every layer's memory
//! and every `grad.*` are compared.

use burn::tensor::DType;
use sru_kernel::RecurrenceAutodiffBackend;
use sru_model::weights;
use sru_model::{ModelConfig, TxlConfig};

use crate::compare::{CaseReport, tolerance};
use crate::error::ParityError;
use crate::fixture::Fixture;
use crate::host::to_f64;
use crate::model::{Checker, cfg_err, check_export, state_dict};
use crate::segments::run_segments;

/// The model a `txl` fixture describes.
fn txl_config(fx: &Fixture) -> Result<TxlConfig, ParityError> {
    let clamp = fx.cfg("clamp_len")?.as_i64().unwrap_or(-1);
    let dropout = |key: &str| {
        fx.cfg(key)
            .ok()
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
    };
    Ok(TxlConfig {
        vocab_size: fx.cfg_usize("vocab_size")?,
        d_model: fx.cfg_usize("d_model")?,
        n_layer: fx.cfg_usize("n_layer")?,
        n_head: fx.cfg_usize("n_head")?,
        d_head: fx.cfg_usize("d_head")?,
        d_inner: fx.cfg_usize("d_inner")?,
        dropout: dropout("dropout"),
        dropatt: dropout("dropatt"),
        mem_len: fx.cfg_usize("mem_len")?,
        pre_lnorm: fx.cfg_bool("pre_lnorm")?,
        same_length: fx.cfg_bool("same_length")?,
        clamp_len: (clamp > 0).then_some(clamp as usize),
        adaptive: None,
    })
}

/// Runs a `txl` fixture: segments with the memories carried detached; gradients summed.
///
/// # Errors
/// Malformed fixtures or model errors.
pub fn run_txl<B: RecurrenceAutodiffBackend>(
    fx: &Fixture,
    device: &B::Device,
    dtype: DType,
) -> Result<CaseReport, ParityError> {
    let config = txl_config(fx)?;
    let layers = config.n_layer + 1;
    let model = ModelConfig::from(config)
        .init::<B>(device)
        .map_err(|e| cfg_err(fx, e.to_string()))?;
    let model = weights::load_state_dict(model, state_dict(fx), Some(dtype))
        .map_err(|e| cfg_err(fx, e.to_string()))?;
    check_export(fx, &model)?;
    let mut ck = Checker {
        fx,
        tol: tolerance(dtype == DType::F64 && fx.is_f64()),
        out: Vec::new(),
    };
    run_segments(
        &mut ck,
        &model,
        device,
        None,
        |_, _, _, _| Ok(()),
        |ck, seg, out| {
            if out.state.memory.len() != layers {
                return Err(cfg_err(
                    fx,
                    format!(
                        "the model carried {} memories, the original {layers}",
                        out.state.memory.len()
                    ),
                ));
            }
            for (i, t) in out.state.memory.iter().enumerate() {
                ck.cmp(&format!("seg{seg}.mems.{i}"), to_f64(t.clone()))?;
            }
            Ok(())
        },
    )?;
    Ok(CaseReport {
        case: fx.name.clone(),
        comparisons: ck.out,
    })
}
