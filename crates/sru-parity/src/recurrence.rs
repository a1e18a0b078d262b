//! Running a `recurrence_*` fixture (FIXTURES.md §4.1) through [`sru_kernel`]:
//! forward `h`, `last_c`, and the gradients of `loss = Σ h·grad_h + Σ last_c·grad_last`.

use burn::tensor::{Bool, DType, Tensor, TensorData};
use sru_kernel::{
    Activation, RecurrenceAutodiffBackend, RecurrenceInput, RecurrenceOptions,
    elementwise_recurrence,
};

use crate::compare::{CaseReport, Comparison, tolerance};
use crate::error::ParityError;
use crate::fixture::Fixture;
use crate::host::{to_f64, to_tensor};

/// The recurrence options a fixture's config describes.
///
/// # Errors
/// [`ParityError::Config`] when a key is missing or of the wrong type.
pub fn options(fx: &Fixture) -> Result<RecurrenceOptions, ParityError> {
    let activation = match fx.cfg("activation")?.as_str() {
        Some("identity") => Activation::Identity,
        Some("tanh") => Activation::Tanh,
        other => {
            return Err(ParityError::Config {
                case: fx.name.clone(),
                why: format!("unknown activation {other:?}"),
            });
        }
    };
    Ok(RecurrenceOptions {
        k: fx.cfg_usize("k")?,
        has_skip: fx.cfg_bool("has_skip")?,
        activation,
        scale_x: fx.cfg("scale_x")?.as_f64(),
        bidirectional: fx.cfg_bool("bidirectional")?,
    })
}

/// Runs a `recurrence` fixture on backend `B` in `dtype` and compares every output and gradient.
///
/// # Errors
/// Malformed fixtures or inputs the kernel refuses.
pub fn run_recurrence<B: RecurrenceAutodiffBackend>(
    fx: &Fixture,
    device: &B::Device,
    dtype: DType,
) -> Result<CaseReport, ParityError> {
    if fx.kind != "recurrence" {
        return Err(ParityError::UnsupportedKind {
            case: fx.name.clone(),
            kind: fx.kind.clone(),
        });
    }
    let opts = options(fx)?;
    let u: Tensor<B, 3> = to_tensor(fx.tensor("U")?, dtype, device).require_grad();
    let x: Tensor<B, 3> = to_tensor(fx.tensor("x")?, dtype, device).require_grad();
    let wc: Tensor<B, 1> = to_tensor(fx.tensor("weight_c")?, dtype, device).require_grad();
    let bias: Tensor<B, 1> = to_tensor(fx.tensor("bias")?, dtype, device).require_grad();
    let c0: Tensor<B, 2> = to_tensor(fx.tensor("c0")?, dtype, device).require_grad();
    let mut input = RecurrenceInput::new(u.clone(), wc.clone(), bias.clone())
        .with_x(x.clone())
        .with_c0(c0.clone());
    if let Some(m) = fx.optional("mask_c") {
        input = input.with_mask_c(to_tensor(m, dtype, device));
    }
    if let Some(p) = fx.optional("mask_pad") {
        let pad = Tensor::<B, 2, Bool>::from_data(
            TensorData::new(
                p.values.iter().map(|&v| v != 0.0).collect(),
                p.shape.clone(),
            ),
            device,
        );
        input = input.with_mask_pad(pad);
    }
    // A stored scale_x tensor, when present, must agree with the config value.
    if let (Some(s), Some(v)) = (fx.optional("scale_x"), fx.cfg("scale_x")?.as_f64())
        && s.values
            .first()
            .is_some_and(|&sv| (sv - v).abs() > 1e-12 * v.abs().max(1.0))
    {
        return Err(ParityError::Config {
            case: fx.name.clone(),
            why: format!("scale_x tensor {:?} disagrees with config {v}", s.values),
        });
    }
    let out = elementwise_recurrence(input, &opts).map_err(|source| ParityError::Kernel {
        case: fx.name.clone(),
        source,
    })?;
    let gh: Tensor<B, 3> = to_tensor(fx.tensor("grad_h")?, dtype, device);
    let gl: Tensor<B, 2> = to_tensor(fx.tensor("grad_last")?, dtype, device);
    let loss = (out.h.clone() * gh).sum() + (out.last_c.clone() * gl).sum();
    let grads = loss.backward();
    let tol = tolerance(dtype == DType::F64 && fx.is_f64());
    let mut comparisons = Vec::new();
    let mut cmp = |name: &str, values: Vec<f64>| -> Result<(), ParityError> {
        comparisons.push(Comparison::new(
            name,
            &values,
            &fx.tensor(name)?.values,
            tol,
        ));
        Ok(())
    };
    cmp("h", to_f64(out.h))?;
    cmp("last_c", to_f64(out.last_c))?;
    let missing = |t: &str| ParityError::Config {
        case: fx.name.clone(),
        why: format!("no gradient reached {t}"),
    };
    cmp("dU", to_f64(u.grad(&grads).ok_or_else(|| missing("U"))?))?;
    cmp(
        "dweight_c",
        to_f64(wc.grad(&grads).ok_or_else(|| missing("weight_c"))?),
    )?;
    cmp(
        "dbias",
        to_f64(bias.grad(&grads).ok_or_else(|| missing("bias"))?),
    )?;
    cmp("dc0", to_f64(c0.grad(&grads).ok_or_else(|| missing("c0"))?))?;
    if fx.optional("dx").is_some() {
        cmp("dx", to_f64(x.grad(&grads).ok_or_else(|| missing("x"))?))?;
    } else if x.grad(&grads).is_some() && fx.cfg("k")?.as_u64() != Some(3) {
        return Err(ParityError::Config {
            case: fx.name.clone(),
            why: "x received a gradient although the fixture has none (k = 4 or no skip)".into(),
        });
    }
    Ok(CaseReport {
        case: fx.name.clone(),
        comparisons,
    })
}
