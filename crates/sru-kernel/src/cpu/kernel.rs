//! The native CPU recurrence over plain slices, forward and backward (spec §1.2-1.3).
//!
//! Work split: the B·D columns are cut into items of at most [`CHUNK`] adjacent units of one
//! (batch row, direction); rayon runs items in parallel. Inside an item the time loop is
//! outermost and the units innermost, so each step reads one contiguous run of U (`CHUNK·k`
//! values) and the column loop vectorises; the per-unit state lives in fixed arrays, so nothing
//! is allocated per step. The backward direction of a bidirectional call walks t = L-1 … 0.
//!
//! Forward writes `out (L + 1, B, D)` (h, then the last state in row L) and, when asked, every
//! state `c (L, B, D)`. The backward reads U, x, the masks and those states, and recomputes
//! f, r and g from them; per-column weight_c/bias gradients are summed over time in the item
//! and over the batch at the end.

use rayon::prelude::*;

use super::real::Real;
use crate::options::{Activation, RecurrenceConfig, Skip};

/// Units per work item.
pub(crate) const CHUNK: usize = 128;

/// Borrowed inputs of one call (layouts as in [`crate::backend::RecurrenceInputs`]).
pub(crate) struct Inputs<'a, T> {
    pub u: &'a [T],
    pub x: Option<&'a [T]>,
    pub weight_c: &'a [T],
    pub bias: &'a [T],
    pub c0: &'a [T],
    pub mask_c: Option<&'a [T]>,
    pub mask_pad: Option<&'a [T]>,
}

/// Owned gradients of one call.
pub(crate) struct Grads<T> {
    pub u: Vec<T>,
    pub x: Option<Vec<T>>,
    pub weight_c: Vec<T>,
    pub bias: Vec<T>,
    pub c0: Vec<T>,
}

/// A raw pointer shared by the work items; each item writes a disjoint set of indices.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);
// SAFETY: items write disjoint indices (their own columns), and the buffer outlives the scope.
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn new(v: &mut [T]) -> Self {
        Self(v.as_mut_ptr())
    }
    /// # Safety
    /// `i` is in bounds and no other item writes index `i`.
    #[inline(always)]
    unsafe fn write(self, i: usize, v: T) {
        unsafe { *self.0.add(i) = v }
    }
}

/// One work item: batch row `b`, direction `dir`, units `j0 .. j0 + n` of that direction.
#[derive(Clone, Copy)]
struct Item {
    b: usize,
    dir: usize,
    j0: usize,
    n: usize,
}

fn items(cfg: &RecurrenceConfig) -> Vec<Item> {
    let mut v = Vec::new();
    for b in 0..cfg.batch {
        for dir in 0..cfg.dirs {
            let mut j0 = 0;
            while j0 < cfg.d {
                let n = CHUNK.min(cfg.d - j0);
                v.push(Item { b, dir, j0, n });
                j0 += n;
            }
        }
    }
    v
}

/// Skip source as a const parameter.
const SKIP_NONE: u8 = 0;
const SKIP_X: u8 = 1;
const SKIP_U3: u8 = 2;

