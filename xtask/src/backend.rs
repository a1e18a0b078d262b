//! Choosing a backend from the command line: the `--backend` and `--dtype` flags, and a check
//! that the chosen device exists before Burn is asked for it.

use anyhow::{Result, bail};
use burn::tensor::DType;
use clap::ValueEnum;

/// Backends a command can run on (those compiled in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// Burn's Flex CPU backend with the native CPU kernel.
    Cpu,
    /// WGPU (Vulkan, Metal, DX12) with the CubeCL kernel, through Burn's fusion.
    Wgpu,
    /// CUDA with the CubeCL kernel, through Burn's fusion.
    Cuda,
}

/// Float types a command can compute in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DTypeArg {
    /// float64 (CPU only).
    F64,
    /// float32.
    F32,
    /// float16 storage, f32 arithmetic (GPU).
    F16,
    /// bfloat16 storage, f32 arithmetic (CUDA).
    Bf16,
}

impl DTypeArg {
    /// The Burn dtype.
    pub fn dtype(self) -> DType {
        match self {
            Self::F64 => DType::F64,
            Self::F32 => DType::F32,
            Self::F16 => DType::F16,
            Self::Bf16 => DType::BF16,
        }
    }
}

/// Fails with a clear message when the backend was not compiled in or has no device here.
pub fn ensure_available(kind: BackendKind) -> Result<()> {
    match kind {
        BackendKind::Cpu => Ok(()),
        BackendKind::Wgpu => {
            sru_kernel::device::wgpu_adapter_count()?;
            Ok(())
        }
        BackendKind::Cuda => {
            if !cfg!(feature = "cuda") {
                bail!("this build has no CUDA support; rebuild with `--features cuda`");
            }
            sru_kernel::device::cuda_device_count()?;
            Ok(())
        }
    }
}

/// Work generic over the backend: `run` is called with the Burn backend `B` the user chose
/// (with autodiff) and `count` devices of it.
pub trait BackendJob {
    /// What the job returns.
    type Output;
    /// Runs on backend `B`.
    fn run<B: sru_train::TrainingBackend>(self, devices: Vec<B::Device>) -> Result<Self::Output>;
}

/// Runs `job` on `kind` with `count` devices.
pub fn dispatch<J: BackendJob>(kind: BackendKind, count: usize, job: J) -> Result<J::Output> {
    use burn::backend::{Autodiff, Flex};
    ensure_available(kind)?;
    if count == 0 {
        bail!("--devices must be at least 1");
    }
    match kind {
        BackendKind::Cpu => job.run::<Autodiff<Flex>>(vec![Default::default(); count]),
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => {
            use burn::backend::wgpu::WgpuDevice;
            let devices = if count == 1 {
                vec![WgpuDevice::default()]
            } else {
                (0..count).map(WgpuDevice::DiscreteGpu).collect()
            };
            job.run::<Autodiff<burn::backend::Wgpu>>(devices)
        }
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => {
            use burn::backend::cuda::CudaDevice;
            let available = sru_kernel::device::cuda_device_count()?;
            if count > available {
                bail!(
                    "--devices {count} asked for, but this machine has {available} CUDA device(s)"
                );
            }
            job.run::<Autodiff<burn::backend::Cuda>>((0..count).map(CudaDevice::new).collect())
        }
        #[allow(unreachable_patterns)]
        _ => unreachable!("ensure_available rejected the backend"),
    }
}
