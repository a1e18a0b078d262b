//! What a run is: the model, the data, the optimisation recipe (spec §3.3) and the
//! bookkeeping (evaluation, checkpoints). Saved as `config.toml` in every run folder and inside
//! every checkpoint, so a run can always be resumed or re-evaluated as it was trained.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sru_data::TokenCache;
use sru_model::ModelConfig;

use crate::error::TrainError;

/// The optimizer of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Liu et al.'s RAdam with decoupled weight decay, as the official scripts use.
    Radam,
    /// Adam with decoupled weight decay (Loshchilov & Hutter).
    Adamw,
}

/// The float type of the model's products (as `torch.cuda.amp.autocast`). Parameters,
/// gradients, optimizer state, checkpoints, LayerNorm, softmax and the loss stay in f32;
/// evaluation and generation run in f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// float32 everywhere.
    F32,
    /// float16 products and activations (GPU), with dynamic loss scaling.
    F16,
    /// bfloat16 products and activations (GPU).
    Bf16,
}

/// How the linear warmup counts (spec §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WarmupStyle {
    /// `lr · (n + 1) / W` (enwik8 and Billion Word scripts).
    Enwik8,
    /// `lr · n / W` (WikiText-103 script: the first update has lr 0).
    Wt103,
}

/// Everything that defines a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The preset the model came from, if any (informational).
    #[serde(default)]
    pub preset: Option<String>,
    /// The language model (a table tagged by `arch`, see [`ModelConfig`]).
    pub model: ModelConfig,
    /// The prepared token cache (`cargo xtask data prepare`).
    pub data: PathBuf,
    /// Streams per device (the official `--batch_size`, per GPU).
    pub batch_size: usize,
    /// Segment length of truncated back-propagation (`--unroll_size`).
    pub unroll: usize,
    /// Number of updates (`--max_iter`); the cosine reaches 0 here.
    pub steps: u64,
    /// Linear warmup updates.
    pub warmup_steps: u64,
    /// How warmup counts.
    pub warmup_style: WarmupStyle,
    /// Peak learning rate.
    pub lr: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Adam β1.
    pub beta1: f64,
    /// Adam β2.
    pub beta2: f64,
    /// Adam ε.
    pub eps: f64,
    /// Clip the global gradient norm to this (0: no clipping).
    pub clip_grad: f64,
    /// Segments whose gradients are summed into one update (`--update_param_freq`).
    pub accumulate: usize,
    /// Compute precision.
    pub precision: Precision,
    /// Seed of initialisation and dropout.
    pub seed: u64,
    /// Number of devices per node (data parallel; the global batch is
    /// `batch_size × devices × nodes × accumulate`).
    pub devices: usize,
    /// Number of nodes (processes, usually machines) training together, each with
    /// `devices` devices ([`crate::sync::NodeLink`]).
    #[serde(default = "one_node")]
    pub nodes: usize,
    /// The global batch of the paper's run of this recipe (streams per update over its 8
    /// GPUs), when the config comes from a paper recipe; [`TrainConfig::match_paper_batch`]
    /// sets `accumulate` to reach it on the devices at hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper_global_batch: Option<usize>,
    /// Validate every this many updates (0: only at the end).
    pub eval_every: u64,
    /// Segment and attention window of the final evaluation (the `--eval_unroll_size` of the
    /// official evaluation commands); periodic validation uses the training `unroll`, as the
    /// official scripts (whose `eval_unroll_size` defaults to `unroll_size`).
    pub eval_unroll: usize,
    /// Streams in periodic validation (`--eval_batch_size`).
    pub eval_batch_size: usize,
    /// Periodic validation reads at most this many tokens (`None`: the whole split).
    pub eval_max_tokens: Option<u64>,
    /// Streams in the final evaluation of valid and test (the official scripts use 1).
    pub final_eval_batch_size: usize,
    /// Evaluate valid and test in full when the run finishes.
    pub final_eval: bool,
    /// Write a checkpoint every this many updates (0: only at the end and on interruption).
    pub checkpoint_every: u64,
    /// Checkpoints kept besides the best one.
    pub keep_last: usize,
    /// Log a training metrics line every this many updates.
    pub log_every: u64,
    /// Testing aid: make the loss of this update NaN (checks the non-finite stop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inject_nan_at_step: Option<u64>,
}

