//! `cargo xtask experiment`: SRU++ against a Transformer-XL of the same size under one
//! compute budget (the paper's Figure 1 and its attention ablation, on this machine's CPU).
//!
//! Trains the four runs of [`sru_train::experiment::arms`] into `--out` (default
//! `runs/experiment`), one folder each; a run that finished is reused, one that was
//! interrupted is resumed ([`sru_train::experiment::arm_state`]). Then writes `report.md` (the
//! table of [`sru_train::experiment::compare`], rendered here) and `report.png` (validation
//! bits per token against training FLOPs and against seconds, all models on one figure).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use sru_data::TokenCache;
use sru_train::experiment::{self, ArmState, Comparison, DEFAULT_BUDGET, Row};
use sru_train::metrics;

use crate::{corpus, plot, train};

/// Compare SRU++ (attention in every layer, in one, in none) with a Transformer-XL of the
/// same parameter count under one training-FLOPs budget.
#[derive(Debug, Args)]
pub struct Experiment {
    /// Training FLOPs per model (the default took 25 minutes for all four on 2 cores).
    #[arg(long, default_value_t = DEFAULT_BUDGET)]
    budget: f64,
    /// A prepared corpus folder or a raw byte corpus; default: the bundled Wikipedia excerpt.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Folder of the runs and the report.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip each run's final evaluation on the full valid and test splits (the report then
    /// shows the last periodic validation).
    #[arg(long)]
    no_final_eval: bool,
}

impl Experiment {
    pub fn run(self) -> Result<()> {
        if !(self.budget.is_finite() && self.budget > 0.0) {
            bail!(
                "--budget must be a positive number of FLOPs, got {}",
                self.budget
            );
        }
        let out = self
            .out
            .unwrap_or_else(|| corpus::repo_root().join("runs").join("experiment"));
        let data = corpus::resolve(self.data.as_deref())?;
        let cache = TokenCache::open(&data)?;
        let unigram = cache.unigram_entropy(sru_data::Split::Train);
        let mut arms = experiment::arms(self.budget, data, cache.vocab().len())?;
        for arm in &mut arms {
            arm.config.fit_vocabulary(&cache);
            arm.config.final_eval = !self.no_final_eval;
        }
        drop(cache);
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        eprintln!(
            "experiment {}  ·  budget {:.3e} training FLOPs per model",
            out.display(),
            self.budget
        );
        for arm in &arms {
            let c = &arm.config;
            eprintln!(
                "  {:<12} {:<48} {:>8} parameters  {:.3e} FLOPs/token  {} updates",
                arm.name,
                arm.description,
                c.model.num_params(),
                c.flops_per_token().training(),
                c.steps
            );
        }
        for (i, arm) in arms.iter().enumerate() {
            let dir = out.join(arm.name);
            let resume = match experiment::arm_state(&dir, &arm.config)? {
                ArmState::Finished => {
                    eprintln!(
                        "\n[{}/{}] {}: finished before, reused",
                        i + 1,
                        arms.len(),
                        arm.name
                    );
                    continue;
                }
                ArmState::Interrupted => true,
                ArmState::New => false,
            };
            eprintln!(
                "\n[{}/{}] {}: {}{}",
                i + 1,
                arms.len(),
                arm.name,
                arm.description,
                if resume { " (resuming)" } else { "" }
            );
            let summary = train::run_config(arm.config.clone(), dir.clone(), resume)?;
            train::report(&dir, &summary, unigram);
            if summary.interrupted {
                eprintln!(
                    "interrupted; `cargo xtask experiment` with the same options continues where it stopped"
                );
                return Ok(());
            }
        }
        let mut rows = Vec::new();
        let mut runs = Vec::new();
        for arm in &arms {
            let lines = metrics::read(&out.join(arm.name))?;
            rows.push(Row::of(arm.name, &arm.config, &lines));
            runs.push((arm.name.to_string(), lines));
        }
        let table = markdown_table(&experiment::compare(rows, "txl"));
        let mut md = format!(
            "# SRU++ against Transformer-XL under {:.3e} training FLOPs each\n\n\
             Corpus `{}`; written by `cargo xtask experiment`.\n\n",
            self.budget,
            arms[0].config.data.display()
        );
        for arm in &arms {
            md.push_str(&format!("- `{}`: {}\n", arm.name, arm.description));
        }
        md.push('\n');
        md.push_str(&table);
        md.push_str("\nFigure: `report.png` (validation bits per token against training FLOPs, and against seconds).\n");
        let report = out.join("report.md");
        std::fs::write(&report, &md).with_context(|| format!("writing {}", report.display()))?;
        let figure = out.join("report.png");
        plot::experiment_figure(&figure, &runs)?;
        println!("{table}");
        eprintln!(
            "report: {}  ·  figure: {}",
            report.display(),
            figure.display()
        );
        Ok(())
    }
}

/// The report table: per model its size, cost per token, what it was given, its final
/// validation bits per token, and the FLOPs and seconds it needed to reach the
/// Transformer-XL's best periodic validation bits per token, as ratios to the
/// Transformer-XL's own.
fn markdown_table(c: &Comparison) -> String {
    let mut s = format!(
        "Target: the Transformer-XL's best periodic validation, {:.4} bits per token.\n\n\
         | model | parameters | train GFLOPs/token | tokens seen | train FLOPs | train seconds | final valid bits/token | FLOPs to target | seconds to target | FLOPs ratio to TXL | seconds ratio to TXL |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
        c.target
    );
    for e in &c.entries {
        let r = &e.row;
        let (f, sec) = match e.reach {
            Some((f, sec)) => (format!("{f:.3e}"), format!("{sec:.0}")),
            None => ("not reached".into(), "not reached".into()),
        };
        let (fr, sr) = match e.ratio {
            Some((fr, sr)) => (format!("{fr:.2}"), format!("{sr:.2}")),
            None => ("–".into(), "–".into()),
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
