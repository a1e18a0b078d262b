//! The training recipe of every preset, as data: the official hyperparameters of the paper's
//! models, each number citing the official script and line it comes from
//! (asappresearch/sru, branch 3.0.0-dev, `experiments/srupp_experiments/`: the scripts'
//! argument defaults are the base models; the `README.md` commands give the large ones and
//! the final-evaluation windows), and the CPU recipes of the small presets.
//!
//! The paper trains on 8 GPUs with `--batch_size` per GPU (`README.md:53`:
//! `torch.distributed.launch --nproc_per_node 8`), so the global batch is 8 × the batch
//! per device. [`Recipe::config`] records that global batch
//! ([`TrainConfig::paper_global_batch`]) and sets gradient accumulation to reach it on one
//! device; [`TrainConfig::match_paper_batch`] redoes that for another device count.

use std::path::PathBuf;

use sru_model::preset;

use crate::config::{OptimizerKind, TrainConfig, WarmupStyle};
use crate::error::TrainError;

/// The hyperparameters of one preset's training run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    /// The model preset (`sru_model::preset`).
    pub preset: &'static str,
    /// Peak learning rate (`--lr`).
    pub lr: f64,
    /// Linear warmup updates (`--warmup_steps`).
    pub warmup_steps: u64,
    /// How the warmup counts (the scripts differ).
    pub warmup_style: WarmupStyle,
    /// Updates; the cosine reaches 0 here (`--max_iter`).
    pub steps: u64,
    /// Streams per device (`--batch_size`, per GPU).
    pub batch_per_device: usize,
    /// Devices of the paper's run (GPUs); 1 for the CPU recipes.
    pub paper_devices: usize,
    /// Segment length of truncated back-propagation (`--unroll_size`).
    pub unroll: usize,
    /// Attention window and segment length of the final evaluation (`--eval_unroll_size` of
    /// the README's evaluation command).
    pub eval_unroll: usize,
    /// Streams of periodic validation (`--eval_batch_size`).
    pub eval_batch_size: usize,
    /// Validate every this many updates (`--eval_period`).
    pub eval_every: u64,
    /// Decoupled weight decay (`--weight_decay`).
    pub weight_decay: f64,
    /// Global-norm clipping (`--clip_grad`).
    pub clip_grad: f64,
    /// Dropout of the SRU++ layers (`--dropout`).
    pub dropout: f64,
    /// Attention dropout (`--attn_dropout`).
    pub attn_dropout: f64,
    /// Embedding dropout (`--emb_dropout`, word-level models).
    pub emb_dropout: f64,
    /// The optimizer (`--optim`): RAdam for SRU++, Adam for Transformer-XL.
    pub optimizer: OptimizerKind,
}

impl Recipe {
    /// Streams per update over all of the paper's devices.
    pub fn global_batch(&self) -> usize {
        self.batch_per_device * self.paper_devices
    }

    /// A one-device training config of this recipe on the prepared corpus `data`.
    ///
    /// # Errors
    /// An unknown preset.
    pub fn config(&self, data: PathBuf) -> Result<TrainConfig, TrainError> {
        let mut model = preset(self.preset)?;
        model.set_dropouts(self.dropout, self.attn_dropout, self.emb_dropout);
        let mut c = TrainConfig::official(model, data);
        c.preset = Some(self.preset.to_string());
        c.lr = self.lr;
        c.warmup_steps = self.warmup_steps;
        c.warmup_style = self.warmup_style;
        c.steps = self.steps;
        c.batch_size = self.batch_per_device;
        c.unroll = self.unroll;
        c.eval_unroll = self.eval_unroll;
        c.eval_batch_size = self.eval_batch_size;
        c.eval_every = self.eval_every;
        c.checkpoint_every = self.eval_every;
        c.weight_decay = self.weight_decay;
        c.clip_grad = self.clip_grad;
        c.optimizer = self.optimizer;
        if self.paper_devices == 1 {
            cpu_bookkeeping(&mut c);
        } else {
            c.paper_global_batch = Some(self.global_batch());
            c.match_paper_batch();
        }
        Ok(c)
    }
}

