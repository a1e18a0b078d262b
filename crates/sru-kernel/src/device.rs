//! Asking whether a GPU backend can run here, before Burn is asked for a device (which would
//! otherwise panic inside a dependency, sometimes on a background thread): a CUDA driver with a
//! device ([`cuda_device_count`]), a WGPU adapter ([`wgpu_adapter_count`]).

use crate::error::KernelError;

/// Checks that a CUDA driver can be loaded and reports at least one device.
///
/// Loads `libcuda.so.1` at run time, calls `cuInit(0)` and `cuDeviceGetCount`, and returns
/// the number of devices. Without the `cuda` feature it always fails with a message saying so.
///
/// # Errors
/// [`KernelError::DeviceUnavailable`] with the reason (no driver, init failure, no device).
pub fn cuda_device_count() -> Result<usize, KernelError> {
    let unavailable = |why: String| KernelError::DeviceUnavailable {
        backend: "CUDA",
        why,
    };
    #[cfg(feature = "cuda")]
    {
        cuda::device_count().map_err(unavailable)
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err(unavailable(
            "this build has no CUDA support; rebuild with `--features cuda`".into(),
        ))
    }
}

/// The adapters WGPU offers on the graphics API that Burn's WGPU backend uses here (Vulkan on
/// Linux and Windows, Metal on macOS); at least one, or an error naming the fix.
///
/// Without a driver, CubeCL's device set-up panics with "No possible adapter available for
/// backend"; asking first turns that into a message. Without the `wgpu` feature it always
/// fails with a message saying so.
///
/// # Errors
/// [`KernelError::DeviceUnavailable`] when no adapter exists.
pub fn wgpu_adapter_count() -> Result<usize, KernelError> {
    let unavailable = |why: String| KernelError::DeviceUnavailable {
        backend: "WGPU",
        why,
    };
    #[cfg(feature = "wgpu")]
    {
        use cubecl::wgpu::{AutoGraphicsApi, GraphicsApi};
        let api = AutoGraphicsApi::backend();
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: api.into(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let n = cubecl::future::block_on(instance.enumerate_adapters(api.into())).len();
        if n == 0 {
            return Err(unavailable(format!(
                "no {api:?} adapter found. Install a {api:?} driver: on Debian/Ubuntu without a \
                 GPU, `apt-get install mesa-vulkan-drivers` gives a software device (lavapipe)"
            )));
        }
        Ok(n)
    }
    #[cfg(not(feature = "wgpu"))]
    {
        Err(unavailable(
            "this build has no WGPU support; rebuild with `--features wgpu`".into(),
        ))
    }
}

#[cfg(feature = "cuda")]
mod cuda {
    type CuInit = unsafe extern "C" fn(u32) -> i32;
    type CuDeviceGetCount = unsafe extern "C" fn(*mut i32) -> i32;

    pub(super) fn device_count() -> Result<usize, String> {
        // SAFETY: loading the system CUDA driver runs its initialisers, which is what any CUDA
        // program does; the symbols are looked up with their documented C signatures.
        unsafe {
            let lib = libloading::Library::new("libcuda.so.1")
                .or_else(|_| libloading::Library::new("libcuda.so"))
                .map_err(|e| format!("the CUDA driver library could not be loaded ({e})"))?;
            let init: libloading::Symbol<CuInit> =
                lib.get(b"cuInit\0").map_err(|e| e.to_string())?;
            let rc = init(0);
            if rc != 0 {
                return Err(format!("cuInit failed with CUresult {rc}"));
            }
            let count: libloading::Symbol<CuDeviceGetCount> =
                lib.get(b"cuDeviceGetCount\0").map_err(|e| e.to_string())?;
            let mut n = 0i32;
            let rc = count(&mut n);
            if rc != 0 {
                return Err(format!("cuDeviceGetCount failed with CUresult {rc}"));
            }
            if n <= 0 {
                return Err("the driver reports no CUDA device".into());
            }
            Ok(n as usize)
        }
    }
}
