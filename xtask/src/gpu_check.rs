//! `cargo xtask gpu-check`: one command for a machine with an NVIDIA GPU. Runs the kernel's
//! parity fixtures and random-input checks on CUDA (f32, then f16 and bf16 storage), then the
//! bandwidth benchmark against a device-to-device copy, and prints a table at the end.
//! Meant to run from a release binary built elsewhere (`CUDARC_CUDA_VERSION` set to the
//! target's CUDA) and copied over with the repository's `fixtures/`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

/// Arguments of `cargo xtask gpu-check`.
#[derive(Debug, Args)]
pub struct GpuCheck {
    /// Folder of recurrence fixtures to check on the GPU.
    #[arg(long, default_value = "fixtures/reference/public")]
    fixtures: PathBuf,
    /// Skip the benchmark (checks only).
    #[arg(long)]
    no_bench: bool,
}

impl GpuCheck {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        #[cfg(feature = "cuda")]
        {
            cuda::run(&self)
        }
        #[cfg(not(feature = "cuda"))]
        {
            let _ = (&self.fixtures, self.no_bench);
            anyhow::bail!(
                "gpu-check needs CUDA support: build with `cargo build --release -p xtask --features cuda`"
            )
        }
    }
}

#[cfg(feature = "cuda")]
mod cuda {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use anyhow::{Result, bail};
    use burn::backend::cuda::CudaDevice;
    use burn::backend::{Autodiff, Cuda};
    use burn::tensor::DType;
    use burn::tensor::backend::Backend;
    use burn_cubecl::CubeBackend;
    use cubecl::cuda::CudaRuntime;
    use sru_benches::{CopyBaseline, Shape, gbps, median_time, prepare};
    use sru_parity::random::{check_backend, option_grid, shape_cases};
    use sru_parity::{Fixture, run_recurrence};

    use super::GpuCheck;

    type Raw = CubeBackend<CudaRuntime, f32, i32, u8>;

    pub(super) fn run(cmd: &GpuCheck) -> Result<()> {
        let n = sru_kernel::device::cuda_device_count()?;
        println!("CUDA devices: {n}");
        let dev = CudaDevice::default();
        let mut rows: Vec<(String, String)> = Vec::new();
        let mut failures = 0usize;
        // 1. Parity fixtures, f32.
        let mut files: Vec<_> = std::fs::read_dir(&cmd.fixtures)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("recurrence_"))
            })
            .collect();
        files.sort();
        for f in &files {
            let fx = Fixture::load(f)?;
            let r = run_recurrence::<Autodiff<Cuda>>(&fx, &dev, DType::F32)?;
            let ok = r.passed();
            failures += usize::from(!ok);
            println!(
                "{} max_abs_err={:.3e} {}",
                r.case,
                r.max_abs_err(),
                if ok { "PASS" } else { "FAIL" }
            );
        }
        rows.push((
            "parity fixtures (f32)".into(),
            format!("{} cases, {failures} failed", files.len()),
        ));
        // 2. Random inputs over the option grid and edge shapes, per storage dtype.
        for (dtype, tol, label) in [
            (DType::F32, 1e-4, "f32"),
            (DType::F16, 2e-2, "f16"),
            (DType::BF16, 1e-1, "bf16"),
        ] {
            if !<Cuda as Backend>::supports_dtype(&dev, dtype) {
                rows.push((
                    format!("random checks {label}"),
                    "dtype not supported".into(),
                ));
                continue;
            }
            let ok = catch_unwind(AssertUnwindSafe(|| {
                check_backend::<Autodiff<Cuda>>(label, &option_grid(), dtype, tol, &dev);
                check_backend::<Autodiff<Cuda>>(label, &shape_cases(), dtype, tol, &dev);
            }));
            let verdict = match ok {
                Ok(()) => "PASS".to_string(),
                Err(_) => {
                    failures += 1;
                    "FAIL (see message above)".to_string()
                }
            };
            rows.push((format!("random checks {label} (tol {tol:.0e})"), verdict));
        }
        // 3. Bandwidth against a device-to-device copy of the same size.
        if !cmd.no_bench {
            for shape in [
                Shape {
                    length: 1024,
                    batch: 4,
                    d: 3072,
                },
                Shape {
                    length: 1024,
                    batch: 16,
                    d: 4096,
                },
                Shape {
                    length: 4096,
                    batch: 4,
                    d: 1 << 16,
                },
            ] {
                for dtype in [DType::F32, DType::BF16] {
                    let p = prepare::<Raw>(shape, dtype, &dev);
                    let copy = CopyBaseline::<Raw>::new(3 * shape.elements(), dtype, &dev);
                    let tc = median_time(3, 10, || copy.run(&dev));
                    let tf = median_time(3, 10, || p.forward(&dev));
                    let tb = median_time(3, 10, || p.forward_backward(&dev));
                    let (c, f, b) = (
                        gbps(copy.bytes(), tc),
                        gbps(p.forward_bytes(), tf),
                        gbps(p.forward_backward_bytes(), tb),
                    );
                    rows.push((
                        format!("bench {} {dtype:?}", shape.label()),
                        format!("copy {c:.0} GB/s | fwd {f:.0} GB/s ({:.2}) {:.2} ms | f+b {b:.0} GB/s ({:.2}) {:.2} ms", f / c, tf.as_secs_f64() * 1e3, b / c, tb.as_secs_f64() * 1e3),
                    ));
                }
            }
        }
        println!("\n==== gpu-check summary ====");
        for (k, v) in &rows {
            println!("{k:<40} {v}");
        }
        if failures > 0 {
            bail!("{failures} GPU check(s) failed");
        }
        Ok(())
    }
}