/// Evaluation and logging of the CPU recipes: a short validation, logs every 20 updates.
fn cpu_bookkeeping(c: &mut TrainConfig) {
    c.eval_max_tokens = Some(65_536);
    c.final_eval_batch_size = 16;
    c.log_every = 20;
}

/// enwik8 base, 108M parameters: the defaults of `train_enwik8.py`.
///
/// | value | source |
/// |---|---|
/// | lr 3e-4 | `train_enwik8.py:385` |
/// | warmup 16000, counted `lr·(n+1)/W` | `train_enwik8.py:378`, `:267` |
/// | 400000 updates | `train_enwik8.py:384` |
/// | batch 4 per GPU × 8 GPUs | `train_enwik8.py:379`, `README.md:53` |
/// | unroll 1024 | `train_enwik8.py:382` |
/// | final evaluation window 3072 | `README.md:65` |
/// | validation batch 16, every 8000 updates | `train_enwik8.py:380`, `:389` |
/// | weight decay 0.1, clip 1.0 | `train_enwik8.py:386`, `:387` |
/// | dropout 0.22, attention dropout 0.22 | `train_enwik8.py:368`, `:369` |
pub const ENWIK8_BASE: Recipe = Recipe {
    preset: "enwik8-base",
    lr: 3e-4,
    warmup_steps: 16_000,
    warmup_style: WarmupStyle::Enwik8,
    steps: 400_000,
    batch_per_device: 4,
    paper_devices: 8,
    unroll: 1024,
    eval_unroll: 3072,
    eval_batch_size: 16,
    eval_every: 8000,
    weight_decay: 0.1,
    clip_grad: 1.0,
    dropout: 0.22,
    attn_dropout: 0.22,
    optimizer: OptimizerKind::Radam,
    emb_dropout: 0.0,
};

/// enwik8 large, 191M parameters: the README's command, otherwise as [`ENWIK8_BASE`].
///
/// | value | source |
/// |---|---|
/// | lr 4e-4 | `README.md:79` |
/// | batch 8 per GPU × 8 GPUs | `README.md:78`, `:53` |
/// | dropout 0.32, attention dropout 0.32 | `README.md:76`, `:77` |
/// | final evaluation window 3072 | `README.md:90` |
pub const ENWIK8_LARGE: Recipe = Recipe {
    preset: "enwik8-large",
    lr: 4e-4,
    batch_per_device: 8,
    dropout: 0.32,
    attn_dropout: 0.32,
    ..ENWIK8_BASE
};

/// WikiText-103 base, 148M parameters: the defaults of `train_wt103.py`.
///
/// | value | source |
/// |---|---|
/// | lr 3e-4 | `train_wt103.py:409` |
/// | warmup 16000, counted `lr·n/W` (the first update has lr 0) | `train_wt103.py:402`, `:285` |
/// | 400000 updates | `train_wt103.py:408` |
/// | batch 8 per GPU × 8 GPUs | `train_wt103.py:403`, `README.md:98` |
/// | unroll 768 | `train_wt103.py:406` |
/// | final evaluation window 2560 | `README.md:110` |
/// | validation batch 16, every 8000 updates | `train_wt103.py:404`, `:413` |
/// | weight decay 0.1, clip 1.0 | `train_wt103.py:410`, `:411` |
/// | dropout 0.15, attention 0.15, embedding 0.15 | `train_wt103.py:391`, `:393`, `:392` |
pub const WT103_BASE: Recipe = Recipe {
    preset: "wt103-base",
    lr: 3e-4,
    warmup_steps: 16_000,
    warmup_style: WarmupStyle::Wt103,
    steps: 400_000,
    batch_per_device: 8,
    paper_devices: 8,
    unroll: 768,
    eval_unroll: 2560,
    eval_batch_size: 16,
    eval_every: 8000,
    weight_decay: 0.1,
    clip_grad: 1.0,
    dropout: 0.15,
    attn_dropout: 0.15,
    optimizer: OptimizerKind::Radam,
    emb_dropout: 0.15,
};

/// WikiText-103 large, 232M parameters: the README's command, otherwise as [`WT103_BASE`].
///
/// | value | source |
/// |---|---|
/// | unroll 1024 | `README.md:124` |
/// | dropout 0.2, attention 0.2, embedding 0.2 | `README.md:121`, `:122`, `:123` |
/// | final evaluation window 2560 | `README.md:135` |
pub const WT103_LARGE: Recipe = Recipe {
    preset: "wt103-large",
    unroll: 1024,
    dropout: 0.2,
    attn_dropout: 0.2,
    emb_dropout: 0.2,
    ..WT103_BASE
};

