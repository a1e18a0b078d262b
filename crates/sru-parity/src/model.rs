//! Running `srupp_*` (an SRU++ stack over two segments, FIXTURES.md §4.2), `lm_*` (a byte LM
//! over several segments, §4.3) and `lm_adaptive_*` (a word LM with the official adaptive input
//! and softmax, §4.4) fixtures through sru-model: the model is built from the fixture's config,
//! its `param.*` tensors are loaded through the official-name weight import (for word LMs as
//! the official checkpoint, tied duplicates included), and every stored output, loss and
//! `grad.*` is compared.

use burn::tensor::{Bool, DType, Int, Tensor, TensorData, backend::Backend};
use serde_json::Value;
use sru_kernel::RecurrenceAutodiffBackend;
use sru_model::weights::{self, OfficialWeights, StateDict};
use sru_model::{
    AdaptiveConfig, AttentionMasks, ModelConfig, OutputLayer, SruppConfig, SruppLmConfig,
    attention_mask,
};

use crate::compare::{CaseReport, Comparison, tolerance};
use crate::error::ParityError;
use crate::fixture::{Fixture, StoredTensor};
use crate::host::{to_f64, to_tensor};
use crate::segments::run_segments;

pub(crate) fn cfg_err(fx: &Fixture, why: impl Into<String>) -> ParityError {
    ParityError::Config {
        case: fx.name.clone(),
        why: why.into(),
    }
}

fn f64_of(fx: &Fixture, key: &str) -> Result<f64, ParityError> {
    fx.cfg(key)?
        .as_f64()
        .ok_or_else(|| cfg_err(fx, format!("`{key}` is not a number")))
}

/// The SRU++ options a fixture's config describes.
fn srupp_config(fx: &Fixture) -> Result<SruppConfig, ParityError> {
    let last_n = fx.cfg("attention_last_n_layers")?.as_i64().unwrap_or(-1);
    // Word-level LM fixtures leave out `input_size`: their SRU++ body is `SRUpp(d, d, …)`.
    let input_size = match fx.config.get("input_size") {
        Some(_) => fx.cfg_usize("input_size")?,
        None => fx.cfg_usize("hidden_size")?,
    };
    Ok(SruppConfig {
        input_size,
        hidden_size: fx.cfg_usize("hidden_size")?,
        proj_size: fx.cfg_usize("proj_size")?,
        num_layers: fx.cfg_usize("num_layers")?,
        dropout: f64_of(fx, "dropout")?,
        attn_dropout: f64_of(fx, "attn_dropout")?,
        num_heads: fx.cfg_usize("num_heads")?,
        bidirectional: fx.cfg_bool("bidirectional")?,
        layer_norm: fx.cfg_bool("layer_norm")?,
        normalize_after: fx.cfg_bool("normalize_after")?,
        attn_layer_norm: fx.cfg_bool("attn_layer_norm")?,
        highway_bias: f64_of(fx, "highway_bias")?,
        attention_every_n_layers: fx.cfg_usize("attention_every_n_layers")?,
        attention_last_n_layers: (last_n >= 0).then_some(last_n as usize),
        rescale: fx.cfg_bool("rescale")?,
        weight_c_init: fx
            .config
            .get("weight_c_init")
            .and_then(Value::as_f64)
            .unwrap_or(1.0),
    })
}

/// `param.*` and `buffer.*` tensors under their official names, with `prefix` removed.
pub(crate) fn state_dict(fx: &Fixture) -> StateDict {
    fx.tensors
        .iter()
        .filter_map(|(k, t)| {
            let name = k
                .strip_prefix("param.")
                .or_else(|| k.strip_prefix("buffer."))?;
            Some((
                name.to_owned(),
                TensorData::new(t.values.clone(), t.shape.clone()),
            ))
        })
        .collect()
}

