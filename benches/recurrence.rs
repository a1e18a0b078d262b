//! Criterion benchmark of the SRU recurrence kernel on the CPU (Flex, f32): forward with all
//! states saved and forward+backward, over the shape grid, each beside a memory-copy baseline
//! of the same size measured in the same run. Ends with a table of GB/s and the ratios to the
//! copy bandwidth (targets on CPU at large sizes: forward ≥ 0.50, forward+backward ≥ 0.35).
//!
//! Run: `cargo bench -p sru-benches --bench recurrence` (`SRU_BENCH_QUICK=1` for fewer shapes).
#![allow(clippy::print_stdout, missing_docs)]

use std::time::Duration;

use burn::backend::Flex;
use burn::tensor::DType;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sru_bench::{CopyBaseline, Shape, gbps, median_time, prepare};

/// Shapes of the grid that fit a 24 GiB machine: L ∈ {256, 1024, 4096} and
/// B·d ∈ {2^12 … 2^20} with L·B·d ≤ 2^25 elements.
fn cpu_shapes() -> Vec<Shape> {
    let quick = std::env::var_os("SRU_BENCH_QUICK").is_some();
    let mut v = Vec::new();
    for length in [256usize, 1024, 4096] {
        for log_bd in [12u32, 14, 16, 18, 20] {
            let bd = 1usize << log_bd;
            if length * bd > 1 << 25 || (quick && log_bd % 4 != 0) {
                continue;
            }
            v.push(Shape {
                length,
                batch: 4,
                d: bd / 4,
            });
        }
    }
    v
}

fn bench(c: &mut Criterion) {
    let dev = Default::default();
    let mut table = Vec::new();
    for shape in cpu_shapes() {
        let p = prepare::<Flex>(shape, DType::F32, &dev);
        let copy = CopyBaseline::<Flex>::new(3 * shape.elements(), DType::F32, &dev);
        let mut g = c.benchmark_group(format!("recurrence/{}", shape.label()));
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(2));
        g.throughput(Throughput::Bytes(copy.bytes() as u64));
        g.bench_function(BenchmarkId::new("copy", ""), |b| b.iter(|| copy.run(&dev)));
        g.throughput(Throughput::Bytes(p.forward_bytes() as u64));
        g.bench_function(BenchmarkId::new("forward", ""), |b| {
            b.iter(|| p.forward(&dev))
        });
        g.throughput(Throughput::Bytes(p.forward_backward_bytes() as u64));
        g.bench_function(BenchmarkId::new("forward_backward", ""), |b| {
            b.iter(|| p.forward_backward(&dev))
        });
        g.finish();
        // The summary's own medians, all three measured back to back.
        let t_copy = median_time(1, 5, || copy.run(&dev));
        let t_fwd = median_time(1, 5, || p.forward(&dev));
        let t_fb = median_time(1, 5, || p.forward_backward(&dev));
        // A second baseline: memcpy into a buffer allocated once (no page faults), i.e. the
        // machine's streaming bandwidth; the kernel and the Burn copy allocate their outputs.
        let src = vec![1.0f32; 3 * shape.elements()];
        let mut dst = vec![0.0f32; 3 * shape.elements()];
        let t_memcpy = median_time(1, 5, || {
            dst.copy_from_slice(&src);
            std::hint::black_box(&mut dst);
        });
        let memcpy = gbps((2 * 4 * src.len()) as f64, t_memcpy);
        table.push((
            shape,
            memcpy,
            gbps(copy.bytes(), t_copy),
            gbps(p.forward_bytes(), t_fwd),
            gbps(p.forward_backward_bytes(), t_fb),
        ));
    }
    println!(
        "\nSRU recurrence on CPU (Flex, f32, {} threads)",
        rayon_threads()
    );
    println!(
        "copy = Burn tensor copy (allocates its output, like the kernel); memcpy = into a reused buffer"
    );
    println!(
        "{:<20} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8} {:>10}",
        "shape", "memcpy", "copy", "fwd", "f+b", "fwd/copy", "f+b/copy", "fwd/memcpy"
    );
    for (s, memcpy, copy, fwd, fb) in table {
        println!(
            "{:<20} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>10.2} {:>8.2} {:>10.2}",
            s.label(),
            memcpy,
            copy,
            fwd,
            fb,
            fwd / copy,
            fb / copy,
            fwd / memcpy
        );
    }
    println!("(GB/s; fwd counts 24 B per element in f32, f+b 64 B: forward 24 + backward 40)");
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

criterion_group!(benches, bench);
criterion_main!(benches);
