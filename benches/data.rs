//! Data pipeline benchmark: preparing a 100 MB byte corpus (time and peak memory), and reading
//! ordered batches from the memory-mapped cache (criterion), beside the rate a training step
//! consumes tokens. Targets: preparation < 10 s and < 300 MB peak on 2 cores; batch reading far
//! faster than training.
//!
//! Run: `cargo bench -p sru-benches --bench data`.
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::io::Write;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sru_data::{
    ByteOptions, ByteVocab, Cursor, OrderedStream, Source, Split, SplitPlan, StreamSpec,
    TokenCache, prepare_bytes,
};

/// Peak resident memory of this process so far, from /proc (Linux), in MB.
fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<f64>()
        .ok()
        .map(|kb| kb / 1024.0)
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("sru-bench-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("corpus.txt");
    // 100 MB of text with a realistic byte distribution: the bundled excerpt, repeated.
    let mut excerpt = Vec::new();
    let src = Source::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../datasets/enwiki-excerpt.xml.bz2"
    ))
    .unwrap();
    std::io::Read::read_to_end(&mut src.open().unwrap(), &mut excerpt).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    let mut written = 0usize;
    while written < 100_000_000 {
        let take = excerpt.len().min(100_000_000 - written);
        f.write_all(&excerpt[..take]).unwrap();
        written += take;
    }
    drop(f);
    let rss_before = peak_rss_mb().unwrap_or(0.0);
    let out = dir.join("prepared");
    let t = Instant::now();
    let opts = ByteOptions {
        vocab: ByteVocab::Present,
        split: SplitPlan::ratios([0.9, 0.05, 0.05]).unwrap(),
    };
    let info = prepare_bytes(&Source::new(&input).unwrap(), &out, &opts, &mut |_| {}).unwrap();
    let prep = t.elapsed();
    let rss_after = peak_rss_mb().unwrap_or(0.0);

    let cache = TokenCache::open(&out).unwrap();
    let (batch, unroll) = (16, 1024);
    let stream = OrderedStream::new(&cache, Split::Train, StreamSpec::new(batch, unroll)).unwrap();
    let mut g = c.benchmark_group("data");
    g.throughput(Throughput::Elements((batch * unroll) as u64));
    let mut cursor = Cursor::default();
    g.bench_function("ordered_batch_B16_L1024", |b| {
        b.iter(|| {
            let (batch, next) = stream.next(cursor);
            cursor = next;
            std::hint::black_box(batch);
        })
    });
    g.finish();
    let t = Instant::now();
    let mut c2 = Cursor::default();
    let n = 200;
    for _ in 0..n {
        c2 = stream.next(c2).1;
    }
    let tokens_per_s = (n * batch * unroll) as f64 / t.elapsed().as_secs_f64();
    println!(
        "\nprepare 100 MB byte corpus: {:.2} s, {:.0} MB/s; vocabulary {}, train {} tokens",
        prep.as_secs_f64(),
        100.0 / prep.as_secs_f64(),
        info.vocab_size,
        info.counts[0]
    );
    println!(
        "peak RSS: {rss_after:.0} MB (before preparation {rss_before:.0} MB; the process also holds the 6 MB decompressed excerpt)"
    );
    println!(
        "ordered batches (B {batch}, L {unroll}): {:.1} M tokens/s read from the cache",
        tokens_per_s / 1e6
    );
    std::fs::remove_dir_all(&dir).ok();
}

criterion_group!(benches, bench);
criterion_main!(benches);
