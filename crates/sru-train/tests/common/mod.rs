//! Shared set-up: a small real-text byte corpus (this repository's own documents and
//! sources) prepared into a token cache, and a tiny model config.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sru_data::{ByteOptions, ByteVocab, Source, SplitPlan, prepare_bytes};
use sru_model::preset;
use sru_train::{TrainConfig, WarmupStyle};

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sru-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch folder");
    d
}

/// The prepared corpus, made once per test binary.
pub fn corpus() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut text = Vec::new();
        for f in [
            "README.md",
            "ARCHITECTURE.md",
            "datasets/README.md",
            "crates/sru-model/src/srupp_lm.rs",
            "crates/sru-model/src/attention.rs",
            "crates/sru-data/src/batch.rs",
        ] {
            text.extend(std::fs::read(root.join(f)).expect("repository text"));
        }
        let dir = std::env::temp_dir().join(format!("sru-train-corpus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("corpus folder");
        let raw = dir.join("text.txt");
        std::fs::write(&raw, &text).expect("corpus text");
        let out = dir.join("prepared");
        let opts = ByteOptions {
            vocab: ByteVocab::Full,
            split: SplitPlan::ratios([0.9, 0.05, 0.05]).expect("split"),
        };
        prepare_bytes(
            &Source::new(&raw).expect("source"),
            &out,
            &opts,
            &mut |_| {},
        )
        .expect("prepare");
        out
    })
}

/// A tiny run: 2 layers of d 64, dropout on (so resume must restore the dropout stream).
pub fn tiny_config(steps: u64) -> TrainConfig {
    let mut model = preset("tiny").expect("tiny preset");
    model.set_dropouts(0.1, 0.1, 0.0);
    let mut c = TrainConfig::official(model, corpus().to_path_buf());
    c.preset = Some("tiny".into());
    c.batch_size = 4;
    c.unroll = 24;
    c.steps = steps;
    c.warmup_steps = 2;
    c.warmup_style = WarmupStyle::Enwik8;
    c.lr = 3e-3;
    c.eval_every = 4;
    c.eval_unroll = 24;
    c.eval_batch_size = 2;
    c.eval_max_tokens = Some(480);
    c.final_eval = false;
    c.checkpoint_every = 4;
    c.keep_last = 2;
    c.log_every = 2;
    c
}
