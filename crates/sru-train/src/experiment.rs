//! The paper's claim as one experiment: models trained under the same compute budget on the
//! same data, compared by the compute each needs to reach the Transformer-XL's quality (the
//! paper's Figure 1, dev BPC against training cost, and its ablation of attention in fewer
//! layers, Table 4).
//!
//! [`arms`] builds the four runs from the CPU recipes: SRU++ with attention in every layer
//! (`small`), in the last layer only, without attention, and the Transformer-XL of the same
//! parameter count (`txl-small`, ±10%). Each runs for as many updates as the budget buys at
//! its own FLOPs per token ([`crate::TrainConfig::train_flops`]). [`Row::of`] reads a finished
//! run's `metrics.jsonl`; [`report_markdown`] writes the table.
//!
//! "FLOPs to reach" is measured on the periodic validation curve (the same validation tokens
//! for every model): the Transformer-XL's best periodic validation bits per token is the
//! target, and a model reaches it where its curve first crosses it (interpolated linearly
//! between evaluations, in FLOPs and in seconds).

use std::path::PathBuf;

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::metrics::MetricLine;
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
    last1.model.attention_last_n_layers = Some(1);
    let mut none = srupp.clone();
    none.model.attention_every_n_layers = none.model.depth + 1;
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
        c.model.vocab_size = vocab_size;
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

/// The report table (markdown): per model its size, cost per token, what it was given, its
/// final validation bits per token, and the FLOPs and seconds it needed to reach the
/// Transformer-XL's best periodic validation bits per token, as ratios to the
/// Transformer-XL's own. `baseline` names the Transformer-XL row.
pub fn report_markdown(rows: &[Row], baseline: &str) -> String {
    let base = rows.iter().find(|r| r.name == baseline);
    let target = base.map_or(f64::NAN, |b| b.best_periodic_bpc);
    let base_reach = base.and_then(|b| b.reach(target));
    let mut s = format!(
        "Target: the Transformer-XL's best periodic validation, {target:.4} bits per token.\n\n\
         | model | parameters | train GFLOPs/token | tokens seen | train FLOPs | train seconds | final valid bits/token | FLOPs to target | seconds to target | FLOPs ratio to TXL | seconds ratio to TXL |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for r in rows {
        let reach = r.reach(target);
        let (f, sec, fr, sr) = match (reach, base_reach) {
            (Some((f, sec)), Some((bf, bs))) => (
                format!("{f:.3e}"),
                format!("{sec:.0}"),
                format!("{:.2}", f / bf),
                format!("{:.2}", sec / bs),
            ),
            (Some((f, sec)), None) => (format!("{f:.3e}"), format!("{sec:.0}"), "–".into(), "–".into()),
            _ => ("not reached".into(), "not reached".into(), "–".into(), "–".into()),
        };
        s.push_str(&format!(
            "| {} | {} | {:.4} | {} | {:.3e} | {:.0} | {:.4} | {f} | {sec} | {fr} | {sr} |\n",
            r.name,
            r.params,
            r.flops_per_token / 1e9,
            r.tokens,
            r.flops,
            r.seconds,
            r.final_valid_bpc,
        ));
    }
    s
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
            assert!(spent <= DEFAULT_BUDGET && spent > 0.98 * DEFAULT_BUDGET, "{}: {spent:e}", a.name);
            a.config.validate().unwrap();
        }
        // the baseline has the parameter count of SRU++ with attention in every layer
        for vocab in [205, 256] {
            let arms = super::arms(DEFAULT_BUDGET, PathBuf::from("data"), vocab).unwrap();
            let (txl, srupp) = (arms[3].config.model.num_params() as f64, arms[0].config.model.num_params() as f64);
            assert!((txl / srupp - 1.0).abs() <= 0.1, "V {vocab}: {txl} vs {srupp}");
        }
        assert!(arms[2].config.model.srupp().num_layers > 0);
        assert!((0..4).all(|i| !arms[2].config.model.srupp().has_attention(i)));
        assert!((0..4).filter(|&i| arms[1].config.model.srupp().has_attention(i)).count() == 1);
    }

    #[test]
    fn too_small_a_budget_is_refused_with_the_minimum() {
        let e = arms(1e6, PathBuf::from("data"), 256).unwrap_err().to_string();
        assert!(e.contains("at least"), "{e}");
    }
}