fn bool_tensor<B: Backend>(t: &StoredTensor, device: &B::Device) -> Tensor<B, 2, Bool> {
    Tensor::from_data(
        TensorData::new(
            t.values.iter().map(|&v| v != 0.0).collect(),
            t.shape.clone(),
        ),
        device,
    )
}

pub(crate) fn int_tensor<B: Backend>(t: &StoredTensor, device: &B::Device) -> Tensor<B, 2, Int> {
    Tensor::from_data(
        TensorData::new(
            t.values.iter().map(|&v| v as i64).collect(),
            t.shape.clone(),
        ),
        device,
    )
}

pub(crate) struct Checker<'a> {
    pub(crate) fx: &'a Fixture,
    pub(crate) tol: f64,
    pub(crate) out: Vec<Comparison>,
}

impl Checker<'_> {
    pub(crate) fn cmp(&mut self, name: &str, values: Vec<f64>) -> Result<(), ParityError> {
        let reference = &self.fx.tensor(name)?.values;
        self.out
            .push(Comparison::new(name, &values, reference, self.tol));
        Ok(())
    }

    /// Compares every `grad.<name>` with the gradient of the parameter of that official name.
    pub(crate) fn grads<B: RecurrenceAutodiffBackend, M: OfficialWeights<B>>(
        &mut self,
        model: &M,
        grads: &B::Gradients,
    ) -> Result<(), ParityError> {
        let named = weights::state_dict(&weights::gradients_as_module(model.clone(), grads))
            .map_err(|e| cfg_err(self.fx, e.to_string()))?;
        let mut n = 0;
        for (key, _) in self
            .fx
            .tensors
            .iter()
            .filter(|(k, _)| k.starts_with("grad."))
        {
            let name = &key["grad.".len()..];
            let data = named
                .get(name)
                .ok_or_else(|| cfg_err(self.fx, format!("the model has no parameter `{name}`")))?;
            let values = data
                .clone()
                .convert::<f64>()
                .to_vec::<f64>()
                .unwrap_or_default();
            self.cmp(key, values)?;
            n += 1;
        }
        if n == 0 {
            return Err(cfg_err(self.fx, "no grad.* tensors"));
        }
        Ok(())
    }
}

fn load<B: Backend, M: OfficialWeights<B>>(
    fx: &Fixture,
    model: M,
    dtype: DType,
) -> Result<M, ParityError> {
    weights::load_state_dict(model, state_dict(fx), Some(dtype))
        .map_err(|e| cfg_err(fx, e.to_string()))
}

