//! Running `txl_*` fixtures (FIXTURES.md §4.5: the original Transformer-XL over several
//! segments) through sru-model's [`sru_model::TransformerXl`]: the model is built from the
//! fixture's config, its `param.*` tensors are loaded as an official checkpoint (the tied
//! output weight is the embedding), and every segment's per-token losses, every layer's memory
//! and every `grad.*` are compared.

use burn::tensor::{DType, Tensor};
use sru_kernel::RecurrenceAutodiffBackend;
use sru_model::weights;
use sru_model::{LmConfig, TxlOptions};

use crate::compare::{CaseReport, tolerance};
use crate::error::ParityError;
use crate::fixture::Fixture;
use crate::host::to_f64;
use crate::model::{Checker, cfg_err, check_export, int_tensor, state_dict};

/// The model a `txl` fixture describes.
fn txl_config(fx: &Fixture) -> Result<LmConfig, ParityError> {
    let clamp = fx.cfg("clamp_len")?.as_i64().unwrap_or(-1);
    let dropout = |key: &str| fx.cfg(key).ok().and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    Ok(LmConfig {
        vocab_size: fx.cfg_usize("vocab_size")?,
        n_d: fx.cfg_usize("d_model")?,
        depth: fx.cfg_usize("n_layer")?,
        num_heads: fx.cfg_usize("n_head")?,
        dropout: dropout("dropout"),
        attn_dropout: dropout("dropatt"),
        transformer_xl: Some(TxlOptions {
            d_head: fx.cfg_usize("d_head")?,
            d_inner: fx.cfg_usize("d_inner")?,
            mem_len: fx.cfg_usize("mem_len")?,
            pre_lnorm: fx.cfg_bool("pre_lnorm")?,
            same_length: fx.cfg_bool("same_length")?,
            clamp_len: (clamp > 0).then_some(clamp as usize),
        }),
        ..LmConfig::default()
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
    let model = config
        .init::<B>(device)
        .map_err(|e| cfg_err(fx, e.to_string()))?;
    let model = weights::load_state_dict(model, state_dict(fx), Some(dtype))
        .map_err(|e| cfg_err(fx, e.to_string()))?;
    check_export(fx, &model)?;
    let n_seg = fx.cfg_usize("num_segments")?;
    let model_err = |e: sru_model::ModelError| cfg_err(fx, e.to_string());
    let mut ck = Checker {
        fx,
        tol: tolerance(dtype == DType::F64 && fx.is_f64()),
        out: Vec::new(),
    };
    let mut state = None;
    let mut losses = Vec::new();
    let mut total: Option<Tensor<B, 1>> = None;
    for seg in 0..n_seg {
        let x = int_tensor::<B>(fx.tensor(&format!("seg{seg}.x"))?, device);
        let y = int_tensor::<B>(fx.tensor(&format!("seg{seg}.y"))?, device);
        let out = model.forward_hidden(x, state.take(), None).map_err(model_err)?;
        let nll = model.token_nll(out.hidden, y).map_err(model_err)?;
        ck.cmp(&format!("seg{seg}.loss_tokens"), to_f64(nll.clone()))?;
        let loss = nll.mean();
        losses.extend(to_f64(loss.clone()));
        total = Some(match total {
            Some(t) => t + loss,
            None => loss,
        });
        let layers = config.depth + 1;
        if out.state.memory.len() != layers {
            return Err(cfg_err(
                fx,
                format!("the model carried {} memories, the original {layers}", out.state.memory.len()),
            ));
        }
        for (i, t) in out.state.memory.iter().enumerate() {
            ck.cmp(&format!("seg{seg}.mems.{i}"), to_f64(t.clone()))?;
        }
        state = Some(out.state.detach());
    }
    ck.cmp("losses", losses)?;
    let total = total.ok_or_else(|| cfg_err(fx, "no segments"))?;
    let grads = total.backward();
    ck.grads(&model, &grads)?;
    Ok(CaseReport {
        case: fx.name.clone(),
        comparisons: ck.out,
    })
}