impl TrainConfig {
    /// The official recipe around `model` (RAdam, lr 3e-4, wd 0.1, warmup 16000, 400k
    /// updates, clip 1, batch 4 × unroll 1024 per device, eval unroll 3072).
    pub fn official(model: ModelConfig, data: PathBuf) -> TrainConfig {
        TrainConfig {
            preset: None,
            model,
            data,
            batch_size: 4,
            unroll: 1024,
            steps: 400_000,
            warmup_steps: 16_000,
            warmup_style: WarmupStyle::Enwik8,
            lr: 3e-4,
            weight_decay: 0.1,
            optimizer: OptimizerKind::Radam,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            clip_grad: 1.0,
            accumulate: 1,
            precision: Precision::F32,
            seed: 1234,
            devices: 1,
            nodes: 1,
            paper_global_batch: None,
            eval_every: 8000,
            eval_unroll: 3072,
            eval_batch_size: 16,
            eval_max_tokens: None,
            final_eval_batch_size: 1,
            final_eval: true,
            checkpoint_every: 8000,
            keep_last: 3,
            log_every: 100,
            inject_nan_at_step: None,
        }
    }

    /// Sizes a dense (byte-level or small-vocabulary) model's vocabulary to the corpus, as the
    /// official scripts size the output layer; an adaptive model keeps its vocabulary.
    pub fn fit_vocabulary(&mut self, cache: &TokenCache) {
        if self.model.adaptive().is_none() {
            self.model.set_vocab_size(cache.vocab().len());
        }
    }

    /// Makes the run `steps` updates long (the cosine ends there); warmup, validation and
    /// checkpoint periods longer than the run are cut to it.
    pub fn set_steps(&mut self, steps: u64) {
        self.steps = steps;
        self.warmup_steps = self.warmup_steps.min(steps);
        self.eval_every = self.eval_every.min(steps);
        self.checkpoint_every = self.checkpoint_every.min(steps);
    }

    /// Devices over all nodes: `devices × nodes`.
    pub fn world(&self) -> usize {
        self.devices * self.nodes
    }

    /// Streams per update over all devices: `batch_size × devices × nodes × accumulate`.
    pub fn global_batch(&self) -> usize {
        self.batch_size * self.world() * self.accumulate
    }

    /// Sets `accumulate` so that the global batch is the paper's on this run's devices
    /// (rounded up when the paper's batch is not a multiple of `batch_size × devices`), and
    /// says what it chose; `None` for configs without a paper batch.
    pub fn match_paper_batch(&mut self) -> Option<String> {
        let paper = self.paper_global_batch?;
        let per_update = (self.batch_size * self.world()).max(1);
        self.accumulate = paper.div_ceil(per_update).max(1);
        Some(format!(
            "global batch {} streams = {} per device × {} device{} × {} accumulated segments{}",
            self.global_batch(),
            self.batch_size,
            self.world(),
            if self.world() == 1 { "" } else { "s" },
            self.accumulate,
            match self.paper_mismatch() {
                None => " (the paper's: 8 GPUs × batch per GPU)".to_string(),
                Some(m) => format!(" ({m})"),
            }
        ))
    }

    /// Why this run's global batch is not the paper's, when it has one and differs.
    pub fn paper_mismatch(&self) -> Option<String> {
        let paper = self.paper_global_batch?;
        (self.global_batch() != paper).then(|| {
            format!(
                "the paper trains this recipe with a global batch of {paper} streams; this run \
                 uses {}, so its learning-rate schedule and results are not the paper's",
                self.global_batch()
            )
        })
    }

    /// Tokens consumed by one update over all devices.
    pub fn tokens_per_step(&self) -> u64 {
        (self.batch_size * self.unroll * self.accumulate * self.world()) as u64
    }

    /// The model's training FLOPs per token on this run's segments ([`sru_model::flops`]).
    pub fn flops_per_token(&self) -> sru_model::flops::FlopsPerToken {
        sru_model::flops::per_token(&self.model, self.unroll)
    }

    /// Training FLOPs of the first `steps` updates.
    pub fn train_flops(&self, steps: u64) -> f64 {
        steps as f64 * self.tokens_per_step() as f64 * self.flops_per_token().training()
    }

