//! The benchmarks time the training step that `train()` runs: on the same corpus, seed and
//! config, the bench path (`TrainBench` over a `TrainStream`) and the training loop give
//! bit-identical losses, update after update — with dropout, gradient accumulation and
//! clipping all active.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::AtomicBool;

use burn::backend::{Autodiff, Flex};
use sru_bench::{Tokens, TrainBench};
use sru_data::{ByteOptions, ByteVocab, Cursor, Source, SplitPlan, TokenCache, prepare_bytes};
use sru_train::{Event, RunOptions, TrainConfig, TrainStream, train};

type A = Autodiff<Flex>;

#[test]
fn the_bench_step_and_the_training_loop_give_identical_losses() {
    let dir = std::env::temp_dir().join(format!("sru-bench-identity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let text: String = (0..4000)
        .map(|i| format!("line {i}: the quick brown fox {} ", i * 7 % 13))
        .collect();
    std::fs::write(dir.join("corpus.txt"), text).unwrap();
    let data = dir.join("data");
    let opts = ByteOptions {
        vocab: ByteVocab::Present,
        split: SplitPlan::ratios([0.9, 0.05, 0.05]).unwrap(),
    };
    prepare_bytes(
        &Source::new(dir.join("corpus.txt")).unwrap(),
        &data,
        &opts,
        &mut |_| {},
    )
    .unwrap();
    let cache = TokenCache::open(&data).unwrap();

    let mut model = sru_model::preset("tiny").unwrap();
    model.set_vocab_size(cache.vocab().len());
    model.set_dropouts(0.1, 0.1, 0.0);
    let mut config = TrainConfig::official(model, data);
    (config.batch_size, config.unroll, config.steps) = (4, 16, 6);
    (config.warmup_steps, config.lr, config.accumulate) = (2, 3e-3, 2);
    config.clip_grad = 0.05; // small enough that every update is clipped
    config.eval_every = 0;
    config.final_eval = false;

    let stop = AtomicBool::new(false);
    let run = RunOptions {
        run_dir: dir.join("run"),
        resume: false,
        stop: &stop,
        link: None,
    };
    let mut trained = Vec::new();
    let mut norms = Vec::new();
    train::<A>(&config, &[Default::default()], &run, &mut |e| {
        if let Event::Step {
            loss, grad_norm, ..
        } = e
        {
            trained.push(loss);
            norms.push(grad_norm);
        }
    })
    .unwrap();
    assert_eq!(trained.len(), 6);
    assert!(
        norms.iter().all(|&n| n > config.clip_grad),
        "clipping is exercised: {norms:?}"
    );

    let stream = TrainStream::new(&cache, &config, 0, 1, Cursor::default()).unwrap();
    let mut bench =
        TrainBench::<A>::new(&config, Tokens::Corpus(stream), Default::default()).unwrap();
    let benched: Vec<f64> = (0..6).map(|_| bench.step().unwrap()).collect();
    assert_eq!(benched, trained, "the bench path runs the training step");
    std::fs::remove_dir_all(&dir).unwrap();
}
