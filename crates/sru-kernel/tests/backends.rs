//! Every backend's kernel against the float64 tensor-op reference, forward and every gradient,
//! on fresh random inputs for the whole option grid and the edge shapes. One test body,
//! stamped per backend and dtype; GPU backends are gated by Cargo features, not `#[ignore]`,
//! and WGPU tests skip themselves (with the reason) on a machine without a Vulkan driver
//! unless `SRU_REQUIRE_WGPU` is set.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use burn::tensor::DType;
use sru_parity::random::{check_backend, option_grid, shape_cases};

/// No reason to skip: the CPU backend always runs.
fn always() -> Option<String> {
    None
}

macro_rules! backend_tests {
    ($name:ident, $backend:ty, $device:expr, $dtype:expr, $tol:expr, $skip:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn option_grid_matches_reference() {
                if let Some(why) = $skip() {
                    eprintln!("skipped: {why}");
                    return;
                }
                check_backend::<$backend>(
                    stringify!($name),
                    &option_grid(),
                    $dtype,
                    $tol,
                    &$device,
                );
            }
            #[test]
            fn edge_shapes_match_reference() {
                if let Some(why) = $skip() {
                    eprintln!("skipped: {why}");
                    return;
                }
                check_backend::<$backend>(
                    stringify!($name),
                    &shape_cases(),
                    $dtype,
                    $tol,
                    &$device,
                );
            }
        }
    };
}

type FlexAd = burn::backend::Autodiff<burn::backend::Flex>;
backend_tests!(
    flex_f64,
    FlexAd,
    Default::default(),
    DType::F64,
    1e-9,
    always
);
backend_tests!(
    flex_f32,
    FlexAd,
    Default::default(),
    DType::F32,
    1e-4,
    always
);

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::*;
    use burn::backend::wgpu::{WgpuDevice, WgpuRuntime};
    use burn_cubecl::CubeBackend;

    /// The plain CubeCL backend (no fusion).
    type Cube = burn::backend::Autodiff<CubeBackend<WgpuRuntime, f32, i32, u32>>;
    /// Burn's default `Wgpu` type: `Fusion<CubeBackend<..>>` with the `fusion` feature.
    type Fused = burn::backend::Autodiff<burn::backend::Wgpu>;

    use sru_parity::gate::wgpu_skip_reason;

    backend_tests!(
        cube_f32,
        Cube,
        WgpuDevice::default(),
        DType::F32,
        1e-4,
        wgpu_skip_reason
    );
    backend_tests!(
        fusion_f32,
        Fused,
        WgpuDevice::default(),
        DType::F32,
        1e-4,
        wgpu_skip_reason
    );

    /// f16 storage with f32 arithmetic, where the device can store f16.
    #[test]
    fn fusion_f16_matches_reference_when_supported() {
        use burn::tensor::backend::Backend;
        if let Some(why) = wgpu_skip_reason() {
            eprintln!("skipped: {why}");
            return;
        }
        let dev = WgpuDevice::default();
        if !<burn::backend::Wgpu as Backend>::supports_dtype(&dev, DType::F16) {
            eprintln!("skipped: this WGPU device has no f16 support");
            return;
        }
        let cases: Vec<_> = option_grid().into_iter().step_by(3).collect();
        check_backend::<Fused>("fusion_f16", &cases, DType::F16, 2e-2, &dev);
    }
}

// f16 storage on the CPU: widened to f32 for the computation.
backend_tests!(
    flex_f16,
    FlexAd,
    Default::default(),
    DType::F16,
    2e-2,
    always
);
