//! Keeps freed tensor buffers in the process instead of handing them back to the kernel.
//!
//! glibc serves every allocation above its mmap threshold (128 KiB, rising to at most 32 MiB)
//! with a fresh `mmap` and unmaps it on free, and trims the top of the heap past 128 KiB. A
//! training or scoring step allocates and frees the same large tensors every step, so each
//! step then pays a page fault and the kernel zeroing every page again: that took 40% of the
//! bare recurrence benchmark (`perf`: `clear_page_erms`). Raising both thresholds lets freed
//! blocks be reused, as PyTorch's caching allocators do; the peak resident set is unchanged,
//! but memory freed after the peak stays with the process until it exits.

/// Sets glibc's mmap and trim thresholds to 1 GiB (no effect on other C libraries).
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const ONE_GIB: libc::c_int = 1 << 30;
        // SAFETY: mallopt only changes allocator parameters; called before any other thread
        // exists. A refusal (return 0) leaves glibc's defaults, which are merely slower.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, ONE_GIB);
            libc::mallopt(libc::M_TRIM_THRESHOLD, ONE_GIB);
        }
    }
}