macro_rules! dispatch {
    ($cfg:expr, $f:ident :: <$t:ty>($($arg:expr),*)) => {{
        let tanh = $cfg.activation == Activation::Tanh;
        let mc = $cfg.has_mask_c;
        match ($cfg.k, $cfg.skip, tanh, mc) {
            (3, Skip::None, false, false) => $f::<$t, 3, SKIP_NONE, false, false>($($arg),*),
            (3, Skip::None, false, true) => $f::<$t, 3, SKIP_NONE, false, true>($($arg),*),
            (3, Skip::None, true, false) => $f::<$t, 3, SKIP_NONE, true, false>($($arg),*),
            (3, Skip::None, true, true) => $f::<$t, 3, SKIP_NONE, true, true>($($arg),*),
            (3, Skip::Input { .. }, false, false) => $f::<$t, 3, SKIP_X, false, false>($($arg),*),
            (3, Skip::Input { .. }, false, true) => $f::<$t, 3, SKIP_X, false, true>($($arg),*),
            (3, Skip::Input { .. }, true, false) => $f::<$t, 3, SKIP_X, true, false>($($arg),*),
            (3, Skip::Input { .. }, true, true) => $f::<$t, 3, SKIP_X, true, true>($($arg),*),
            (_, Skip::None, false, false) => $f::<$t, 4, SKIP_NONE, false, false>($($arg),*),
            (_, Skip::None, false, true) => $f::<$t, 4, SKIP_NONE, false, true>($($arg),*),
            (_, Skip::None, true, false) => $f::<$t, 4, SKIP_NONE, true, false>($($arg),*),
            (_, Skip::None, true, true) => $f::<$t, 4, SKIP_NONE, true, true>($($arg),*),
            (_, _, false, false) => $f::<$t, 4, SKIP_U3, false, false>($($arg),*),
            (_, _, false, true) => $f::<$t, 4, SKIP_U3, false, true>($($arg),*),
            (_, _, true, false) => $f::<$t, 4, SKIP_U3, true, false>($($arg),*),
            (_, _, true, true) => $f::<$t, 4, SKIP_U3, true, true>($($arg),*),
        }
    }};
}

fn scale_of(cfg: &RecurrenceConfig) -> f64 {
    match cfg.skip {
        Skip::Input { scale } => scale,
        _ => 1.0,
    }
}

/// Forward pass: returns `out (L + 1, B, D)` and, if `save_states`, `c (L, B, D)`.
pub(crate) fn forward<T: Real>(
    cfg: &RecurrenceConfig,
    inp: &Inputs<'_, T>,
    save_states: bool,
) -> (Vec<T>, Option<Vec<T>>) {
    let plane = cfg.columns();
    let mut out = vec![T::ZERO; (cfg.length + 1) * plane];
    let mut states = save_states.then(|| vec![T::ZERO; cfg.length * plane]);
    let out_p = Shared::new(&mut out);
    let st_p = states.as_deref_mut().map(Shared::new);
    items(cfg).into_par_iter().for_each(|item| {
        dispatch!(cfg, forward_item_best::<T>(cfg, inp, item, out_p, st_p));
    });
    (out, states)
}

#[inline(always)]
fn act<T: Real, const TANH: bool>(c: T) -> T {
    if TANH { c.tanh() } else { c }
}

/// `src` (at most [`CHUNK`] values) in a zero-padded fixed-size array.
#[inline(always)]
fn padded<T: Real>(src: &[T]) -> [T; CHUNK] {
    let mut a = [T::ZERO; CHUNK];
    a[..src.len()].copy_from_slice(src);
    a
}

/// One array per column of U.
type Columns<'a, T> = (
    &'a mut [T; CHUNK],
    &'a mut [T; CHUNK],
    &'a mut [T; CHUNK],
    &'a mut [T; CHUNK],
);

/// De-interleaves the U of units `row .. row + n` (units × K) into `u0, u1, u2`, and the skip
/// term into `xp` (U's 4th column, or x · scale).
#[inline(always)]
fn deinterleave<T: Real, const K: usize, const SKIP: u8>(
    inp: &Inputs<'_, T>,
    row: usize,
    n: usize,
    scale: T,
    (u0, u1, u2, xp): Columns<'_, T>,
) {
    for (j, uj) in inp.u[row * K..(row + n) * K].chunks_exact(K).enumerate() {
        u0[j] = uj[0];
        u1[j] = uj[1];
        u2[j] = uj[2];
        if SKIP == SKIP_U3 {
            xp[j] = uj[K - 1];
        }
    }
    if SKIP == SKIP_X
        && let Some(x) = inp.x
    {
        for (d, &s) in xp.iter_mut().zip(&x[row..row + n]) {
            *d = s * scale;
        }
    }
}

