//! The forward recurrence on the CPU (spec §1.2), per unit and time step in processing order:
//!
//! ```text
//! f = σ(U1 + v_f ⊙ c + b_f)     r = σ(U2 + v_r ⊙ c + b_r)
//! c ← f ⊙ c + (1 - f) ⊙ U0      h = r ⊙ m ⊙ (g(c) - x') + x'
//! ```
//!
//! Rayon runs the work items (`columns::Item`) in parallel; each walks its time steps (t =
//! L-1 … 0 for the backward direction of a bidirectional call) with its state in a fixed
//! array, so nothing is allocated per step. Writes `out (L + 1, B, D)` (h, then the last state
//! in row L) and, when asked, every state `c (L, B, D)` for the backward. Padded steps keep c
//! and give h = 0.

use rayon::prelude::*;

use super::Inputs;
use super::columns::{
    CHUNK, Columns, Gates, Item, SKIP_U3, SKIP_X, deinterleave_best, items, padded, scale_of,
};
use super::real::Real;
use super::shared::{Shared, Unfilled};
use super::simd::{dispatch, simd_variant};
use crate::options::RecurrenceConfig;

/// Forward pass: returns `out (L + 1, B, D)` and, if `save_states`, `c (L, B, D)`.
pub(crate) fn forward<T: Real>(
    cfg: &RecurrenceConfig,
    inp: &Inputs<'_, T>,
    save_states: bool,
) -> (Vec<T>, Option<Vec<T>>) {
    let plane = cfg.columns();
    let mut out = Unfilled::new((cfg.length + 1) * plane);
    let mut states = save_states.then(|| Unfilled::new(cfg.length * plane));
    let out_p = out.shared();
    let st_p = states.as_mut().map(Unfilled::shared);
    items(cfg).into_par_iter().for_each(|item| {
        dispatch!(cfg, forward_item::<T>(cfg, inp, item, out_p, st_p));
    });
    // SAFETY: the items cover every (b, column) and write every row of both buffers: h (zeros
    // at padded steps) and the last state in row L of `out`, and c at every step.
    unsafe { (out.filled(), states.map(|s| s.filled())) }
}

/// The activation g: tanh or identity.
#[inline(always)]
pub(crate) fn act<T: Real, const TANH: bool>(c: T) -> T {
    if TANH { c.tanh() } else { c }
}

simd_variant!(
    forward_step_best,
    forward_step_avx2,
    forward_step,
    [T: Real, const SKIP: u8, const TANH: bool, const MC: bool],
    [T, SKIP, TANH, MC],
    (g: &Gates<T>, u: &Columns<T>, c: &mut [T; CHUNK], h: &mut [T; CHUNK])
);

/// One time step of the forward for all units of an item (the equations above).
#[allow(clippy::needless_range_loop)] // the unit loop indexes several arrays in step
#[inline(always)]
fn forward_step<T: Real, const SKIP: u8, const TANH: bool, const MC: bool>(
    g: &Gates<T>,
    u: &Columns<T>,
    c: &mut [T; CHUNK],
    h: &mut [T; CHUNK],
) {
    for j in 0..CHUNK {
        let cp = c[j];
        let f = (u.u1[j] + g.vf[j] * cp + g.bf[j]).sigmoid();
        let r = (u.u2[j] + g.vr[j] * cp + g.br[j]).sigmoid();
        let cn = (cp - u.u0[j]) * f + u.u0[j];
        let gc = act::<T, TANH>(cn);
        let mr = if MC { g.m[j] * r } else { r };
        h[j] = match SKIP {
            SKIP_X | SKIP_U3 => (gc - u.xp[j]) * mr + u.xp[j],
            _ => gc * mr,
        };
        c[j] = cn;
    }
}

/// The forward of one work item over all time steps (row L of `out` gets the last state).
#[inline(always)]
fn forward_item<T: Real, const K: usize, const SKIP: u8, const TANH: bool, const MC: bool>(
    cfg: &RecurrenceConfig,
    inp: &Inputs<'_, T>,
    item: Item,
    out: Shared<T>,
    states: Option<Shared<T>>,
) {
    let (l, bsz, width) = (cfg.length, cfg.batch, cfg.width());
    let Item { b, dir, j0, n } = item;
    let col0 = dir * cfg.d + j0; // first unit of the item within D
    let scale = T::from_f64(scale_of(cfg));
    let gates = Gates::new(cfg, inp, (b, col0, n), MC);
    let mut c = padded(&inp.c0[b * width + col0..b * width + col0 + n]);
    let mut h = [T::ZERO; CHUNK];
    let mut cols = Columns::new();
    for step in 0..l {
        let t = if dir == 0 { step } else { l - 1 - step };
        let row = (t * bsz + b) * width + col0; // index of (t, b, col0) in (L, B, D)
        let padded = inp.mask_pad.is_some_and(|p| p[t * bsz + b] != T::ZERO);
        if padded {
            // SAFETY: (t, b, col0 .. col0 + n) belongs to this item alone.
            unsafe { out.write_slice(row, &[T::ZERO; CHUNK][..n]) };
        } else {
            deinterleave_best::<T, K, SKIP>(inp, row, n, scale, &mut cols);
            forward_step_best::<T, SKIP, TANH, MC>(&gates, &cols, &mut c, &mut h);
            // SAFETY: as above.
            unsafe { out.write_slice(row, &h[..n]) };
        }
        if let Some(st) = states {
            // SAFETY: as above.
            unsafe { st.write_slice(row, &c[..n]) };
        }
    }
    let last = (l * bsz + b) * width + col0;
    // SAFETY: row L, (b, col0 .. col0 + n) belongs to this item alone.
    unsafe { out.write_slice(last, &c[..n]) };
}
