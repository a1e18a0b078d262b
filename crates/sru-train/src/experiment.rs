//! The paper's claim as one experiment: models trained under the same compute budget on the
//! same data, compared by the compute each needs to reach the Transformer-XL's quality (the
//! paper's Figure 1, dev BPC against training cost, and its ablation of attention in fewer
//! layers, Table 4).
//!
//! [`arms`] builds the four runs from the CPU recipes: SRU++ with attention in every layer
//! (`small`), in the last layer only, without attention, and the Transformer-XL of the same
//! parameter count (`txl-small`, ±10%). Each runs for as many updates as the budget buys at
//! its own FLOPs per token ([`crate::TrainConfig::train_flops`]). [`arm_state`] says whether
//! an arm's folder holds a finished run (reuse it), an interrupted one (resume it) or none;
//! [`Row::of`] reads a finished run's `metrics.jsonl`; [`compare`] measures every row against
//! the Transformer-XL's. The CLI renders the result; nothing here formats text.
//!
//! "FLOPs to reach" is measured on the periodic validation curve (the same validation tokens
//! for every model): the Transformer-XL's best periodic validation bits per token is the
//! target, and a model reaches it where its curve first crosses it (interpolated linearly
//! between evaluations, in FLOPs and in seconds).

use std::path::{Path, PathBuf};

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::layout::{CHECKPOINTS_DIR, CONFIG_FILE};
use crate::metrics::{self, MetricLine};
use crate::recipe::{SMALL, TXL_SMALL};

/// The default budget of `cargo xtask experiment`: about 30 minutes for all four runs on a
/// 2-core CPU (it took 24.6 minutes there; see `docs/EXPERIMENTS.md`).
pub const DEFAULT_BUDGET: f64 = 1.2e13;

/// One model of the experiment.
#[derive(Debug, Clone)]
pub struct Arm {
    /// Folder name and label (`srupp-all`, `srupp-last1`, `srupp-none`, `txl`).
    pub name: &'static str,
    /// What it is, for the report.
    pub description: &'static str,
    /// Its training run.
    pub config: TrainConfig,
}

/// The four runs under `budget` training FLOPs each, on the prepared corpus `data` with
/// vocabulary `vocab_size`.
///
/// # Errors
/// A budget too small for 10 updates of some model.
pub fn arms(budget: f64, data: PathBuf, vocab_size: usize) -> Result<Vec<Arm>, TrainError> {
    let srupp = SMALL.config(data.clone())?;
    let mut last1 = srupp.clone();
    let mut none = srupp.clone();
    if let (Some(l), Some(n)) = (last1.model.as_srupp_mut(), none.model.as_srupp_mut()) {
        l.attention_last_n_layers = Some(1);
        n.attention_every_n_layers = n.depth + 1;
    }
    let txl = TXL_SMALL.config(data)?;
    let mut out = vec![
        Arm {
            name: "srupp-all",
            description: "SRU++, attention in every layer",
            config: srupp,
        },
        Arm {
            name: "srupp-last1",
            description: "SRU++, attention in the last layer only",
            config: last1,
        },
        Arm {
            name: "srupp-none",
            description: "SRU++ without attention (SRU with projections)",
            config: none,
        },
        Arm {
            name: "txl",
            description: "Transformer-XL, same parameter count",
            config: txl,
        },
    ];
    for arm in &mut out {
        let c = &mut arm.config;
        c.model.set_vocab_size(vocab_size);
        let per_step = c.train_flops(1);
        let steps = (budget / per_step).floor() as u64;
        if steps < 10 {
            return Err(TrainError::config(
                "budget",
                format!(
                    "a budget of {budget:.3e} FLOPs buys {steps} updates of {} ({per_step:.3e} FLOPs each); give at least {:.3e}",
                    arm.name,
                    10.0 * per_step
                ),
            ));
        }
        c.set_steps(steps);
        c.warmup_steps = c.warmup_steps.min(steps / 10);
        c.eval_every = (steps / 8).max(1);
        c.checkpoint_every = c.eval_every;
        c.preset = Some(arm.name.to_string());
    }
    Ok(out)
}