/// Whether this CPU runs the AVX2 + FMA builds of the item loops (checked once, cached by std).
#[inline(always)]
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Generates `$best`, which runs `$item` compiled for AVX2 + FMA when the CPU has them (8
/// f32 lanes instead of the baseline's 4) and the baseline build otherwise. The arithmetic is
/// the same IEEE operations in both, so results do not depend on the CPU.
macro_rules! simd_variant {
    ($best:ident, $avx2:ident, $item:ident, ($($arg:ident: $ty:ty),*)) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn $avx2<T: Real, const K: usize, const SKIP: u8, const TANH: bool, const MC: bool>(
            $($arg: $ty),*
        ) {
            $item::<T, K, SKIP, TANH, MC>($($arg),*)
        }

        fn $best<T: Real, const K: usize, const SKIP: u8, const TANH: bool, const MC: bool>(
            $($arg: $ty),*
        ) {
            #[cfg(target_arch = "x86_64")]
            if has_avx2() {
                // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                return unsafe { $avx2::<T, K, SKIP, TANH, MC>($($arg),*) };
            }
            $item::<T, K, SKIP, TANH, MC>($($arg),*)
        }
    };
}

simd_variant!(
    forward_item_best,
    forward_item_avx2,
    forward_item,
    (cfg: &RecurrenceConfig, inp: &Inputs<'_, T>, item: Item, out: Shared<T>, states: Option<Shared<T>>)
);

#[allow(clippy::needless_range_loop)] // the unit loop indexes several arrays in step
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
    let vf = &inp.weight_c[col0..col0 + n];
    let vr = &inp.weight_c[width + col0..width + col0 + n];
    let bf = &inp.bias[col0..col0 + n];
    let br = &inp.bias[width + col0..width + col0 + n];
    let m: &[T] = match inp.mask_c {
        Some(mc) if MC => &mc[b * width + col0..b * width + col0 + n],
        _ => &[],
    };
    // Fixed-size, zero-padded copies: the unit loop below runs over whole arrays, so it has no
    // bounds checks and vectorises (lanes past n compute on zeros and are never written).
    let (vf, vr, bf, br) = (padded(vf), padded(vr), padded(bf), padded(br));
    let m = if MC { padded(m) } else { [T::ONE; CHUNK] };
    let mut c = padded(&inp.c0[b * width + col0..b * width + col0 + n]);
    let mut h = [T::ZERO; CHUNK];
    let (mut u0, mut u1, mut u2, mut xp) = (
        [T::ZERO; CHUNK],
        [T::ZERO; CHUNK],
        [T::ZERO; CHUNK],
        [T::ZERO; CHUNK],
    );
    for step in 0..l {
        let t = if dir == 0 { step } else { l - 1 - step };
        let row = (t * bsz + b) * width + col0; // index of (t, b, col0) in (L, B, D)
        let padded = inp.mask_pad.is_some_and(|p| p[t * bsz + b] != T::ZERO);
        if !padded {
            let cols = (&mut u0, &mut u1, &mut u2, &mut xp);
            deinterleave::<T, K, SKIP>(inp, row, n, scale, cols);
            for j in 0..CHUNK {
                let cp = c[j];
                let f = (u1[j] + vf[j] * cp + bf[j]).sigmoid();
                let r = (u2[j] + vr[j] * cp + br[j]).sigmoid();
                let cn = (cp - u0[j]) * f + u0[j];
                let g = act::<T, TANH>(cn);
                let mr = if MC { m[j] * r } else { r };
                h[j] = match SKIP {
                    SKIP_X | SKIP_U3 => (g - xp[j]) * mr + xp[j],
                    _ => g * mr,
                };
                c[j] = cn;
            }
            for j in 0..n {
                // SAFETY: (t, b, col0 + j) belongs to this item alone.
                unsafe { out.write(row + j, h[j]) };
            }
        }
        if let Some(st) = states {
            for (j, &cj) in c[..n].iter().enumerate() {
                // SAFETY: as above.
                unsafe { st.write(row + j, cj) };
            }
        }
    }
    let last = (l * bsz + b) * width + col0;
    for (j, &cj) in c[..n].iter().enumerate() {
        // SAFETY: row L, (b, col0 + j) belongs to this item alone.
        unsafe { out.write(last + j, cj) };
    }
}

