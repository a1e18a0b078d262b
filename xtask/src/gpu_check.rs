//! `cargo xtask gpu-check`: one command for a machine with an NVIDIA GPU. Runs the kernel's
//! parity fixtures and random-input checks on CUDA (f32, then f16 and bf16 storage), then the
//! bandwidth benchmark against a device-to-device copy, then the enwik8-base training step
//! (f32, bf16, f16) and, where Python with torch and the official `sru` is installed, the
//! official SRU++ on the same GPU; prints a table at the end.
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
    /// Python with torch and sru==3.0.0.dev6 for the official side (skipped when absent).
    #[arg(long, default_value = "python3")]
    python: String,
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
            let _ = (&self.fixtures, self.no_bench, &self.python);
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
    use sru_bench::{CopyBaseline, Shape, gbps, median_time, prepare};
    use sru_parity::random::{check_backend, option_grid, shape_cases};
    use sru_parity::{Fixture, run_recurrence};

    use super::GpuCheck;

    type Raw = CubeBackend<CudaRuntime, f32, i32, u8>;

    fn train_steps(cmd: &GpuCheck, dev: &CudaDevice, rows: &mut Vec<(String, String)>) {
        use sru_bench::{InferBench, LmShape, TrainBench};
        use sru_train::Precision;
        let shape = LmShape {
            d: 3072,
            proj: 768,
            layers: 10,
            unroll: 1024,
            batch: 4,
            vocab: 205,
        };
        for (precision, label) in [
            (Precision::F32, "f32"),
            (Precision::Bf16, "bf16"),
            (Precision::F16, "f16"),
        ] {
            let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<(f64, f64)> {
                let mut step =
                    TrainBench::<Autodiff<Cuda>>::synthetic(&shape, precision, dev.clone())?;
                let mut err = None;
                let t = median_time(2, 5, || {
                    if let Err(e) = step.step() {
                        err = Some(e);
                    }
                });
                drop(step);
                let mut infer = InferBench::<Cuda>::new(&shape, dev)?;
                let ti = median_time(2, 5, || {
                    if let Err(e) = infer.step() {
                        err = Some(e);
                    }
                });
                if let Some(e) = err {
                    return Err(e.into());
                }
                Ok((t.as_secs_f64(), ti.as_secs_f64()))
            }));
            let text = match outcome {
                Ok(Ok((t, ti))) => format!(
                    "train {:.0} tokens/s ({:.1} ms/step) | infer (f32) {:.0} tokens/s",
                    shape.tokens() as f64 / t,
                    t * 1e3,
                    shape.tokens() as f64 / ti
                ),
                Ok(Err(e)) => format!("error: {e:#}"),
                Err(_) => "panicked (see message above)".into(),
            };
            rows.push((format!("train-step enwik8-base {label}"), text));
        }
        // The official code on the same GPU, where it is installed.
        let script = std::path::Path::new("benches/compare/official.py");
        let out = std::process::Command::new(&cmd.python)
            .arg(script)
            .args([
                "--device", "cuda", "--d", "3072", "--proj", "768", "--layers", "10",
            ])
            .args([
                "--unroll",
                "1024",
                "--batch",
                "4",
                "--vocab",
                "205",
                "--lm-only",
            ])
            .output();
        let text = match out {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout).into_owned();
                match text
                    .lines()
                    .last()
                    .map(serde_json::from_str::<serde_json::Value>)
                {
                    Some(Ok(v)) => format!(
                        "train {:.0} tokens/s | infer {:.0} tokens/s",
                        v["train_tokens_per_s"].as_f64().unwrap_or(f64::NAN),
                        v["infer_tokens_per_s"].as_f64().unwrap_or(f64::NAN)
                    ),
                    _ => format!("unreadable output: {text}"),
                }
            }
            Ok(o) => format!(
                "not run: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("failed")
            ),
            Err(e) => format!("not run: {} ({e})", cmd.python),
        };
        rows.push(("official SRU++ enwik8-base f32 (same GPU)".into(), text));
    }

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
        // 4. The enwik8-base training step (d 3072, d' 768, 10 layers, L 1024, B 4 per GPU).
        if !cmd.no_bench {
            train_steps(cmd, &dev, &mut rows);
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