/// WikiText-103 large with attention in 2 layers (k = 5), 225M parameters: the README
/// publishes only its checkpoint (`README.md:22`), not a command; trained here as
/// [`WT103_LARGE`].
pub const WT103_LARGE_K5: Recipe = Recipe {
    preset: "wt103-large-k5",
    ..WT103_LARGE
};

/// One Billion Word base, 328M parameters: the defaults of `train_lm1b.py`.
///
/// | value | source |
/// |---|---|
/// | lr 2e-4 | `train_lm1b.py:398` |
/// | warmup 16000, counted `lr·(n+1)/W` | `train_lm1b.py:391`, `:274` |
/// | 800000 updates | `train_lm1b.py:397` |
/// | batch 128 per GPU × 8 GPUs | `train_lm1b.py:392`, `README.md:143` |
/// | unroll 64 | `train_lm1b.py:395` |
/// | final evaluation window 96 | `README.md:155` |
/// | validation batch 8, every 8000 updates | `train_lm1b.py:393`, `:402` |
/// | weight decay 0.1, clip 1.0 | `train_lm1b.py:399`, `:400` |
/// | dropout 0.05, attention 0, embedding 0 | `train_lm1b.py:380`, `:382`, `:381` |
pub const BWB_BASE: Recipe = Recipe {
    preset: "bwb-base",
    lr: 2e-4,
    warmup_steps: 16_000,
    warmup_style: WarmupStyle::Enwik8,
    steps: 800_000,
    batch_per_device: 128,
    paper_devices: 8,
    unroll: 64,
    eval_unroll: 96,
    eval_batch_size: 8,
    eval_every: 8000,
    weight_decay: 0.1,
    clip_grad: 1.0,
    dropout: 0.05,
    attn_dropout: 0.0,
    optimizer: OptimizerKind::Radam,
    emb_dropout: 0.0,
};

/// One Billion Word large (attention every 5th layer), 465M parameters: the README's
/// command, otherwise as [`BWB_BASE`].
///
/// | value | source |
/// |---|---|
/// | batch 192 per GPU × 8 GPUs | `README.md:167`, `:143` |
/// | dropout 0.1 | `README.md:165` |
/// | final evaluation window 96 | `README.md:178` |
pub const BWB_LARGE: Recipe = Recipe {
    preset: "bwb-large",
    batch_per_device: 192,
    dropout: 0.1,
    ..BWB_BASE
};

/// The CPU recipe of `small` (not from the paper), chosen for the default `cargo xtask train`
/// to reach ≤ 2.6 bits per byte within 10 minutes on 2 cores: lr 5e-2 (at 300 updates,
/// lr 3e-3, 6e-3, 1.2e-2, 3e-2, 5e-2, 8e-2 and 1.2e-1 gave 3.81, 3.51, 3.23, 2.98, 2.94,
/// 2.89 and 2.93 valid bits per byte without dropout, and 4.65 at 3e-3 with dropout 0.1),
/// 100 warmup updates, 1600 updates of 16 × 128 bytes (about one pass over the excerpt, so
/// no dropout), weight decay 0.01, validation every 200 updates over 64 Ki bytes with a
/// 256-byte window.
pub const SMALL: Recipe = Recipe {
    preset: "small",
    lr: 5e-2,
    warmup_steps: 100,
    warmup_style: WarmupStyle::Enwik8,
    steps: 1600,
    batch_per_device: 16,
    paper_devices: 1,
    unroll: 128,
    eval_unroll: 256,
    eval_batch_size: 16,
    eval_every: 200,
    weight_decay: 0.01,
    clip_grad: 1.0,
    dropout: 0.0,
    attn_dropout: 0.0,
    optimizer: OptimizerKind::Radam,
    emb_dropout: 0.0,
};

/// The CPU recipe of `tiny`: as [`SMALL`].
pub const TINY: Recipe = Recipe {
    preset: "tiny",
    ..SMALL
};

