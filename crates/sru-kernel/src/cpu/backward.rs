//! The backward recurrence on the CPU (spec §1.3): from the saved states `c (L, B, D)` and the
//! gradient of the packed output `(L + 1, B, D)`, walking each item's steps in reverse
//! processing order. It recomputes f, r and g(c) from the saved states instead of saving them,
//! carries ∂L/∂c to the previous step, and sums the weight_c/bias gradients over time per
//! column (in the item) and over the batch (at the end). Padded steps get no gradient and pass
//! ∂L/∂c through unchanged.

use rayon::prelude::*;

use super::columns::{
    CHUNK, Columns, Gates, Item, SKIP_NONE, SKIP_U3, deinterleave_best, items, padded,
    reinterleave_best, scale_of,
};
use super::forward::act;
use super::real::Real;
use super::shared::{Shared, Unfilled};
use super::simd::{dispatch, simd_variant};
use super::{Grads, Inputs};
use crate::options::RecurrenceConfig;

/// Backward pass from the saved `states (L, B, D)` and `grad_out (L + 1, B, D)`.
pub(crate) fn backward<T: Real>(
    cfg: &RecurrenceConfig,
    inp: &Inputs<'_, T>,
    states: &[T],
    grad_out: &[T],
) -> Grads<T> {
    let plane = cfg.columns();
    let (l, width) = (cfg.length, cfg.width());
    let mut gu = Unfilled::new(l * plane * cfg.k);
    let mut gx = cfg.reads_x().then(|| Unfilled::new(l * plane));
    let mut gc0 = vec![T::ZERO; plane];
    // Per-column sums over time: [gvf, gvr, gbf, gbr], each (B, D).
    let mut partial = vec![T::ZERO; 4 * plane];
    let p = Outs {
        gu: gu.shared(),
        gx: gx.as_mut().map(Unfilled::shared),
        gc0: Shared::new(&mut gc0),
        partial: Shared::new(&mut partial),
    };
    items(cfg).into_par_iter().for_each(|item| {
        dispatch!(cfg, backward_item::<T>(cfg, inp, states, grad_out, item, p));
    });
    // Sum the per-column partials over the batch: weight_c = [Σ gvf | Σ gvr], bias likewise.
    let mut gw = vec![T::ZERO; 2 * width];
    let mut gb = vec![T::ZERO; 2 * width];
    for b in 0..cfg.batch {
        for col in 0..width {
            let i = b * width + col;
            gw[col] = gw[col] + partial[i];
            gw[width + col] = gw[width + col] + partial[plane + i];
            gb[col] = gb[col] + partial[2 * plane + i];
            gb[width + col] = gb[width + col] + partial[3 * plane + i];
        }
    }
    // SAFETY: the items cover every (b, column) and write every step of gu and gx (zeros at
    // padded steps).
    let (gu, gx) = unsafe { (gu.filled(), gx.map(|g| g.filled())) };
    Grads {
        u: gu,
        x: gx,
        weight_c: gw,
        bias: gb,
        c0: gc0,
    }
}

/// Where the items write: dU `(L, B, D·k)`, dx `(L, B, D)`, dc0 `(B, D)`, and the per-column
/// partial sums `[gvf, gvr, gbf, gbr]` of `(B, D)` each.
#[derive(Clone, Copy)]
struct Outs<T> {
    gu: Shared<T>,
    gx: Option<Shared<T>>,
    gc0: Shared<T>,
    partial: Shared<T>,
}

/// What one backward step reads besides U: the state before (`cp`) and after (`ct`) the step,
/// and the gradient of h at the step.
struct StepStates<T> {
    cp: [T; CHUNK],
    ct: [T; CHUNK],
    gh: [T; CHUNK],
}

/// The backward's running values per unit: the gradient of c carried to the previous step,
/// and the weight_c and bias gradients summed over time.
struct BackSums<T> {
    gc: [T; CHUNK],
    gvf: [T; CHUNK],
    gvr: [T; CHUNK],
    gbf: [T; CHUNK],
    gbr: [T; CHUNK],
}

/// The gradients one backward step produces: U's parts and x (already times the scale).
struct StepGrads<T> {
    u: [[T; CHUNK]; 4],
    x: [T; CHUNK],
}

simd_variant!(
    backward_step_best,
    backward_step_avx2,
    backward_step,
    [T: Real, const SKIP: u8, const TANH: bool, const MC: bool],
    [T, SKIP, TANH, MC],
    (g: &Gates<T>, u: &Columns<T>, st: &StepStates<T>, scale: T, sums: &mut BackSums<T>, out: &mut StepGrads<T>)
);

