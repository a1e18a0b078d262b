//! Measuring: medians after warm-up, bandwidth, the device sync before the clock is read,
//! peak memory, and the two baselines every speed figure is a ratio to — a copy of the same
//! size and the backend's own matrix-product rate, measured in the same run.

use std::time::{Duration, Instant};

use burn::tensor::{DType, Distribution, Tensor, backend::Backend};

/// Waits for the device's queued work.
pub fn sync<B: Backend>(device: &B::Device) {
    B::sync(device).expect("device sync");
}

/// A copy baseline: `y = x · 1` over `elements` values (reads and writes each once).
pub struct CopyBaseline<B: Backend> {
    x: Tensor<B, 1>,
}

impl<B: Backend> CopyBaseline<B> {
    /// Allocates the source.
    pub fn new(elements: usize, dtype: DType, device: &B::Device) -> Self {
        Self {
            x: Tensor::random(
                [elements],
                Distribution::Uniform(-1.0, 1.0),
                (device, dtype),
            ),
        }
    }

    /// Bytes moved by one copy.
    pub fn bytes(&self) -> f64 {
        (2 * self.x.dims()[0] * self.x.dtype().size()) as f64
    }

    /// One copy, waited for.
    pub fn run(&self, device: &B::Device) {
        let y = self.x.clone().mul_scalar(1.0);
        sync::<B>(device);
        drop(y);
    }
}

/// Runs `f` `warmup` times, then `iters` times, and returns the median duration.
pub fn median_time(warmup: usize, iters: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..warmup {
        f();
    }
    let mut v: Vec<Duration> = (0..iters.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v[v.len() / 2]
}

/// GB/s for `bytes` moved in `time`.
pub fn gbps(bytes: f64, time: Duration) -> f64 {
    bytes / time.as_secs_f64() / 1e9
}

/// GFLOP/s of an n×n×n f32 matrix product through backend `B` (median of 5 after one
/// warm-up): the ceiling of the model's projections.
pub fn sgemm_gflops<B: Backend>(n: usize, device: &B::Device) -> f64 {
    let a = Tensor::<B, 2>::random([n, n], Distribution::Default, device);
    let b = Tensor::<B, 2>::random([n, n], Distribution::Default, device);
    let t = median_time(1, 5, || {
        let _ = a.clone().matmul(b.clone()).into_data();
    });
    2.0 * (n * n * n) as f64 / t.as_secs_f64() / 1e9
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