/// The Transformer-XL baseline of the paper (`txl-enwik8-base`, 41M parameters):
/// kimiyoung/transformer-xl `pytorch/run_enwik8_base.sh` and `train.py`'s defaults.
///
/// | value | source |
/// |---|---|
/// | Adam, lr 2.5e-4, no weight decay | `run_enwik8_base.sh` `--optim adam --lr 0.00025`; `train.py` (`optim.Adam`, no decay) |
/// | no warmup, cosine to 0 over 400000 updates | `--warmup_step 0 --max_step 400000`; `train.py` `--scheduler cosine`, `--eta_min 0` |
/// | global batch 22 (here 11 × 2 devices) | `--batch_size 22 --multi_gpu` |
/// | segments of 512, memory 512 | `--tgt_len 512 --mem_len 512` |
/// | clip 0.25 | `train.py` `--clip 0.25` |
/// | dropout 0.1, attention dropout 0 | `--dropout 0.1 --dropatt 0.0` |
/// | validation every 4000 updates, batch 10 | `train.py` `--eval-interval 4000`, `--eval_batch_size 10` |
pub const TXL_ENWIK8_BASE: Recipe = Recipe {
    preset: "txl-enwik8-base",
    lr: 2.5e-4,
    warmup_steps: 0,
    warmup_style: WarmupStyle::Enwik8,
    steps: 400_000,
    batch_per_device: 11,
    paper_devices: 2,
    unroll: 512,
    eval_unroll: 512,
    eval_batch_size: 10,
    eval_every: 4000,
    weight_decay: 0.0,
    clip_grad: 0.25,
    dropout: 0.1,
    attn_dropout: 0.0,
    emb_dropout: 0.0,
    optimizer: OptimizerKind::Adamw,
};

/// The CPU recipe of `txl-small` (not from the paper): the original's optimizer and clip
/// (Adam, no weight decay, clip 0.25), the batches, updates and validation of [`SMALL`],
/// 100 warmup updates, and lr 5e-3 (at 300 updates, lr 2e-3, 5e-3 and 1e-2 gave 3.47, 3.28
/// and 5.14 valid bits per byte).
pub const TXL_SMALL: Recipe = Recipe {
    preset: "txl-small",
    lr: 5e-3,
    weight_decay: 0.0,
    clip_grad: 0.25,
    optimizer: OptimizerKind::Adamw,
    ..SMALL
};

/// The CPU recipe of `txl-tiny`: as [`TXL_SMALL`].
pub const TXL_TINY: Recipe = Recipe {
    preset: "txl-tiny",
    ..TXL_SMALL
};

/// Every recipe, one per preset.
pub const RECIPES: [Recipe; 12] = [
    ENWIK8_BASE,
    ENWIK8_LARGE,
    WT103_BASE,
    WT103_LARGE,
    WT103_LARGE_K5,
    BWB_BASE,
    BWB_LARGE,
    SMALL,
    TINY,
    TXL_ENWIK8_BASE,
    TXL_SMALL,
    TXL_TINY,
];