/// One model's line of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The arm's name.
    pub name: String,
    /// Parameters.
    pub params: usize,
    /// Training FLOPs per token.
    pub flops_per_token: f64,
    /// Training tokens seen.
    pub tokens: u64,
    /// Training FLOPs spent.
    pub flops: f64,
    /// Training seconds spent.
    pub seconds: f64,
    /// Final validation bits per token (full split; the last periodic one when the run had
    /// no final evaluation).
    pub final_valid_bpc: f64,
    /// Best periodic validation bits per token.
    pub best_periodic_bpc: f64,
    /// The periodic validation curve: (training FLOPs, seconds, bits per token).
    pub curve: Vec<(f64, f64, f64)>,
}

impl Row {
    /// The row of a run with `config` and metrics `lines`.
    pub fn of(name: &str, config: &TrainConfig, lines: &[MetricLine]) -> Row {
        let curve: Vec<(f64, f64, f64)> = lines
            .iter()
            .filter(|m| m.split == "valid")
            .map(|m| {
                (
                    m.train_flops.unwrap_or_else(|| config.train_flops(m.step)),
                    m.elapsed_s,
                    m.bpc,
                )
            })
            .collect();
        let steps = lines.iter().map(|m| m.step).max().unwrap_or(0);
        let final_valid = lines
            .iter()
            .rfind(|m| m.split == "final_valid")
            .map(|m| m.bpc)
            .or_else(|| curve.last().map(|p| p.2))
            .unwrap_or(f64::NAN);
        Row {
            name: name.to_string(),
            params: config.model.num_params(),
            flops_per_token: config.flops_per_token().training(),
            tokens: steps * config.tokens_per_step(),
            flops: config.train_flops(steps),
            seconds: lines.iter().map(|m| m.elapsed_s).fold(0.0, f64::max),
            final_valid_bpc: final_valid,
            best_periodic_bpc: curve.iter().map(|p| p.2).fold(f64::INFINITY, f64::min),
            curve,
        }
    }

    /// Training FLOPs and seconds at which the periodic validation curve first reaches
    /// `target` bits per token (interpolated between evaluations); `None` if it never does.
    pub fn reach(&self, target: f64) -> Option<(f64, f64)> {
        let mut prev: Option<(f64, f64, f64)> = None;
        for &(f, s, b) in &self.curve {
            if b <= target {
                return Some(match prev {
                    Some((f0, s0, b0)) if b0 > b => {
                        let t = (b0 - target) / (b0 - b);
                        (f0 + t * (f - f0), s0 + t * (s - s0))
                    }
                    _ => (f, s),
                });
            }
            prev = Some((f, s, b));
        }
        None
    }
}

/// What an arm's run folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArmState {
    /// No run yet (or one that stopped before its first checkpoint): train from scratch.
    New,
    /// A run of this configuration that stopped early: resume it.
    Interrupted,
    /// A run of this configuration that trained all its updates (and made its final
    /// evaluation, if it has one): reuse it.
    Finished,
}

/// The state of the run of `config` in `dir`.
///
/// # Errors
/// The folder holds a run of another configuration (another budget, corpus or version), or
/// its config or metrics cannot be read.
pub fn arm_state(dir: &Path, config: &TrainConfig) -> Result<ArmState, TrainError> {
    let saved = dir.join(CONFIG_FILE);
    if !saved.exists() {
        return Ok(ArmState::New);
    }
    if TrainConfig::load(&saved)? != *config {
        return Err(TrainError::config(
            "out",
            format!(
                "{} holds a run of another budget, corpus or version; give another --out or \
                 remove it",
                dir.display()
            ),
        ));
    }
    let lines = metrics::read(dir)?;
    let trained = lines
        .iter()
        .any(|m| m.split == "train" && m.step >= config.steps);
    let evaluated = !config.final_eval || lines.iter().any(|m| m.split == "final_valid");
    if trained && evaluated {
        return Ok(ArmState::Finished);
    }
    let checkpointed = dir
        .join(CHECKPOINTS_DIR)
        .read_dir()
        .is_ok_and(|mut d| d.next().is_some());
    Ok(if checkpointed {
        ArmState::Interrupted
    } else {
        ArmState::New
    })
}

/// Every row measured against the baseline's: the target (the baseline's best periodic
/// validation bits per token) and, per row, where its curve reaches it.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The baseline's best periodic validation bits per token (NaN without a baseline row).
    pub target: f64,
    /// One entry per row, in the rows' order.
    pub entries: Vec<Entry>,
}

