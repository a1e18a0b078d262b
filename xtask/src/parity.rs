//! `cargo xtask parity <files...>`: runs fixture files made by `make_fixtures.py` through
//! sru-rs and prints one line per case, `<case> max_abs_err=<x> PASS|FAIL`; exits non-zero
//! when any case fails or cannot be run.

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::backend::{Autodiff, Flex};
use burn::tensor::DType;
use clap::Args;
use sru_parity::{CaseReport, Fixture, ParityError, run_fixture};

use crate::backend::{BackendKind, DTypeArg, ensure_available};

/// Arguments of `cargo xtask parity`.
#[derive(Debug, Args)]
pub struct Parity {
    /// Fixture files (`*.safetensors`) or folders holding them.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Backend to run on.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    backend: BackendKind,
    /// Float type to compute in (tolerance 1e-9 for f64, 1e-4 otherwise).
    #[arg(long, value_enum, default_value_t = DTypeArg::F64)]
    dtype: DTypeArg,
    /// Print every compared tensor, not only failures.
    #[arg(long)]
    verbose: bool,
}

impl Parity {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        ensure_available(self.backend)?;
        let dtype = self.dtype.dtype();
        if dtype == DType::F64 && self.backend != BackendKind::Cpu {
            bail!("--dtype f64 runs on --backend cpu only (GPU kernels compute in f32)");
        }
        let files = expand(&self.files)?;
        let (mut failed, mut passed) = (0usize, 0usize);
        for path in &files {
            let outcome = Fixture::load(path).and_then(|fx| self.run_case(&fx, dtype));
            match outcome {
                Ok(report) => {
                    let ok = report.passed();
                    println!(
                        "{} max_abs_err={:.3e} {}",
                        report.case,
                        report.max_abs_err(),
                        if ok { "PASS" } else { "FAIL" }
                    );
                    for c in &report.comparisons {
                        if self.verbose || !c.passed() {
                            println!(
                                "    {:<10} max_abs_err={:.3e} limit={:.1e}",
                                c.tensor, c.max_abs_err, c.limit
                            );
                        }
                    }
                    if ok { passed += 1 } else { failed += 1 }
                }
                Err(e) => {
                    println!("{} ERROR {e}", path.display());
                    failed += 1;
                }
            }
        }
        println!("parity: {passed} passed, {failed} failed");
        if failed > 0 {
            bail!("{failed} parity case(s) failed");
        }
        Ok(())
    }

    fn run_case(&self, fx: &Fixture, dtype: DType) -> Result<CaseReport, ParityError> {
        match self.backend {
            BackendKind::Cpu => run_fixture::<Autodiff<Flex>>(fx, &Default::default(), dtype),
            #[cfg(feature = "wgpu")]
            BackendKind::Wgpu => {
                let dev = burn::backend::wgpu::WgpuDevice::default();
                run_fixture::<Autodiff<burn::backend::Wgpu>>(fx, &dev, dtype)
            }
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => {
                let dev = burn::backend::cuda::CudaDevice::default();
                run_fixture::<Autodiff<burn::backend::Cuda>>(fx, &dev, dtype)
            }
            #[allow(unreachable_patterns)]
            _ => unreachable!("ensure_available rejected the backend"),
        }
    }
}

/// Expands folders into their `*.safetensors` files (sorted).
fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|e| e == "safetensors"))
                .collect();
            v.sort();
            files.extend(v);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            bail!("no such fixture file or folder: {}", p.display());
        }
    }
    if files.is_empty() {
        bail!("no fixture files found in {:?}", inputs);
    }
    Ok(files)
}