/// One time step of the backward for all units of an item: recomputes f, r and g(c) from the
/// saved states, accumulates the weight_c/bias gradients and carries ∂L/∂c.
#[allow(clippy::needless_range_loop)] // the unit loop indexes several arrays in step
#[inline(always)]
fn backward_step<T: Real, const SKIP: u8, const TANH: bool, const MC: bool>(
    g: &Gates<T>,
    u: &Columns<T>,
    st: &StepStates<T>,
    scale: T,
    sums: &mut BackSums<T>,
    out: &mut StepGrads<T>,
) {
    for j in 0..CHUNK {
        let cp = st.cp[j];
        let f = (u.u1[j] + g.vf[j] * cp + g.bf[j]).sigmoid();
        let r = (u.u2[j] + g.vr[j] * cp + g.br[j]).sigmoid();
        let gcur = act::<T, TANH>(st.ct[j]);
        let dg = if TANH { T::ONE - gcur * gcur } else { T::ONE };
        let mj = g.m[j];
        let xpj = if SKIP == SKIP_NONE { T::ZERO } else { u.xp[j] };
        let ghj = st.gh[j];
        let grr = ghj * (gcur - xpj) * mj * r * (T::ONE - r);
        sums.gbr[j] = sums.gbr[j] + grr;
        sums.gvr[j] = sums.gvr[j] + grr * cp;
        let gct = ghj * mj * r * dg + sums.gc[j];
        let gf = gct * (cp - u.u0[j]) * f * (T::ONE - f);
        sums.gbf[j] = sums.gbf[j] + gf;
        sums.gvf[j] = sums.gvf[j] + gf * cp;
        sums.gc[j] = gct * f + gf * g.vf[j] + grr * g.vr[j];
        out.u[0][j] = gct * (T::ONE - f);
        out.u[1][j] = gf;
        out.u[2][j] = grr;
        let gxs = if SKIP == SKIP_NONE {
            T::ZERO
        } else {
            ghj * (T::ONE - r * mj)
        };
        out.u[3][j] = if SKIP == SKIP_U3 { gxs } else { T::ZERO };
        out.x[j] = gxs * scale;
    }
}

/// The backward of one work item over all time steps, last processed step first.
#[inline(always)]
fn backward_item<T: Real, const K: usize, const SKIP: u8, const TANH: bool, const MC: bool>(
    cfg: &RecurrenceConfig,
    inp: &Inputs<'_, T>,
    states: &[T],
    grad_out: &[T],
    item: Item,
    outs: Outs<T>,
) {
    let (l, bsz, width, plane) = (cfg.length, cfg.batch, cfg.width(), cfg.columns());
    let Item { b, dir, j0, n } = item;
    let col0 = dir * cfg.d + j0;
    let scale = T::from_f64(scale_of(cfg));
    let bcol = b * width + col0;
    let c0 = &inp.c0[bcol..bcol + n];
    let last = (l * bsz + b) * width + col0;
    let gates = Gates::new(cfg, inp, (b, col0, n), MC);
    let z = [T::ZERO; CHUNK];
    let mut sums = BackSums {
        gc: padded(&grad_out[last..last + n]),
        gvf: z,
        gvr: z,
        gbf: z,
        gbr: z,
    };
    let mut cols = Columns::new();
    let mut st = StepStates {
        cp: z,
        ct: z,
        gh: z,
    };
    let mut grads = StepGrads { u: [z; 4], x: z };
    let mut out_u = [T::ZERO; CHUNK * 4];
    for step in (0..l).rev() {
        let t = if dir == 0 { step } else { l - 1 - step };
        let row = (t * bsz + b) * width + col0;
        if inp.mask_pad.is_some_and(|p| p[t * bsz + b] != T::ZERO) {
            // SAFETY: (t, b, col0 .. col0 + n) and their k parts belong to this item alone.
            unsafe { outs.gu.write_slice(row * K, &[T::ZERO; CHUNK * 4][..n * K]) };
            if let Some(gx) = outs.gx {
                // SAFETY: as above.
                unsafe { gx.write_slice(row, &[T::ZERO; CHUNK][..n]) };
            }
            continue;
        }
        // The state before this step in processing order.
        let prev: &[T] = if step == 0 {
            c0
        } else {
            let tp = if dir == 0 { t - 1 } else { t + 1 };
            let r = (tp * bsz + b) * width + col0;
            &states[r..r + n]
        };
        st.cp[..n].copy_from_slice(prev);
        st.ct[..n].copy_from_slice(&states[row..row + n]);
        st.gh[..n].copy_from_slice(&grad_out[row..row + n]);
        deinterleave_best::<T, K, SKIP>(inp, row, n, scale, &mut cols);
        backward_step_best::<T, SKIP, TANH, MC>(&gates, &cols, &st, scale, &mut sums, &mut grads);
        reinterleave_best::<T, K>(&grads.u, n, &mut out_u);
        // SAFETY: (t, b, col0 .. col0 + n) and their k parts belong to this item alone.
        unsafe { outs.gu.write_slice(row * K, &out_u[..n * K]) };
        if let Some(gx) = outs.gx {
            // SAFETY: as above.
            unsafe { gx.write_slice(row, &grads.x[..n]) };
        }
    }
    // SAFETY: column (b, col0 .. col0 + n) of dc0 and of each partial plane belongs to this
    // item alone.
    unsafe {
        outs.gc0.write_slice(bcol, &sums.gc[..n]);
        outs.partial.write_slice(bcol, &sums.gvf[..n]);
        outs.partial.write_slice(plane + bcol, &sums.gvr[..n]);
        outs.partial.write_slice(2 * plane + bcol, &sums.gbf[..n]);
        outs.partial.write_slice(3 * plane + bcol, &sums.gbr[..n]);
    }
}