/// One row of a [`Comparison`].
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The run's figures.
    pub row: Row,
    /// Training FLOPs and seconds at which it reached the target; `None` if it never did.
    pub reach: Option<(f64, f64)>,
    /// Those FLOPs and seconds divided by the baseline's own; `None` if either never reached
    /// it.
    pub ratio: Option<(f64, f64)>,
}

/// Compares `rows` with the row named `baseline` (the Transformer-XL): the FLOPs and seconds
/// each needs to reach the baseline's best periodic validation bits per token, and their
/// ratios to the baseline's.
pub fn compare(rows: Vec<Row>, baseline: &str) -> Comparison {
    let base = rows.iter().find(|r| r.name == baseline);
    let target = base.map_or(f64::NAN, |b| b.best_periodic_bpc);
    let base_reach = base.and_then(|b| b.reach(target));
    let entries = rows
        .into_iter()
        .map(|row| {
            let reach = row.reach(target);
            let ratio = match (reach, base_reach) {
                (Some((f, s)), Some((bf, bs))) => Some((f / bf, s / bs)),
                _ => None,
            };
            Entry { row, reach, ratio }
        })
        .collect();
    Comparison { target, entries }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(curve: Vec<(f64, f64, f64)>) -> Row {
        Row {
            name: "x".into(),
            params: 1,
            flops_per_token: 1.0,
            tokens: 1,
            flops: 1.0,
            seconds: 1.0,
            final_valid_bpc: 1.0,
            best_periodic_bpc: curve.iter().map(|p| p.2).fold(f64::INFINITY, f64::min),
            curve,
        }
    }

    #[test]
    fn compare_gives_ratios_to_the_baseline() {
        let mut base = row(vec![(2.0, 20.0, 3.0), (4.0, 40.0, 2.0)]);
        base.name = "txl".into();
        let fast = row(vec![(1.0, 30.0, 2.0)]);
        let slow = row(vec![(1.0, 1.0, 9.0)]);
        let c = compare(vec![fast, base, slow], "txl");
        assert_eq!(c.target, 2.0);
        assert_eq!(c.entries[0].ratio, Some((0.25, 0.75)));
        assert_eq!(c.entries[1].ratio, Some((1.0, 1.0)));
        assert_eq!((c.entries[2].reach, c.entries[2].ratio), (None, None));
    }

    #[test]
    fn reach_interpolates_between_evaluations() {
        let r = row(vec![(1.0, 10.0, 4.0), (3.0, 30.0, 2.0)]);
        assert_eq!(r.reach(3.0), Some((2.0, 20.0)));
        assert_eq!(r.reach(5.0), Some((1.0, 10.0)));
        assert_eq!(r.reach(1.0), None);
    }

    #[test]
    fn arms_share_the_budget_and_match_sizes() {
        let arms = arms(DEFAULT_BUDGET, PathBuf::from("data"), 256).unwrap();
        assert_eq!(arms.len(), 4);
        for a in &arms {
            let spent = a.config.train_flops(a.config.steps);
            assert!(
                spent <= DEFAULT_BUDGET && spent > 0.98 * DEFAULT_BUDGET,
                "{}: {spent:e}",
                a.name
            );
            a.config.validate().unwrap();
        }
        // the baseline has the parameter count of SRU++ with attention in every layer
        for vocab in [205, 256] {
            let arms = super::arms(DEFAULT_BUDGET, PathBuf::from("data"), vocab).unwrap();
            let (txl, srupp) = (
                arms[3].config.model.num_params() as f64,
                arms[0].config.model.num_params() as f64,
            );
            assert!(
                (txl / srupp - 1.0).abs() <= 0.1,
                "V {vocab}: {txl} vs {srupp}"
            );
        }
        assert!(arms[2].config.model.as_srupp().unwrap().srupp().num_layers > 0);
        assert!((0..4).all(|i| {
            !arms[2]
                .config
                .model
                .as_srupp()
                .unwrap()
                .srupp()
                .has_attention(i)
        }));
        assert!(
            (0..4)
                .filter(|&i| arms[1]
                    .config
                    .model
                    .as_srupp()
                    .unwrap()
                    .srupp()
                    .has_attention(i))
                .count()
                == 1
        );
    }

    #[test]
    fn too_small_a_budget_is_refused_with_the_minimum() {
        let e = arms(1e6, PathBuf::from("data"), 256)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least"), "{e}");
    }
}
