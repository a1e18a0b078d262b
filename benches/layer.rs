//! Criterion benchmark of one SRU++ layer (attention → U → recurrence, with memory) on the
//! CPU (Flex, f32): forward, and forward + backward, at the sizes of the side-by-side grid.
//!
//! Run: `cargo bench -p sru-benches --bench layer`.
#![allow(clippy::print_stdout, missing_docs)]

use std::time::Duration;

use burn::backend::{Autodiff, Flex};
use burn::tensor::{DType, Distribution, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sru_model::{AttentionMasks, SruppLmConfig, attention_mask};

type A = Autodiff<Flex>;

fn bench(c: &mut Criterion) {
    let dev = Default::default();
    for (d, proj, l, b) in [(512usize, 128usize, 256usize, 4usize), (1024, 256, 256, 4)] {
        let config = SruppLmConfig {
            n_d: d,
            n_proj: proj,
            depth: 1,
            ..SruppLmConfig::default()
        };
        let model = config.init::<A>(&dev).expect("model");
        let layer = &model.rnn.rnn_lst[0];
        let x = Tensor::<A, 3>::random([l, b, d], Distribution::Normal(0.0, 1.0), &dev);
        let memory = Tensor::<A, 3>::random([l, b, d], Distribution::Normal(0.0, 1.0), &dev);
        let masks = AttentionMasks {
            attn_mask: Some(attention_mask::<A>(l, l, None, DType::F32, &dev)),
            ..Default::default()
        };
        let mut g = c.benchmark_group(format!("srupp_layer/d{d} p{proj} L{l} B{b}"));
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(3));
        g.throughput(Throughput::Elements((l * b) as u64));
        g.bench_function(BenchmarkId::new("forward", ""), |bench| {
            bench.iter(|| {
                let (h, _) = layer
                    .forward(x.clone(), None, Some(memory.clone()), &masks)
                    .expect("forward");
                h.into_data()
            })
        });
        let xg = x.clone().require_grad();
        g.bench_function(BenchmarkId::new("forward_backward", ""), |bench| {
            bench.iter(|| {
                let (h, _) = layer
                    .forward(xg.clone(), None, Some(memory.clone()), &masks)
                    .expect("forward");
                let grads = h.sum().backward();
                xg.grad(&grads).map(|g| g.into_data())
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
