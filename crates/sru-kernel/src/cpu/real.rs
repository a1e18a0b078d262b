//! The scalar types the native CPU kernel runs in (f32, f64) and their math.
//!
//! f32 uses a branch-free `exp` (Cody-Waite range reduction and a degree-6 polynomial, within
//! 2 ulp on the clamped range) so that the column loop vectorises; f64 uses the standard
//! library's `exp`, so float64 results match the official float64 oracle to ~1e-15.

use core::ops::{Add, Mul, Neg, Sub};

/// A float the CPU kernel computes in.
pub(crate) trait Real:
    Copy
    + Send
    + Sync
    + Default
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
    + bytemuck::Pod
    + PartialEq
{
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(v: f64) -> Self;
    /// `1 / (1 + exp(-x))`.
    fn sigmoid(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + (-self).exp())
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + exp_f32(-self))
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        // 1 - 2 / (e^{2x} + 1): exact limits ±1, absolute error ~1e-7 near 0.
        1.0 - 2.0 / (exp_f32(2.0 * self) + 1.0)
    }
}

/// Branch-free `e^x` for f32 (Cephes coefficients), vectorisable by the compiler.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    // max/min rather than clamp, and the exponent taken from the rounding sum's bits rather
    // than a saturating float→int cast: both keep the function branch-free, so loops over it
    // vectorise.
    let x0 = x;
    #[allow(clippy::manual_clamp)] // clamp keeps NaN through a branch; max/min vectorise
    let x = x.max(-87.0).min(88.0);
    let t = x * LOG2E + ROUND;
    let kf = t - ROUND;
    let k = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32); // kf as an integer
    let r = x - kf * C1 - kf * C2;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5e-1;
    let er = p * r * r + r + 1.0;
    let scale = f32::from_bits(((k + 127) as u32) << 23);
    // NaN stays NaN (max/min would have replaced it): a select, still branch-free.
    if x0.is_nan() { x0 } else { er * scale }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_f32_is_within_a_few_ulp_of_std() {
        let mut worst: f32 = 0.0;
        let mut x = -87.0_f32;
        while x < 88.0 {
            let (a, b) = (exp_f32(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.0137;
        }
        assert!(worst < 5e-7, "relative error {worst}");
        // NaN propagates (so a broken input shows up as NaN downstream), infinities saturate.
        assert!(exp_f32(f32::NAN).is_nan());
        assert!(Real::sigmoid(f32::NAN).is_nan());
        assert_eq!(exp_f32(f32::NEG_INFINITY), exp_f32(-87.0));
        assert_eq!(Real::sigmoid(f32::INFINITY), 1.0);
    }

    #[test]
    fn sigmoid_and_tanh_saturate_without_nan() {
        for x in [-1e30_f32, -100.0, -1.0, 0.0, 1.0, 100.0, 1e30] {
            let s = x.sigmoid();
            let t = Real::tanh(x);
            assert!((0.0..=1.0).contains(&s), "sigmoid({x}) = {s}");
            assert!((-1.0..=1.0).contains(&t), "tanh({x}) = {t}");
            assert!((t - x.tanh()).abs() < 1e-6, "tanh({x}) = {t}");
        }
    }
}