/// Runs an `srupp` fixture: two segments, memory detached, c1 not detached.
///
/// # Errors
/// Malformed fixtures or model errors.
pub fn run_srupp<B: RecurrenceAutodiffBackend>(
    fx: &Fixture,
    device: &B::Device,
    dtype: DType,
) -> Result<CaseReport, ParityError> {
    let config = srupp_config(fx)?;
    let model = config
        .init::<B>(device)
        .map_err(|e| cfg_err(fx, e.to_string()))?;
    let model = load(fx, model, dtype)?;
    let t3 = |n: &str| -> Result<Tensor<B, 3>, ParityError> {
        Ok(to_tensor(fx.tensor(n)?, dtype, device))
    };
    let x1 = t3("x1")?.require_grad();
    let x2 = t3("x2")?.require_grad();
    let c0 = t3("c0")?.require_grad();
    let mask2 = |n: &str| fx.optional(n).map(|t| to_tensor::<B, 2>(t, dtype, device));
    let pad = |n: &str| fx.optional(n).map(|t| bool_tensor::<B>(t, device));
    let masks1 = AttentionMasks {
        attn_mask: mask2("attn_mask1"),
        mask_pad: pad("mask_pad1"),
        memory_mask_pad: None,
    };
    let masks2 = AttentionMasks {
        attn_mask: mask2("attn_mask2"),
        mask_pad: pad("mask_pad2"),
        memory_mask_pad: pad("memory_mask_pad2"),
    };
    let model_err = |e: sru_model::ModelError| cfg_err(fx, e.to_string());
    let o1 = model
        .forward(x1.clone(), Some(c0.clone()), None, &masks1)
        .map_err(model_err)?;
    let memory: Vec<_> = o1.saved_inputs.iter().map(|m| m.clone().detach()).collect();
    let o2 = model
        .forward(x2.clone(), Some(o1.c.clone()), Some(&memory), &masks2)
        .map_err(model_err)?;
    let loss = (o1.h.clone() * t3("R1")?).sum()
        + (o2.h.clone() * t3("R2")?).sum()
        + (o2.c.clone() * t3("Rc")?).sum();
    let grads = loss.backward();
    let mut ck = Checker {
        fx,
        tol: tolerance(dtype == DType::F64 && fx.is_f64()),
        out: Vec::new(),
    };
    ck.cmp("h1", to_f64(o1.h))?;
    ck.cmp("h2", to_f64(o2.h))?;
    ck.cmp("c1", to_f64(o1.c))?;
    ck.cmp("c2", to_f64(o2.c))?;
    for (seg, saved) in [
        ("saved_inputs1", &o1.saved_inputs),
        ("saved_inputs2", &o2.saved_inputs),
    ] {
        for (i, t) in saved.iter().enumerate() {
            ck.cmp(&format!("{seg}.{i}"), to_f64(t.clone()))?;
        }
    }
    ck.cmp("loss", to_f64(loss))?;
    let missing = |n: &str| cfg_err(fx, format!("no gradient reached {n}"));
    ck.cmp("dx1", to_f64(x1.grad(&grads).ok_or_else(|| missing("x1"))?))?;
    ck.cmp("dx2", to_f64(x2.grad(&grads).ok_or_else(|| missing("x2"))?))?;
    ck.cmp("dc0", to_f64(c0.grad(&grads).ok_or_else(|| missing("c0"))?))?;
    ck.grads(&model, &grads)?;
    Ok(CaseReport {
        case: fx.name.clone(),
        comparisons: ck.out,
    })
}