    /// Checks that the settings make sense together.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming the first bad setting.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |setting, m: String| Err(TrainError::config(setting, m));
        self.model
            .validate()
            .map_err(|e| TrainError::config("model", e.to_string()))?;
        for (name, v) in [
            ("batch_size", self.batch_size),
            ("unroll", self.unroll),
            ("accumulate", self.accumulate),
            ("devices", self.devices),
            ("nodes", self.nodes),
            ("eval_unroll", self.eval_unroll),
            ("eval_batch_size", self.eval_batch_size),
            ("final_eval_batch_size", self.final_eval_batch_size),
        ] {
            if v == 0 {
                return bad(name, format!("{name} must be at least 1"));
            }
        }
        if self.steps == 0 {
            return bad("steps", "steps must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(
                "lr",
                format!("lr must be a positive number, got {}", self.lr),
            );
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(
                "weight_decay",
                format!("weight_decay must be ≥ 0, got {}", self.weight_decay),
            );
        }
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(name, format!("{name} must lie in [0, 1), got {b}"));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad("eps", format!("eps must be positive, got {}", self.eps));
        }
        if !(self.clip_grad.is_finite() && self.clip_grad >= 0.0) {
            return bad(
                "clip_grad",
                format!("clip_grad must be ≥ 0, got {}", self.clip_grad),
            );
        }
        if self.warmup_steps > self.steps {
            return bad(
                "warmup_steps",
                format!(
                    "warmup_steps ({}) exceeds steps ({})",
                    self.warmup_steps, self.steps
                ),
            );
        }
        if self.keep_last == 0 {
            return bad("keep_last", "keep_last must be at least 1".into());
        }
        Ok(())
    }

    /// Reads a TOML config.
    ///
    /// # Errors
    /// A missing file, bad TOML, unknown or missing keys.
    pub fn load(path: &Path) -> Result<TrainConfig, TrainError> {
        let text = std::fs::read_to_string(path).map_err(TrainError::io(path))?;
        toml::from_str(&text).map_err(|e| TrainError::ConfigFile {
            path: path.to_path_buf(),
            why: e.message().to_string(),
        })
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// The default of [`TrainConfig::nodes`] (configs written before multi-node training).
fn one_node() -> usize {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `config.toml` with its `[model]` table (and sub-tables) replaced by `model`.
    fn with_model_table(config: &TrainConfig, model: &str) -> String {
        let text = config.to_toml();
        let start = text.find("[model]").expect("a model table");
        let end = text[start + 1..]
            .find("\n[")
            .map(|i| start + 1 + i)
            .filter(|&i| !text[i + 1..].starts_with("[model."))
            .unwrap_or(text.len());
        format!("{}{model}{}", &text[..start], &text[end..])
    }

    #[test]
    fn a_config_toml_round_trips_with_its_arch() {
        for name in ["tiny", "txl-tiny"] {
            let c = TrainConfig::official(sru_model::preset(name).unwrap(), PathBuf::from("data"));
            let text = c.to_toml();
            assert!(text.contains("arch = "), "{text}");
            assert_eq!(toml::from_str::<TrainConfig>(&text).unwrap(), c, "{name}");
        }
    }

    /// Runs written before the model family had one flat `[model]` table, a Transformer-XL
    /// with a `[model.transformer_xl]` sub-table; they still load, as the same models.
    #[test]
    fn an_old_config_toml_loads_as_the_same_model() {
        let old_srupp = "[model]\nvocab_size = 256\nn_d = 64\nn_proj = 16\ndepth = 2\n\
            dropout = 0.0\nattn_dropout = 0.0\nemb_dropout = 0.0\nnum_heads = 1\n\
            layer_norm = false\nhighway_bias = -2.0\nattention_every_n_layers = 1\n";
        let old_txl = "[model]\nvocab_size = 256\nn_d = 32\nn_proj = 64\ndepth = 2\n\
            dropout = 0.0\nattn_dropout = 0.0\nemb_dropout = 0.0\nnum_heads = 2\n\
            layer_norm = false\nhighway_bias = -2.0\nattention_every_n_layers = 1\n\n\
            [model.transformer_xl]\nd_head = 16\nd_inner = 64\nmem_len = 32\n\
            pre_lnorm = false\nsame_length = false\n";
        for (name, old) in [("tiny", old_srupp), ("txl-tiny", old_txl)] {
            let c = TrainConfig::official(sru_model::preset(name).unwrap(), PathBuf::from("data"));
            let text = with_model_table(&c, old);
            assert!(!text.contains("arch"), "{text}");
            let read: TrainConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(read, c, "{name}");
        }
    }

    #[test]
    fn a_model_table_of_the_wrong_architecture_says_which() {
        let c = TrainConfig::official(sru_model::preset("tiny").unwrap(), PathBuf::from("data"));
        let text = c
            .to_toml()
            .replace("arch = \"srupp\"", "arch = \"transformer_xl\"");
        let e = toml::from_str::<TrainConfig>(&text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("transformer_xl") && e.contains("unknown field"),
            "{e}"
        );
    }
}
