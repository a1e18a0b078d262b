//! The training loop end to end on the CPU: exact resume, the non-finite stop, damaged
//! checkpoints, and two devices against one.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::{Autodiff, Flex};
use common::{scratch, tiny_config};
use sru_train::checkpoint::{self, MODEL_FILE};
use sru_train::{
    CHECKPOINTS_DIR, Event, RunOptions, TrainConfig, TrainError, Which, flat_params, load_trained,
    train,
};

type B = Autodiff<Flex>;

/// Burn's CPU random generator is one per process: runs in parallel test threads would draw
/// from it in turn and lose their reproducibility, so the runs here take turns, and so does
/// loading a trained model (it initialises one before reading the weights in).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Trains; returns the per-update losses reported and the outcome.
fn run(
    config: &TrainConfig,
    dir: &std::path::Path,
    resume: bool,
    stop_after: Option<u64>,
) -> (Vec<(u64, f64)>, Result<sru_train::Summary, TrainError>) {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let stop = AtomicBool::new(false);
    let opts = RunOptions {
        run_dir: dir.to_path_buf(),
        resume,
        stop: &stop,
        link: None,
    };
    let mut losses = Vec::new();
    let devices = vec![Default::default(); config.devices];
    let out = train::<B>(config, &devices, &opts, &mut |e| {
        if let Event::Step { step, loss, .. } = e {
            losses.push((step, loss));
            if Some(step) == stop_after {
                stop.store(true, Ordering::SeqCst);
            }
        }
    });
    (losses, out)
}

fn params(dir: &std::path::Path) -> Vec<f32> {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = load_trained::<Flex>(dir, Which::Latest, &Default::default()).expect("load");
    flat_params(&t.model).expect("params")
}

#[test]
fn interrupted_and_resumed_run_equals_uninterrupted_run() {
    let config = tiny_config(10);
    let a = scratch("straight");
    let (la, ra) = run(&config, &a, false, None);
    let ra = ra.expect("straight run");
    assert_eq!(ra.step, 10);
    assert!(!ra.interrupted);

    // Stop requested during update 4: update 5 completes, is saved, and the run returns.
    let b = scratch("resumed");
    let (lb1, rb1) = run(&config, &b, false, Some(4));
    let rb1 = rb1.expect("first half");
    assert!(rb1.interrupted);
    assert_eq!(rb1.step, 5);
    let (lb2, rb2) = run(&config, &b, true, None);
    assert_eq!(rb2.expect("second half").step, 10);

    let lb: Vec<_> = lb1.into_iter().chain(lb2).collect();
    assert_eq!(la, lb, "losses of every update are identical");
    assert_eq!(params(&a), params(&b), "final weights are identical");
    // The metrics file of the resumed run equals the straight one (same lines, same values),
    // apart from wall-clock fields.
    let strip = |d: &std::path::Path| {
        sru_train::metrics::read(d)
            .expect("metrics")
            .into_iter()
            .map(|m| (m.step, m.split, m.loss.to_bits(), m.tokens))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a), strip(&b));
    // Keep-last-2 plus the best: never more than 3 checkpoints.
    assert!(checkpoint::list(&a.join(CHECKPOINTS_DIR)).len() <= 3);
}

/// The Transformer-XL baseline resumes exactly too: its carried state is `n_layer + 1`
/// memories (no c), with dropout on, memory shorter than the segment and the same-length mask.
#[test]
fn transformer_xl_interrupted_and_resumed_equals_uninterrupted() {
    let mut config = tiny_config(8);
    let mut model = sru_model::preset("txl-tiny").expect("txl-tiny preset");
    model.set_vocab_size(config.model.vocab_size());
    model.set_dropouts(0.1, 0.0, 0.0);
    if let Some(t) = model.as_transformer_xl_mut() {
        t.mem_len = 16;
        t.same_length = true;
    }
    config.model = model;
    config.optimizer = sru_train::OptimizerKind::Adamw;
    config.weight_decay = 0.0;
    config.clip_grad = 0.25;
    let a = scratch("txl-straight");
    let (la, ra) = run(&config, &a, false, None);
    assert_eq!(ra.expect("straight run").step, 8);
    let b = scratch("txl-resumed");
    let (lb1, rb1) = run(&config, &b, false, Some(2));
    assert!(rb1.expect("first half").interrupted);
    let (lb2, rb2) = run(&config, &b, true, None);
    assert_eq!(rb2.expect("second half").step, 8);
    let lb: Vec<_> = lb1.into_iter().chain(lb2).collect();
    assert_eq!(la, lb, "losses of every update are identical");
    assert_eq!(params(&a), params(&b), "final weights are identical");
    assert!(la.last().unwrap().1 < la[0].1, "the loss falls: {la:?}");
}