/// The adaptive input/softmax options of an `lm_adaptive` fixture (`None` for `lm`).
fn adaptive_config(fx: &Fixture) -> Result<Option<AdaptiveConfig>, ParityError> {
    if fx.kind != "lm_adaptive" {
        return Ok(None);
    }
    let cutoffs = fx
        .cfg("cutoffs")?
        .as_array()
        .and_then(|a| {
            a.iter()
                .map(|v| v.as_u64().map(|c| c as usize))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| cfg_err(fx, "`cutoffs` is not a list of unsigned integers"))?;
    Ok(Some(AdaptiveConfig {
        cutoffs,
        div_val: fx.cfg_usize("div_val")?,
        n_e: fx.cfg_usize("n_e")?,
        tie_projections: fx.cfg_bool("tie_projections")?,
    }))
}

/// The fixture's parameters as an official checkpoint holds them: `param.*` plus every tied
/// duplicate (`config.tied`: duplicate name → the tensor it is).
fn official_state_dict(fx: &Fixture) -> Result<StateDict, ParityError> {
    let mut dict = state_dict(fx);
    if let Some(tied) = fx.config.get("tied").and_then(Value::as_object) {
        for (duplicate, source) in tied {
            let source = source
                .as_str()
                .ok_or_else(|| cfg_err(fx, format!("`tied.{duplicate}` is not a name")))?;
            let data = dict
                .get(source)
                .cloned()
                .ok_or_else(|| cfg_err(fx, format!("`tied.{duplicate}` names no parameter")))?;
            dict.insert(duplicate.clone(), data);
        }
    }
    Ok(dict)
}

/// Checks that the model exports exactly the keys of the official checkpoint
/// (`config.state_dict_names`), when the fixture lists them.
pub(crate) fn check_export<B: Backend, M: OfficialWeights<B>>(
    fx: &Fixture,
    model: &M,
) -> Result<(), ParityError> {
    let Some(names) = fx.config.get("state_dict_names").and_then(Value::as_array) else {
        return Ok(());
    };
    let mut want: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
    want.sort_unstable();
    let exported = weights::state_dict(model).map_err(|e| cfg_err(fx, e.to_string()))?;
    let got: Vec<&str> = exported.keys().map(String::as_str).collect();
    if got != want {
        return Err(cfg_err(
            fx,
            format!("the model exports the keys {got:?}, the official checkpoint has {want:?}"),
        ));
    }
    Ok(())
}

/// Runs an `lm` or `lm_adaptive` fixture: segments with state and memory carried detached;
/// gradients summed.
///
/// # Errors
/// Malformed fixtures or model errors.
pub fn run_lm<B: RecurrenceAutodiffBackend>(
    fx: &Fixture,
    device: &B::Device,
    dtype: DType,
) -> Result<CaseReport, ParityError> {
    let s = srupp_config(fx)?;
    if s.input_size != s.hidden_size
        || s.bidirectional
        || s.rescale
        || s.normalize_after
        || !s.attn_layer_norm
    {
        return Err(cfg_err(
            fx,
            "the LM fixture describes an SRU++ body the official scripts do not build",
        ));
    }
    let config = ModelConfig::from(SruppLmConfig {
        vocab_size: fx.cfg_usize("vocab_size")?,
        n_d: fx.cfg_usize("n_d")?,
        n_proj: s.proj_size,
        depth: s.num_layers,
        dropout: s.dropout,
        attn_dropout: s.attn_dropout,
        num_heads: s.num_heads,
        layer_norm: s.layer_norm,
        highway_bias: s.highway_bias,
        attention_every_n_layers: s.attention_every_n_layers,
        attention_last_n_layers: s.attention_last_n_layers,
        adaptive: adaptive_config(fx)?,
        emb_dropout: match fx.config.get("emb_dropout") {
            Some(v) => v
                .as_f64()
                .ok_or_else(|| cfg_err(fx, "`emb_dropout` is not a number"))?,
            None => 0.0,
        },
    });
    let model = config
        .init::<B>(device)
        .map_err(|e| cfg_err(fx, e.to_string()))?;
    let model = weights::load_state_dict(model, official_state_dict(fx)?, Some(dtype))
        .map_err(|e| cfg_err(fx, e.to_string()))?;
    check_export(fx, &model)?;
    let same_length = fx.cfg_bool("same_length")?;
    let window = same_length
        .then(|| fx.cfg_usize("mask_size_M"))
        .transpose()?;
    let mut ck = Checker {
        fx,
        tol: tolerance(dtype == DType::F64 && fx.is_f64()),
        out: Vec::new(),
    };
    let dense_output = match model.as_srupp().map(|m| &m.output_layer) {
        Some(OutputLayer::Dense(lin)) => Some(lin),
        _ => None,
    };
    run_segments(
        &mut ck,
        &model,
        device,
        window,
        |ck, seg, l, m| {
            ck.cmp(
                &format!("seg{seg}.attn_mask"),
                to_f64(attention_mask::<B>(l, m, window, dtype, device)),
            )
        },
        |ck, seg, out| {
            ck.cmp(&format!("seg{seg}.h"), to_f64(out.hidden.clone()))?;
            if let Some(lin) = dense_output {
                ck.cmp(
                    &format!("seg{seg}.logits"),
                    to_f64(lin.forward(out.hidden.clone())),
                )?;
            }
            let c = out
                .state
                .c
                .clone()
                .ok_or_else(|| cfg_err(fx, "the SRU++ model returned no c"))?;
            ck.cmp(&format!("seg{seg}.c"), to_f64(c))?;
            for (i, t) in out.state.memory.iter().enumerate() {
                ck.cmp(&format!("seg{seg}.saved_inputs.{i}"), to_f64(t.clone()))?;
            }
            Ok(())
        },
    )?;
    Ok(CaseReport {
        case: fx.name.clone(),
        comparisons: ck.out,
    })
}
