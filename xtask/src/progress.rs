//! Rendering training events: a progress bar (step, loss, bits per token, tokens/s, ETA) on
//! a terminal, and one line per logged metric everywhere (also when output is not a
//! terminal, as in CI logs).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sru_model::bits_per_character;
use sru_train::{Event, TrainConfig};

/// Turns [`Event`]s into terminal output.
pub struct Renderer {
    bar: ProgressBar,
    eval: Option<ProgressBar>,
    last_loss: f64,
}

impl Renderer {
    /// A renderer for a run of `config.steps` updates.
    pub fn new(config: &TrainConfig) -> Renderer {
        let bar = ProgressBar::with_draw_target(Some(config.steps), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(500));
        Renderer {
            bar,
            eval: None,
            last_loss: f64::NAN,
        }
    }

    /// Prints a line above the bar (always, also without a terminal).
    fn line(&self, text: &str) {
        self.bar.suspend(|| eprintln!("{text}"));
    }

    /// Renders one event.
    pub fn event(&mut self, e: &Event) {
        match e {
            Event::Started {
                params,
                tokens_per_step,
                start_step,
                steps,
                resumed_from,
            } => {
                if let Some(p) = resumed_from {
                    self.line(&format!(
                        "resuming from {} (update {start_step})",
                        p.display()
                    ));
                }
                self.line(&format!(
                    "model {params} parameters  ·  {tokens_per_step} tokens per update  ·  {steps} updates"
                ));
                self.bar.set_position(*start_step);
                self.bar.reset_eta();
            }
            Event::Step {
                step,
                loss,
                tokens_per_s,
                skipped,
                ..
            } => {
                self.last_loss = *loss;
                self.bar.set_position(*step);
                self.bar.set_message(format!(
                    "loss {loss:.3}  bpc {:.3}  {tokens_per_s:.0} tok/s{}",
                    bits_per_character(*loss),
                    if *skipped {
                        "  (skipped: f16 overflow)"
                    } else {
                        ""
                    }
                ));
            }
            Event::Logged(m) => {
                let extra = match (m.lr, m.tokens_per_s) {
                    (Some(lr), Some(tps)) => format!(
                        "  lr {lr:.2e}  |g| {:.3}  {tps:.0} tok/s{}",
                        m.grad_norm.unwrap_or(f64::NAN),
                        m.exchange_s
                            .map(|x| format!("  all-reduce {:.1} ms/update", x * 1e3))
                            .unwrap_or_default()
                    ),
                    _ => format!("  ({} tokens)", m.tokens),
                };
                self.line(&format!(
                    "step {:>7}  {:<11} loss {:.4}  bpc {:.4}  ppl {:.2}{extra}",
                    m.step, m.split, m.loss, m.bpc, m.ppl
                ));
            }
            Event::EvalStarted { split, tokens, .. } => {
                let pb = ProgressBar::with_draw_target(Some(*tokens), ProgressDrawTarget::stderr());
                pb.set_style(
                    ProgressStyle::with_template("  evaluating {msg} {bar:30} {pos}/{len} tokens")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                pb.set_message(split.name().to_string());
                self.eval = Some(pb);
            }
            Event::EvalProgress { done, .. } => {
                if let Some(pb) = &self.eval {
                    pb.set_position(*done);
                }
            }
            Event::Evaluated { .. } => {
                if let Some(pb) = self.eval.take() {
                    pb.finish_and_clear();
                }
            }
            Event::Checkpointed { path, .. } => {
                self.line(&format!("checkpoint {}", path.display()));
            }
            Event::ReplicasAgree {
                step,
                weights_crc32,
                replicas,
            } => {
                self.line(&format!(
                    "update {step}: weights agree on all {replicas} replicas (crc32 {weights_crc32:08x})"
                ));
            }
            Event::Interrupted { step } => {
                self.line(&format!("stop requested: saved after update {step}"));
            }
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
