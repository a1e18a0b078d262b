//! The segment loop that `lm_*` and `txl_*` fixtures share: every segment of the fixture run
//! through the model with the state carried (detached) from the segment before, its per-token
//! losses compared, the mean losses compared, and the gradients of their sum compared by
//! official name. What each kind checks besides (masks, hidden states, logits, cell states,
//! memories) comes in as two callbacks.

use burn::tensor::Tensor;
use sru_kernel::RecurrenceAutodiffBackend;
use sru_model::{LanguageModel, LmOutput, LmState};

use crate::error::ParityError;
use crate::host::to_f64;
use crate::model::{Checker, cfg_err, int_tensor};

/// Runs the fixture's `num_segments` segments `seg<i>.x` / `seg<i>.y` through `model` with
/// the attention `window` (`None`: training mask). `before(ck, seg, L, M)` runs before each
/// segment (M: memory length carried in), `after(ck, seg, output)` after its forward pass.
///
/// # Errors
/// A malformed fixture or a model error.
pub(crate) fn run_segments<'a, B: RecurrenceAutodiffBackend>(
    ck: &mut Checker<'a>,
    model: &LanguageModel<B>,
    device: &B::Device,
    window: Option<usize>,
    mut before: impl FnMut(&mut Checker<'a>, usize, usize, usize) -> Result<(), ParityError>,
    mut after: impl FnMut(&mut Checker<'a>, usize, &LmOutput<B>) -> Result<(), ParityError>,
) -> Result<(), ParityError> {
    let fx = ck.fx;
    let model_err = |e: sru_model::ModelError| cfg_err(fx, e.to_string());
    let mut state: Option<LmState<B>> = None;
    let mut losses = Vec::new();
    let mut total: Option<Tensor<B, 1>> = None;
    for seg in 0..fx.cfg_usize("num_segments")? {
        let x = int_tensor::<B>(fx.tensor(&format!("seg{seg}.x"))?, device);
        let y = int_tensor::<B>(fx.tensor(&format!("seg{seg}.y"))?, device);
        let [l, _] = x.dims();
        before(ck, seg, l, state.as_ref().map_or(0, LmState::memory_len))?;
        let out = model
            .forward_hidden(x, state.take(), window)
            .map_err(model_err)?;
        after(ck, seg, &out)?;
        let nll = model.token_nll(out.hidden, y).map_err(model_err)?;
        ck.cmp(&format!("seg{seg}.loss_tokens"), to_f64(nll.clone()))?;
        let loss = nll.mean();
        losses.extend(to_f64(loss.clone()));
        total = Some(match total {
            Some(t) => t + loss,
            None => loss,
        });
        state = Some(out.state.detach());
    }
    ck.cmp("losses", losses)?;
    let total = total.ok_or_else(|| cfg_err(fx, "no segments"))?;
    let grads = total.backward();
    ck.grads(model, &grads)
}