#[test]
fn non_finite_loss_stops_and_keeps_the_last_good_checkpoint() {
    let mut config = tiny_config(10);
    config.inject_nan_at_step = Some(6);
    let dir = scratch("nan");
    let (_, out) = run(&config, &dir, false, None);
    let err = out.expect_err("NaN must stop the run");
    match &err {
        TrainError::NonFinite { step, what, .. } => {
            assert_eq!((*step, *what), (6, "loss"));
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(err.to_string().contains("not finite"), "{err}");
    let root = dir.join(CHECKPOINTS_DIR);
    let latest = checkpoint::latest(&root).expect("checkpoint of step 4");
    assert!(latest.ends_with(checkpoint::folder_name(4)));
    checkpoint::read(&latest).expect("the last good checkpoint loads");
    // Resuming with the fault removed continues from step 4.
    config.inject_nan_at_step = None;
    let (losses, out) = run(&config, &dir, true, None);
    assert_eq!(out.expect("resumed").step, 10);
    assert_eq!(losses[0].0, 5);
}

#[test]
fn damaged_or_foreign_checkpoints_are_reported_not_loaded() {
    let config = tiny_config(4);
    let dir = scratch("damaged");
    run(&config, &dir, false, None).1.expect("run");
    let latest = checkpoint::latest(&dir.join(CHECKPOINTS_DIR)).expect("checkpoint");

    // Another model config.
    let mut other = config.clone();
    if let Some(m) = other.model.as_srupp_mut() {
        m.n_d = 32;
    }
    let err = run(&other, &dir, true, None).1.expect_err("foreign");
    assert!(err.to_string().contains("different model"), "{err}");

    // A new run into a folder with checkpoints is refused (nothing is overwritten).
    let err = run(&config, &dir, false, None).1.expect_err("occupied");
    assert!(
        err.to_string().contains("already holds checkpoints"),
        "{err}"
    );

    // Truncated weights: named in the error, for training and for inference alike.
    let f = latest.join(MODEL_FILE);
    let bytes = std::fs::read(&f).expect("weights");
    std::fs::write(&f, &bytes[..bytes.len() / 2]).expect("truncate");
    let err = run(&config, &dir, true, None).1.expect_err("truncated");
    let msg = err.to_string();
    assert!(
        msg.contains("model.safetensors") && msg.contains("truncated"),
        "{msg}"
    );
    let err = {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        load_trained::<Flex>(&dir, Which::Latest, &Default::default()).expect_err("truncated")
    };
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn two_devices_match_one_device_with_the_same_global_batch() {
    let mut one = tiny_config(4);
    one.model.set_dropouts(0.0, 0.0, 0.0);
    one.eval_every = 0;
    one.checkpoint_every = 0;
    let mut two = one.clone();
    two.devices = 2;
    two.batch_size = one.batch_size / 2;
    let (d1, d2) = (scratch("dev1"), scratch("dev2"));
    let (l1, r1) = run(&one, &d1, false, None);
    let (l2, r2) = run(&two, &d2, false, None);
    r1.expect("one device");
    r2.expect("two devices");
    for ((s1, a), (s2, b)) in l1.iter().zip(&l2) {
        assert_eq!(s1, s2);
        assert!(
            (a - b).abs() < 1e-4 * a.abs().max(1.0),
            "step {s1}: {a} vs {b}"
        );
    }
    let (p1, p2) = (params(&d1), params(&d2));
    let worst = p1
        .iter()
        .zip(&p2)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "largest weight difference {worst}");
    // The runs did train: weights moved away from the initialisation by more than that.
    assert!(p1.iter().any(|v| v.abs() > 1e-3));
}

/// A tiny run of a word-level model (d 32, 2 layers, adaptive input and softmax with
/// `cutoffs`, div_val 2, tables tied; projections tied when `tie_projections`) on `data`.
fn word_config(
    steps: u64,
    data: std::path::PathBuf,
    vocab_size: usize,
    cutoffs: Vec<usize>,
    tie_projections: bool,
) -> TrainConfig {
    let mut config = tiny_config(steps);
    config.data = data;
    config.model = sru_model::ModelConfig::from(sru_model::SruppLmConfig {
        vocab_size,
        n_d: 32,
        n_proj: 8,
        depth: 2,
        adaptive: Some(sru_model::AdaptiveConfig {
            cutoffs,
            div_val: 2,
            n_e: 32,
            tie_projections,
        }),
        ..Default::default()
    });
    config
}

/// The word-level model (adaptive input and softmax with tied tables and projections, as
/// WikiText-103) through the same loop: it trains, and a resumed run equals a straight one.
#[test]
fn word_level_adaptive_model_trains_and_resumes_exactly() {
    use sru_data::{WordFormat, WordOptions, prepare_words};
    let dir = scratch("words");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut text = String::new();
    for f in ["README.md", "ARCHITECTURE.md", "datasets/README.md"] {
        text.push_str(&std::fs::read_to_string(root.join(f)).expect("text"));
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let raw = dir.join("raw");
    std::fs::create_dir_all(&raw).expect("dir");
    let all = lines.join("\n");
    std::fs::write(raw.join("ptb.train.txt"), &all).expect("train");
    // valid/test reuse train sentences, so every word is in the vocabulary.
    let head = lines[..lines.len() / 4].join("\n");
    std::fs::write(raw.join("ptb.valid.txt"), &head).expect("valid");
    std::fs::write(raw.join("ptb.test.txt"), &head).expect("test");
    let data = dir.join("prepared");
    let info = prepare_words(&raw, &data, &WordOptions::new(WordFormat::Ptb), &mut |_| {})
        .expect("prepare");
    assert!(info.vocab_size > 300, "vocabulary {}", info.vocab_size);

    let mut config = word_config(6, data, info.vocab_size, vec![50, 200], true);
    config.batch_size = 2;
    config.unroll = 16;
    config.eval_every = 3;
    config.checkpoint_every = 3;
    let (a, b) = (dir.join("straight"), dir.join("resumed"));
    let (la, ra) = run(&config, &a, false, None);
    ra.expect("word-level run");
    assert!(la.iter().all(|(_, l)| l.is_finite()));
    assert!(la[0].1 > 5.0, "starts near ln V: {la:?}");
    let (lb1, rb1) = run(&config, &b, false, Some(2));
    assert!(rb1.expect("first part").interrupted);
    let (lb2, rb2) = run(&config, &b, true, None);
    rb2.expect("resumed part");
    let lb: Vec<_> = lb1.into_iter().chain(lb2).collect();
    assert_eq!(la, lb);
    assert_eq!(params(&a), params(&b));
}

/// One Billion Word's layout: sentences dealt whole to the streams and reshuffled every pass,
/// the carried state never reset; a run stopped and resumed (mid-pass and across a pass)
/// equals one that was not, and the final evaluation scores the best checkpoint's weights.
#[test]
fn billion_word_sentences_train_resume_exactly_and_finish_on_the_best_weights() {
    use sru_data::{StreamLayout, TokenCache, WordFormat, WordOptions, prepare_words};
    let dir = scratch("bwb");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("README.md")).expect("text");
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    let mut words: Vec<&str> = lines.iter().flat_map(|l| l.split(' ')).collect();
    words.sort_unstable();
    words.dedup();
    let raw = dir.join("raw");
    let train_dir = raw.join("training-monolingual.tokenized.shuffled");
    let held = raw.join("heldout-monolingual.tokenized.shuffled");
    std::fs::create_dir_all(&train_dir).expect("dir");
    std::fs::create_dir_all(&held).expect("dir");
    std::fs::write(
        train_dir.join("news.en-00001-of-00100"),
        lines.join("\n") + "\n",
    )
    .expect("train");
    std::fs::write(
        held.join("news.en.heldout-00000-of-00050"),
        lines[..lines.len() / 3].join("\n") + "\n",
    )
    .expect("heldout");
    let vocab: String = ["<S>", "<UNK>"]
        .into_iter()
        .chain(words.iter().copied())
        .map(|w| format!("{w}\n"))
        .collect();
    std::fs::write(raw.join("1b_word_vocab.txt"), vocab).expect("vocab");
    let data = dir.join("prepared");
    let info = prepare_words(
        &raw,
        &data,
        &WordOptions::new(WordFormat::BillionWord),
        &mut |_| {},
    )
    .expect("prepare");
    let cache = TokenCache::open(&data).expect("cache");
    assert!(matches!(cache.layout(), StreamLayout::Sentences { .. }));
    drop(cache);

    let mut config = word_config(6, data, info.vocab_size, vec![100, 400], false);
    config.batch_size = 8;
    config.unroll = 48;
    // AdamW at a learning rate this high overshoots after two updates, so the best
    // validation comes before the last and the final evaluation must reload it.
    config.optimizer = sru_train::OptimizerKind::Adamw;
    config.lr = 0.3;
    config.eval_every = 1;
    config.checkpoint_every = 1;
    config.eval_max_tokens = None;
    config.eval_batch_size = 2;
    config.final_eval = true;
    config.final_eval_batch_size = 1;
    config.keep_last = 1;
    let (a, b) = (dir.join("straight"), dir.join("resumed"));
    let (la, ra) = run(&config, &a, false, None);
    let ra = ra.expect("Billion Word run");
    assert!(la.iter().all(|(_, l)| l.is_finite()));
    let best = ra.best.expect("validated");
    assert!(
        best.step < 6,
        "the overshooting run's best is an early one: {best:?}"
    );
    assert_eq!(
        ra.final_step,
        Some(best.step),
        "final evaluation on the best weights"
    );
    assert!(ra.final_valid.expect("final valid").tokens > 0);
    let (lb1, rb1) = run(&config, &b, false, Some(4));
    assert!(rb1.expect("first part").interrupted);
    let (lb2, rb2) = run(&config, &b, true, None);
    let rb2 = rb2.expect("resumed part");
    let lb: Vec<_> = lb1.into_iter().chain(lb2).collect();
    assert_eq!(la, lb);
    assert_eq!(params(&a), params(&b));
    let loss = |s: &sru_train::Summary| s.final_valid.map(|r| (r.loss, r.tokens));
    assert_eq!(loss(&ra), loss(&rb2));

    // At a learning rate of 1 the run diverges (validation losses in the hundreds, whose
    // perplexity overflows f64): it still checkpoints (the perplexity saturates instead of
    // writing a JSON null), and finishes on its best, first, validation.
    config.lr = 1.0;
    let c = dir.join("diverged");
    let (_, rc) = run(&config, &c, false, None);
    let rc = rc.expect("a diverging but finite run");
    assert!(rc.last_valid.expect("validated").loss > 100.0, "{rc:?}");
    assert_eq!(rc.final_step, rc.best.map(|b| b.step));
    let metrics =
        std::fs::read_to_string(c.join(sru_train::metrics::METRICS_FILE)).expect("metrics");
    let lines: Vec<sru_train::MetricLine> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is valid JSON"))
        .collect();
    assert!(lines.iter().any(|l| l.ppl == f64::MAX), "{metrics}");
}
