//! How the CPU kernel lays out its work: the B·D columns are cut into items of at most
//! [`CHUNK`] adjacent units of one (batch row, direction); inside an item the time loop is
//! outermost and the units innermost. Each step's values live in fixed-size, zero-padded
//! arrays, one per part of U ([`Columns`]), so the unit loops run over whole arrays without
//! bounds checks and vectorise; lanes past an item's width compute on zeros and are never
//! written back. U is interleaved `(units × k)` in memory; [`deinterleave`] and
//! [`reinterleave`] convert between that and the per-part arrays.

use super::Inputs;
use super::real::Real;
use super::simd::simd_variant;
use crate::options::{RecurrenceConfig, Skip};

/// Units per work item.
pub(crate) const CHUNK: usize = 128;

/// No skip term.
pub(crate) const SKIP_NONE: u8 = 0;
/// The skip term is `x · scale_x` (k = 3).
pub(crate) const SKIP_X: u8 = 1;
/// The skip term is U's 4th part (k = 4).
pub(crate) const SKIP_U3: u8 = 2;

/// One work item: batch row `b`, direction `dir`, units `j0 .. j0 + n` of that direction.
#[derive(Clone, Copy)]
pub(crate) struct Item {
    pub b: usize,
    pub dir: usize,
    pub j0: usize,
    pub n: usize,
}

/// Every item of a call; together they cover each (batch row, column) exactly once.
pub(crate) fn items(cfg: &RecurrenceConfig) -> Vec<Item> {
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

/// The `scale_x` of the skip term (1 when the skip does not come from x).
pub(crate) fn scale_of(cfg: &RecurrenceConfig) -> f64 {
    match cfg.skip {
        Skip::Input { scale } => scale,
        _ => 1.0,
    }
}

/// `src` (at most [`CHUNK`] values) in a zero-padded fixed-size array.
#[inline(always)]
pub(crate) fn padded<T: Real>(src: &[T]) -> [T; CHUNK] {
    let mut a = [T::ZERO; CHUNK];
    a[..src.len()].copy_from_slice(src);
    a
}

/// One time step of U for an item, one zero-padded array per part: `u0, u1, u2`, and the
/// skip term `xp` (U's 4th part, or x · scale).
pub(crate) struct Columns<T> {
    pub u0: [T; CHUNK],
    pub u1: [T; CHUNK],
    pub u2: [T; CHUNK],
    pub xp: [T; CHUNK],
}

impl<T: Real> Columns<T> {
    /// All zeros.
    pub(crate) fn new() -> Self {
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
pub(crate) struct Gates<T> {
    pub vf: [T; CHUNK],
    pub vr: [T; CHUNK],
    pub bf: [T; CHUNK],
    pub br: [T; CHUNK],
    pub m: [T; CHUNK],
}

impl<T: Real> Gates<T> {
    /// The gates of units `col0 .. col0 + n` of batch row `b`; `use_mask`: read mask_c.
    pub(crate) fn new(
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
/// term into `xp` (U's 4th part, or x · scale).
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

/// Interleaves the first `n` units of U's gradient parts back into `(units × K)`.
#[inline(always)]
fn reinterleave<T: Real, const K: usize>(cols: &[[T; CHUNK]; 4], n: usize, out: &mut [T]) {
    for (j, o) in out[..n * K].chunks_exact_mut(K).enumerate().take(CHUNK) {
        for (i, v) in o.iter_mut().enumerate() {
            *v = cols[i][j];
        }
    }
}

simd_variant!(
    pub(crate) deinterleave_best,
    deinterleave_avx2,
    deinterleave,
    [T: Real, const K: usize, const SKIP: u8],
    [T, K, SKIP],
    (inp: &Inputs<'_, T>, row: usize, n: usize, scale: T, cols: &mut Columns<T>)
);

simd_variant!(
    pub(crate) reinterleave_best,
    reinterleave_avx2,
    reinterleave,
    [T: Real, const K: usize],
    [T, K],
    (cols: &[[T; CHUNK]; 4], n: usize, out: &mut [T])
);
