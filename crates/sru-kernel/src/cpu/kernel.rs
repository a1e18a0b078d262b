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
    /// Writes `src` at indices `i .. i + src.len()`.
    ///
    /// # Safety
    /// Those indices are in bounds and no other item writes them.
    #[inline(always)]
    unsafe fn write_slice(self, i: usize, src: &[T]) {
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.0.add(i), src.len()) }
    }
}

/// An output buffer that the work items fill completely, so it is allocated without zeroing
/// (zeroing it took 10% of the bare forward).
struct Unfilled<T>(Vec<T>, usize);

impl<T> Unfilled<T> {
    fn new(len: usize) -> Self {
        Self(Vec::with_capacity(len), len)
    }
    fn shared(&mut self) -> Shared<T> {
        Shared(self.0.as_mut_ptr())
    }
    /// # Safety
    /// Every index below the length was written through [`Self::shared`].
    unsafe fn filled(mut self) -> Vec<T> {
        // SAFETY: capacity is `self.1`, and the caller guarantees every element is written.
        unsafe { self.0.set_len(self.1) };
        self.0
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

/// One time step of U for an item, one zero-padded array per column: `u0, u1, u2`, and the
/// skip term `xp` (U's 4th column, or x · scale).
struct Columns<T> {
    u0: [T; CHUNK],
    u1: [T; CHUNK],
    u2: [T; CHUNK],
    xp: [T; CHUNK],
}

impl<T: Real> Columns<T> {
    fn new() -> Self {
        let z = [T::ZERO; CHUNK];
        Self {
            u0: z,
            u1: z,
            u2: z,
            xp: z,
        }
    }
}

/// The per-unit constants of an item: the weight_c and bias halves, and its mask_c row (ones
/// without a mask), zero-padded to [`CHUNK`].
struct Gates<T> {
    vf: [T; CHUNK],
    vr: [T; CHUNK],
    bf: [T; CHUNK],
    br: [T; CHUNK],
    m: [T; CHUNK],
}

impl<T: Real> Gates<T> {
    /// The gates of units `col0 .. col0 + n` of batch row `b`; `use_mask`: read mask_c.
    fn new(
        cfg: &RecurrenceConfig,
        inp: &Inputs<'_, T>,
        (b, col0, n): (usize, usize, usize),
        use_mask: bool,
    ) -> Self {
        let width = cfg.width();
        let bcol = b * width + col0;
        Self {
            vf: padded(&inp.weight_c[col0..col0 + n]),
            vr: padded(&inp.weight_c[width + col0..width + col0 + n]),
            bf: padded(&inp.bias[col0..col0 + n]),
            br: padded(&inp.bias[width + col0..width + col0 + n]),
            m: match inp.mask_c {
                Some(mc) if use_mask => padded(&mc[bcol..bcol + n]),
                _ => [T::ONE; CHUNK],
            },
        }
    }
}

/// De-interleaves the U of units `row .. row + n` (units × K) into `u0, u1, u2`, and the skip
/// term into `xp` (U's 4th column, or x · scale).
#[inline(always)]
fn deinterleave<T: Real, const K: usize, const SKIP: u8>(
    inp: &Inputs<'_, T>,
    row: usize,
    n: usize,
    scale: T,
    cols: &mut Columns<T>,
) {
    let Columns { u0, u1, u2, xp } = cols;
    // Zipped iterators rather than indices: no bounds checks, so the stride-K loads vectorise.
    let src = inp.u[row * K..(row + n) * K].chunks_exact(K);
    let dst = u0.iter_mut().zip(u1.iter_mut()).zip(u2.iter_mut());
    for ((((a, b), c), d), uj) in dst.zip(xp.iter_mut()).zip(src) {
        (*a, *b, *c) = (uj[0], uj[1], uj[2]);
        if SKIP == SKIP_U3 {
            *d = uj[K - 1];
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

/// Interleaves the first `n` units of U's gradient columns back into `(units × K)`.
#[inline(always)]
fn reinterleave<T: Real, const K: usize>(cols: &[[T; CHUNK]; 4], n: usize, out: &mut [T]) {
    for (j, o) in out[..n * K].chunks_exact_mut(K).enumerate().take(CHUNK) {
        for (i, v) in o.iter_mut().enumerate() {
            *v = cols[i][j];
        }
    }
}

/// Whether this CPU runs the AVX2 + FMA builds of the step loops (checked once, cached by std).
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

/// Generates `$best`, which runs the per-step loop `$body` (generic parameters `[$gen]`, passed
/// on as `[$garg]`) compiled for AVX2 + FMA when the CPU has them (8 f32 lanes instead of the
/// baseline's 4) and the baseline build otherwise. The AVX2 build is a separate function over
/// fixed-size arrays, which LLVM vectorises (inlined into the whole item loop, the unit loop
/// stayed scalar). The arithmetic is the same IEEE operations in both, so results do not
/// depend on the CPU.
macro_rules! simd_variant {
    (
        $best:ident, $avx2:ident, $body:ident,
        [$($gen:tt)*], [$($garg:tt)*], ($($arg:ident: $ty:ty),*)
    ) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        #[inline(never)]
        fn $avx2<$($gen)*>($($arg: $ty),*) {
            $body::<$($garg)*>($($arg),*)
        }

        #[inline(always)]
        fn $best<$($gen)*>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if has_avx2() {
                // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                return unsafe { $avx2::<$($garg)*>($($arg),*) };
            }
            $body::<$($garg)*>($($arg),*)
        }
    };
}

simd_variant!(
    deinterleave_best,
    deinterleave_avx2,
    deinterleave,
    [T: Real, const K: usize, const SKIP: u8],
    [T, K, SKIP],
    (inp: &Inputs<'_, T>, row: usize, n: usize, scale: T, cols: &mut Columns<T>)
);

simd_variant!(
    reinterleave_best,
    reinterleave_avx2,
    reinterleave,
    [T: Real, const K: usize],
    [T, K],
    (cols: &[[T; CHUNK]; 4], n: usize, out: &mut [T])
);

simd_variant!(
    forward_step_best,
    forward_step_avx2,
    forward_step,
    [T: Real, const SKIP: u8, const TANH: bool, const MC: bool],
    [T, SKIP, TANH, MC],
    (g: &Gates<T>, u: &Columns<T>, c: &mut [T; CHUNK], h: &mut [T; CHUNK])
);

/// One time step of the forward for all units of an item (spec §1.2):
/// `f, r = σ(U1,2 + v ⊙ c + b)`, `c ← f ⊙ c + (1 - f) ⊙ U0`, `h = r ⊙ g(c) + (1 - r) ⊙ x'`.
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
    // Fixed-size, zero-padded arrays: the step loop runs over whole arrays, so it has no
    // bounds checks and vectorises (lanes past n compute on zeros and are never written).
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
    let mut gu = Unfilled::new(l * plane * cfg.k);
    let mut gx = cfg.reads_x().then(|| Unfilled::new(l * plane));
    let mut gc0 = vec![T::ZERO; plane];
    // Per-column sums over time: [gvf, gvr, gbf, gbr], each (B, D).
    let mut partial = vec![T::ZERO; 4 * plane];
    let p = (
        gu.shared(),
        gx.as_mut().map(Unfilled::shared),
        Shared::new(&mut gc0),
        Shared::new(&mut partial),
    );
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

type Outs<T> = (Shared<T>, Option<Shared<T>>, Shared<T>, Shared<T>);

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

/// The gradients one backward step produces: U's columns and x (already times the scale).
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

/// One time step of the backward for all units of an item (spec §1.3): recomputes f, r and
/// g(c) from the saved states, accumulates the weight_c/bias gradients and carries ∂L/∂c.
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

#[allow(clippy::too_many_arguments)]
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
    let bcol = b * width + col0;
    let c0 = &inp.c0[bcol..bcol + n];
    let last = (l * bsz + b) * width + col0;
    // As in the forward: fixed-size zero-padded arrays, so the step loop runs over whole
    // arrays and vectorises; lanes past n see zeros and are never written.
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
            // No gradient at a padded step; gc passes through unchanged.
            // SAFETY: (t, b, col0 .. col0 + n) and their k parts belong to this item alone.
            unsafe {
                gu.write_slice(row * K, &[T::ZERO; CHUNK * 4][..n * K]);
                if let Some(gx) = gx {
                    gx.write_slice(row, &[T::ZERO; CHUNK][..n]);
                }
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
        unsafe { gu.write_slice(row * K, &out_u[..n * K]) };
        if let Some(gx) = gx {
            // SAFETY: as above.
            unsafe { gx.write_slice(row, &grads.x[..n]) };
        }
    }
    for j in 0..n {
        // SAFETY: column (b, col0 + j) belongs to this item alone.
        unsafe {
            gc0.write(bcol + j, sums.gc[j]);
            partial.write(bcol + j, sums.gvf[j]);
            partial.write(plane + bcol + j, sums.gvr[j]);
            partial.write(2 * plane + bcol + j, sums.gbf[j]);
            partial.write(3 * plane + bcol + j, sums.gbr[j]);
        }
    }
}
