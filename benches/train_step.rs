//! Criterion benchmark of the byte-level SRU++ LM on the CPU (Flex, f32): a training step
//! (sru-train's step: forward, backward, clipping, RAdam, carried state) and an inference
//! step, beside the machine's matrix-multiply rate through the same backend, measured in the
//! same run. Ends with a table of tokens/s and the training step's model FLOP rate as a
//! fraction of that sgemm rate.
//!
//! Run: `cargo bench -p sru-benches --bench train_step`.
#![allow(clippy::print_stdout, missing_docs)]

use std::time::Duration;

use burn::backend::{Autodiff, Flex};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sru_bench::{InferBench, LmShape, TrainBench, median_time, sgemm_gflops};
use sru_train::Precision;

type A = Autodiff<Flex>;

fn shapes() -> Vec<LmShape> {
    vec![
        // The `small` preset as `cargo xtask train` runs it.
        LmShape {
            d: 256,
            proj: 64,
            layers: 4,
            unroll: 128,
            batch: 16,
            vocab: 256,
        },
        // The smallest point of the side-by-side grid (benches/compare).
        LmShape {
            d: 512,
            proj: 128,
            layers: 4,
            unroll: 256,
            batch: 4,
            vocab: 256,
        },
    ]
}

fn bench(c: &mut Criterion) {
    let dev = Default::default();
    let mut table = Vec::new();
    for shape in shapes() {
        let mut train =
            TrainBench::<A>::synthetic(&shape, Precision::F32, Default::default()).expect("model");
        let mut infer = InferBench::<Flex>::new(&shape, &dev).expect("model");
        let mut g = c.benchmark_group(format!("lm/{}", shape.label()));
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(4));
        g.throughput(Throughput::Elements(shape.tokens() as u64));
        g.bench_function(BenchmarkId::new("train_step", ""), |b| {
            b.iter(|| train.step().expect("step"))
        });
        g.bench_function(BenchmarkId::new("infer_step", ""), |b| {
            b.iter(|| infer.step().expect("step"))
        });
        g.finish();
        let t_train = median_time(1, 5, || {
            train.step().expect("step");
        });
        let t_infer = median_time(1, 5, || {
            infer.step().expect("step");
        });
        table.push((shape, t_train, t_infer));
    }
    let peak = sgemm_gflops::<Flex>(1024, &dev);
    println!("\nsgemm 1024³ through Burn Flex: {peak:.1} GFLOP/s (same run)");
    println!("| shape | train tokens/s | infer tokens/s | train GFLOP/s | of sgemm |");
    println!("|---|---|---|---|---|");
    for (s, tt, ti) in table {
        let train_tps = s.tokens() as f64 / tt.as_secs_f64();
        let gflops = train_tps * s.train_flops_per_token() / 1e9;
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.1}% |",
            s.label(),
            train_tps,
            s.tokens() as f64 / ti.as_secs_f64(),
            gflops,
            100.0 * gflops / peak
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
