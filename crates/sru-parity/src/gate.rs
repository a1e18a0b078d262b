//! Whether the GPU tests of this workspace can run here. A machine without a Vulkan driver has
//! no WGPU adapter: the WGPU tests then skip themselves with the reason, unless the
//! environment variable [`REQUIRE_WGPU`] is set (CI installs Mesa's lavapipe and sets it), in
//! which case a missing adapter fails them.

/// Set (to anything) to make a missing WGPU adapter fail the WGPU tests instead of skipping
/// them.
pub const REQUIRE_WGPU: &str = "SRU_REQUIRE_WGPU";

/// `None` when WGPU tests can run; otherwise why they are skipped.
///
/// # Panics
/// With the reason, when no adapter exists and [`REQUIRE_WGPU`] is set.
pub fn wgpu_skip_reason() -> Option<String> {
    let why = sru_kernel::device::wgpu_adapter_count().err()?.to_string();
    assert!(
        std::env::var_os(REQUIRE_WGPU).is_none(),
        "{REQUIRE_WGPU} is set but WGPU cannot run: {why}"
    );
    Some(why)
}