/// Backward pass from the saved `states (L, B, D)` and `grad_out (L + 1, B, D)`.
pub(crate) fn backward<T: Real>(
    cfg: &RecurrenceConfig,
    inp: &Inputs<'_, T>,
    states: &[T],
    grad_out: &[T],
) -> Grads<T> {
    let plane = cfg.columns();
    let (l, width) = (cfg.length, cfg.width());
    let mut gu = vec![T::ZERO; l * plane * cfg.k];
    let mut gx = cfg.reads_x().then(|| vec![T::ZERO; l * plane]);
    let mut gc0 = vec![T::ZERO; plane];
    // Per-column sums over time: [gvf, gvr, gbf, gbr], each (B, D).
    let mut partial = vec![T::ZERO; 4 * plane];
    let p = (
        Shared::new(&mut gu),
        gx.as_deref_mut().map(Shared::new),
        Shared::new(&mut gc0),
        Shared::new(&mut partial),
    );
    items(cfg).into_par_iter().for_each(|item| {
        dispatch!(
            cfg,
            backward_item_best::<T>(cfg, inp, states, grad_out, item, p)
        );
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
    Grads {
        u: gu,
        x: gx,
        weight_c: gw,
        bias: gb,
        c0: gc0,
    }
}

type Outs<T> = (Shared<T>, Option<Shared<T>>, Shared<T>, Shared<T>);

simd_variant!(
    backward_item_best,
    backward_item_avx2,
    backward_item,
    (cfg: &RecurrenceConfig, inp: &Inputs<'_, T>, states: &[T], grad_out: &[T], item: Item, outs: Outs<T>)
);

#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
#[inline(always)]
fn backward_item<T: Real, const K: usize, const SKIP: u8, const TANH: bool, const MC: bool>(
    cfg: &RecurrenceConfig,
    inp: &Inputs<'_, T>,
    states: &[T],
    grad_out: &[T],
    item: Item,
    (gu, gx, gc0, partial): Outs<T>,
) {
    let (l, bsz, width, plane) = (cfg.length, cfg.batch, cfg.width(), cfg.columns());
    let Item { b, dir, j0, n } = item;
    let col0 = dir * cfg.d + j0;
    let scale = T::from_f64(scale_of(cfg));
    let vf = &inp.weight_c[col0..col0 + n];
    let vr = &inp.weight_c[width + col0..width + col0 + n];
    let bf = &inp.bias[col0..col0 + n];
    let br = &inp.bias[width + col0..width + col0 + n];
    let bcol = b * width + col0;
    let m: &[T] = match inp.mask_c {
        Some(mc) if MC => &mc[bcol..bcol + n],
        _ => &[],
    };
    let c0 = &inp.c0[bcol..bcol + n];
    let last = (l * bsz + b) * width + col0;
    // As in the forward: fixed-size zero-padded arrays, one per column of U, so the unit loop
    // runs over whole arrays and vectorises; lanes past n see zeros and are never written.
    let (vf, vr, bf, br) = (padded(vf), padded(vr), padded(bf), padded(br));
    let m = if MC { padded(m) } else { [T::ONE; CHUNK] };
    let mut gc = padded(&grad_out[last..last + n]);
    let (mut gvf, mut gvr, mut gbf, mut gbr) = (
        [T::ZERO; CHUNK],
        [T::ZERO; CHUNK],
        [T::ZERO; CHUNK],
        [T::ZERO; CHUNK],
    );
    let (mut u0, mut u1, mut u2, mut xp) = (
        [T::ZERO; CHUNK],
        [T::ZERO; CHUNK],
        [T::ZERO; CHUNK],
        [T::ZERO; CHUNK],
    );
    let (mut cp_a, mut ct_a, mut gh_a) = ([T::ZERO; CHUNK], [T::ZERO; CHUNK], [T::ZERO; CHUNK]);
    let mut go = [[T::ZERO; CHUNK]; 4];
    let mut out_u = [T::ZERO; CHUNK * 4];
    let mut out_x = [T::ZERO; CHUNK];
    for step in (0..l).rev() {
        let t = if dir == 0 { step } else { l - 1 - step };
        let row = (t * bsz + b) * width + col0;
        if inp.mask_pad.is_some_and(|p| p[t * bsz + b] != T::ZERO) {
            continue; // no gradient at a padded step; gc passes through unchanged
        }
        // The state before this step in processing order.
        let prev: &[T] = if step == 0 {
            c0
        } else {
            let tp = if dir == 0 { t - 1 } else { t + 1 };
            let r = (tp * bsz + b) * width + col0;
            &states[r..r + n]
        };
        cp_a[..n].copy_from_slice(prev);
        ct_a[..n].copy_from_slice(&states[row..row + n]);
        gh_a[..n].copy_from_slice(&grad_out[row..row + n]);
        let cols = (&mut u0, &mut u1, &mut u2, &mut xp);
        deinterleave::<T, K, SKIP>(inp, row, n, scale, cols);
        for j in 0..CHUNK {
            let cp = cp_a[j];
            let f = (u1[j] + vf[j] * cp + bf[j]).sigmoid();
            let r = (u2[j] + vr[j] * cp + br[j]).sigmoid();
            let g = act::<T, TANH>(ct_a[j]);
            let dg = if TANH { T::ONE - g * g } else { T::ONE };
            let mj = m[j];
            let xpj = if SKIP == SKIP_NONE { T::ZERO } else { xp[j] };
            let ghj = gh_a[j];
            let grr = ghj * (g - xpj) * mj * r * (T::ONE - r);
            gbr[j] = gbr[j] + grr;
            gvr[j] = gvr[j] + grr * cp;
            let gct = ghj * mj * r * dg + gc[j];
            let gf = gct * (cp - u0[j]) * f * (T::ONE - f);
            gbf[j] = gbf[j] + gf;
            gvf[j] = gvf[j] + gf * cp;
            gc[j] = gct * f + gf * vf[j] + grr * vr[j];
            go[0][j] = gct * (T::ONE - f);
            go[1][j] = gf;
            go[2][j] = grr;
            let gxs = if SKIP == SKIP_NONE {
                T::ZERO
            } else {
                ghj * (T::ONE - r * mj)
            };
            go[3][j] = if SKIP == SKIP_U3 { gxs } else { T::ZERO };
            out_x[j] = gxs * scale;
        }
        // Re-interleave into (units × K).
        for (j, o) in out_u[..n * K].chunks_exact_mut(K).enumerate() {
            for (i, v) in o.iter_mut().enumerate() {
                *v = go[i][j];
            }
        }
        for (i, &v) in out_u[..n * K].iter().enumerate() {
            // SAFETY: (t, b, col0 .. col0 + n) and their k parts belong to this item alone.
            unsafe { gu.write(row * K + i, v) };
        }
        if let Some(gx) = gx {
            for (j, &v) in out_x[..n].iter().enumerate() {
                // SAFETY: as above.
                unsafe { gx.write(row + j, v) };
            }
        }
    }
    for j in 0..n {
        // SAFETY: column (b, col0 + j) belongs to this item alone.
        unsafe {
            gc0.write(bcol + j, gc[j]);
            partial.write(bcol + j, gvf[j]);
            partial.write(plane + bcol + j, gvr[j]);
            partial.write(2 * plane + bcol + j, gbf[j]);
            partial.write(3 * plane + bcol + j, gbr[j]);
        }
    }
}