/// The recipe of preset `name`.
///
/// # Errors
/// [`TrainError::Config`] for an unknown preset, listing the known ones.
pub fn recipe(name: &str) -> Result<Recipe, TrainError> {
    RECIPES
        .iter()
        .find(|r| r.preset == name)
        .copied()
        .ok_or_else(|| {
            let known: Vec<&str> = RECIPES.iter().map(|r| r.preset).collect();
            TrainError::config(
                "preset",
                format!(
                    "unknown preset `{name}`; known presets: {}",
                    known.join(", ")
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers of the official scripts and README, as the tables above cite them:
    /// (preset, lr, warmup, steps, batch per GPU, global batch, unroll, eval unroll,
    /// validation batch, dropout, attention dropout, embedding dropout).
    #[allow(clippy::type_complexity)]
    #[rustfmt::skip]
    const PINNED: [(&str, f64, u64, u64, usize, usize, usize, usize, usize, f64, f64, f64); 9] = [
        ("enwik8-base",    3e-4, 16000, 400_000,   4,   32, 1024, 3072, 16, 0.22, 0.22, 0.0),
        ("enwik8-large",   4e-4, 16000, 400_000,   8,   64, 1024, 3072, 16, 0.32, 0.32, 0.0),
        ("wt103-base",     3e-4, 16000, 400_000,   8,   64,  768, 2560, 16, 0.15, 0.15, 0.15),
        ("wt103-large",    3e-4, 16000, 400_000,   8,   64, 1024, 2560, 16, 0.2,  0.2,  0.2),
        ("wt103-large-k5", 3e-4, 16000, 400_000,   8,   64, 1024, 2560, 16, 0.2,  0.2,  0.2),
        ("bwb-base",       2e-4, 16000, 800_000, 128, 1024,   64,   96,  8, 0.05, 0.0,  0.0),
        ("bwb-large",      2e-4, 16000, 800_000, 192, 1536,   64,   96,  8, 0.1,  0.0,  0.0),
        ("small",          5e-2,   100,   1600,  16,   16,  128,  256, 16, 0.0,  0.0,  0.0),
        ("tiny",           5e-2,   100,   1600,  16,   16,  128,  256, 16, 0.0,  0.0,  0.0),
    ];

    #[test]
    fn recipes_hold_the_official_numbers() {
        for (name, lr, warmup, steps, batch, global, unroll, eval_unroll, eval_b, p, pa, pe) in
            PINNED
        {
            let r = recipe(name).expect("known preset");
            let got = (
                r.lr,
                r.warmup_steps,
                r.steps,
                r.batch_per_device,
                r.global_batch(),
                r.unroll,
                r.eval_unroll,
                r.eval_batch_size,
            );
            let want = (
                lr,
                warmup,
                steps,
                batch,
                global,
                unroll,
                eval_unroll,
                eval_b,
            );
            assert_eq!(got, want, "{name}");
            assert_eq!(
                (r.dropout, r.attn_dropout, r.emb_dropout),
                (p, pa, pe),
                "{name}"
            );
            // Every recipe but WikiText-103's counts warmup from n + 1.
            let wt = name.starts_with("wt103");
            assert_eq!(r.warmup_style == WarmupStyle::Wt103, wt, "{name}");
            assert_eq!(
                (r.weight_decay, r.clip_grad),
                if r.paper_devices == 8 {
                    (0.1, 1.0)
                } else {
                    (0.01, 1.0)
                }
            );
        }
        assert_eq!(RECIPES.len(), sru_model::PRESETS.len());
    }

    #[test]
    fn a_recipe_config_uses_its_numbers_and_the_preset_model() {
        for r in RECIPES {
            let c = r.config(PathBuf::from("data")).expect("config");
            c.validate().expect("valid");
            let m = preset(r.preset).expect("preset");
            // The model presets carry the same dropout as the recipe.
            let mut with_recipe = m.clone();
            with_recipe.set_dropouts(r.dropout, r.attn_dropout, r.emb_dropout);
            assert_eq!(with_recipe, m, "{}", r.preset);
            assert_eq!(c.model, m, "{}", r.preset);
            assert_eq!(
                (c.lr, c.batch_size, c.unroll, c.steps),
                (r.lr, r.batch_per_device, r.unroll, r.steps)
            );
            // One device accumulates the paper's GPUs' batch; CPU recipes do not accumulate.
            if r.paper_devices > 1 {
                assert_eq!(
                    (c.accumulate, c.global_batch()),
                    (r.paper_devices, r.global_batch())
                );
                assert_eq!(c.paper_mismatch(), None);
            } else {
                assert_eq!((c.accumulate, c.paper_global_batch), (1, None));
            }
        }
        // Other device counts: accumulation makes up the rest; a batch that cannot reach the
        // paper's exactly is said to differ.
        let mut c = WT103_BASE.config(PathBuf::from("data")).expect("config");
        c.devices = 2;
        let said = c.match_paper_batch().expect("a paper recipe");
        assert_eq!((c.accumulate, c.global_batch()), (4, 64));
        assert!(
            said.contains("global batch 64") && said.contains("4 accumulated"),
            "{said}"
        );
        c.batch_size = 5;
        c.match_paper_batch();
        assert_eq!((c.accumulate, c.global_batch()), (7, 70));
        assert!(c.paper_mismatch().expect("differs").contains("64"));
        assert!(
            recipe("nope")
                .expect_err("unknown")
                .to_string()
                .contains("enwik8-base")
        );
    }
}
