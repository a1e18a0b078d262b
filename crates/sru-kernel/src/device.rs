//! Asking whether a GPU backend can run here, before Burn is asked for a device (which would
//! otherwise panic inside a dependency, sometimes on a background thread).

use crate::error::KernelError;

/// Checks that a CUDA driver can be loaded and reports at least one device.
///
/// Loads `libcuda.so.1` at run time, calls `cuInit(0)` and `cuDeviceGetCount`, and returns
/// the number of devices. Without the `cuda` feature it always fails with a message saying so.
///
/// # Errors
/// [`KernelError::DeviceUnavailable`] with the reason (no driver, init failure, no device).
pub fn cuda_device_count() -> Result<usize, KernelError> {
    #[cfg(feature = "cuda")]
    {
        cuda::device_count()
            .map_err(|e| KernelError::DeviceUnavailable(format!("CUDA unavailable: {e}")))
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err(KernelError::DeviceUnavailable(
            "this build has no CUDA support; rebuild with `--features cuda`".into(),
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
