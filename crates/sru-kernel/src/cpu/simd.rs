//! Choosing the instruction set at run time: the step loops are compiled twice, once for the
//! baseline x86-64 (SSE2, 4 f32 lanes) and once for AVX2 + FMA (8 lanes), and the best build
//! the CPU supports runs ([`simd_variant!`]). [`dispatch!`] turns the run-time options of a
//! call (k, skip source, activation, dropout mask) into the const generics of the item loops,
//! so each combination is its own branch-free loop.

/// Whether this CPU runs the AVX2 + FMA builds of the step loops (checked once, cached by std).
#[inline(always)]
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Generates `$best` (with visibility `$vis`), which runs the per-step loop `$body` (generic parameters `[$gen]`, passed
/// on as `[$garg]`) compiled for AVX2 + FMA when the CPU has them (8 f32 lanes instead of the
/// baseline's 4) and the baseline build otherwise. The AVX2 build is a separate function over
/// fixed-size arrays, which LLVM vectorises (inlined into the whole item loop, the unit loop
/// stayed scalar). The arithmetic is the same IEEE operations in both, so results do not
/// depend on the CPU.
macro_rules! simd_variant {
    (
        $vis:vis $best:ident, $avx2:ident, $body:ident,
        [$($gen:tt)*], [$($garg:tt)*], ($($arg:ident: $ty:ty),*)
    ) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        #[inline(never)]
        fn $avx2<$($gen)*>($($arg: $ty),*) {
            $body::<$($garg)*>($($arg),*)
        }

        #[inline(always)]
        $vis fn $best<$($gen)*>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if $crate::cpu::simd::has_avx2() {
                // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                return unsafe { $avx2::<$($garg)*>($($arg),*) };
            }
            $body::<$($garg)*>($($arg),*)
        }
    };
}
pub(crate) use simd_variant;

/// Calls `$f::<$t, K, SKIP, TANH, MC>($args)` with the const parameters of `$cfg`: k ∈ {3, 4},
/// the skip source (none, x, U's 4th part), tanh or identity, with or without mask_c.
macro_rules! dispatch {
    ($cfg:expr, $f:ident :: <$t:ty>($($arg:expr),*)) => {{
        use $crate::cpu::columns::{SKIP_NONE, SKIP_U3, SKIP_X};
        use $crate::options::{Activation, Skip};
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
pub(crate) use dispatch;
