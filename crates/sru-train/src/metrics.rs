//! Metrics of a run: one JSON object per line in `metrics.jsonl`, for training windows and
//! evaluations alike, with the loss in nats and as BPC and perplexity.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sru_model::{bits_per_character, perplexity};

use crate::error::TrainError;

/// The metrics file of a run folder.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricLine {
    /// Completed updates.
    pub step: u64,
    /// `train`, `valid` or `test`.
    pub split: String,
    /// Mean negative log-likelihood per token (nats).
    pub loss: f64,
    /// Bits per token (BPC for byte corpora).
    pub bpc: f64,
    /// Perplexity; `f64::MAX` when `exp(loss)` overflows (a diverging run), so every line
    /// stays a number in JSON and a checkpoint of it can be written.
    pub ppl: f64,
    /// Tokens the value was measured on.
    pub tokens: u64,
    /// Learning rate of the last update (training lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Global gradient norm before clipping, averaged over the window (training lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_norm: Option<f64>,
    /// Training throughput over the window (training lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_s: Option<f64>,
    /// Seconds per update spent exchanging with the other devices (the gradient all-reduce
    /// and the status sum, across nodes too), averaged over the window (training lines of
    /// data-parallel runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_s: Option<f64>,
    /// Training seconds so far (over all resumed sessions).
    pub elapsed_s: f64,
    /// Training FLOPs so far: updates × tokens per update × the model's training FLOPs per
    /// token ([`sru_model::flops`]); absent in files written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_flops: Option<f64>,
}

impl MetricLine {
    /// A line for `loss` on `split` after `step` updates.
    pub fn new(step: u64, split: &str, loss: f64, tokens: u64, elapsed_s: f64) -> MetricLine {
        MetricLine {
            step,
            split: split.to_string(),
            loss,
            bpc: bits_per_character(loss),
            ppl: perplexity(loss).min(f64::MAX),
            tokens,
            lr: None,
            grad_norm: None,
            tokens_per_s: None,
            exchange_s: None,
            elapsed_s,
            train_flops: None,
        }
    }

    /// The line with the training FLOPs of `config` after its `step` updates.
    pub fn with_flops(mut self, config: &crate::config::TrainConfig) -> MetricLine {
        self.train_flops = Some(config.train_flops(self.step));
        self
    }
}

/// One line of JSON; `path` names the file in errors.
fn to_json(line: &MetricLine, path: &Path) -> Result<String, TrainError> {
    serde_json::to_string(line).map_err(|e| TrainError::Metrics {
        path: path.to_path_buf(),
        line: None,
        why: format!("cannot serialise {line:?}: {e}"),
    })
}

/// Appends `line` to the metrics file of `run_dir`.
///
/// # Errors
/// I/O failures.
pub fn append(run_dir: &Path, line: &MetricLine) -> Result<(), TrainError> {
    let path = run_dir.join(METRICS_FILE);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(TrainError::io(&path))?;
    let mut text = to_json(line, &path)?;
    text.push('\n');
    f.write_all(text.as_bytes()).map_err(TrainError::io(&path))
}

/// Rewrites the metrics file with exactly `lines` (used on resume, so lines written after the
/// checkpoint by an interrupted process disappear).
///
/// # Errors
/// I/O failures.
pub fn rewrite(run_dir: &Path, lines: &[MetricLine]) -> Result<(), TrainError> {
    let path = run_dir.join(METRICS_FILE);
    let mut text = String::new();
    for l in lines {
        text.push_str(&to_json(l, &path)?);
        text.push('\n');
    }
    std::fs::write(&path, text).map_err(TrainError::io(&path))
}

/// Reads the metrics file of `run_dir` (missing file: no lines).
///
/// # Errors
/// A line that is not a metrics record, naming its number.
pub fn read(run_dir: &Path) -> Result<Vec<MetricLine>, TrainError> {
    let path = run_dir.join(METRICS_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Vec::new());
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| TrainError::Metrics {
                path: path.clone(),
                line: Some(i + 1),
                why: e.to_string(),
            })
        })
        .collect()
}
