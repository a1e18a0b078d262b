//! Stage 4 of [`crate::train`]: the end of a run. Node 0 evaluates valid and test in full
//! with the best weights on validation (reloaded from their checkpoint, as the official
//! scripts do; the last weights when no validation ran or the last update was the best),
//! with the final evaluation's window and batch, logging `final_valid` and `final_test`
//! lines; then the run's [`Summary`].

use sru_data::Split;

use crate::backend::TrainingBackend;
use crate::checkpoint;
use crate::config::TrainConfig;
use crate::devices::Ran;
use crate::error::TrainError;
use crate::eval::{EvalResult, EvalSpec};
use crate::events::{RunOptions, Summary};
use crate::inference::{Which, load_trained};
use crate::layout::CHECKPOINTS_DIR;
use crate::metrics::MetricLine;
use crate::start::Joined;

/// What the final evaluation scored: the update whose weights it used, and each split.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Finals {
    /// The update whose weights were scored (`None`: no final evaluation).
    pub step: Option<u64>,
    /// The full validation split.
    pub valid: Option<EvalResult>,
    /// The full test split.
    pub test: Option<EvalResult>,
}

/// The final evaluation on node 0, unless the run stopped on request or `config.final_eval`
/// is off (then nothing is scored); splits the corpus lacks are skipped.
///
/// # Errors
/// An unreadable best checkpoint; a failed evaluation or metrics line.
pub(crate) fn final_eval<B: TrainingBackend>(
    config: &TrainConfig,
    joined: &Joined,
    ran: &mut Ran<'_, B>,
    opts: &RunOptions<'_>,
) -> Result<Finals, TrainError> {
    let (mut final_valid, mut final_test, mut final_step) = (None, None, None);
    if !ran.interrupted && config.final_eval && joined.writes {
        let (train, lead) = (&ran.train, &mut ran.lead);
        let ckpt_root = opts.run_dir.join(CHECKPOINTS_DIR);
        let step = train.state().step;
        let best = lead.history.best.map(|b| b.step).filter(|&b| b != step);
        let (model, from) = match best {
            Some(b) if ckpt_root.join(checkpoint::folder_name(b)).is_dir() => {
                let dir = ckpt_root.join(checkpoint::folder_name(b));
                let t = load_trained::<B::InnerBackend>(&dir, Which::Best, train.device())?;
                (t.model, b)
            }
            _ => (train.inference_model(), step),
        };
        final_step = Some(from);
        for split in [Split::Valid, Split::Test] {
            if joined.cache.is_empty(split) {
                continue;
            }
            let spec = EvalSpec {
                split,
                batch: config.final_eval_batch_size,
                unroll: config.eval_unroll,
                max_tokens: None,
            };
            let r = lead.evaluate(&model, from, train.device(), &joined.cache, &spec)?;
            let name = format!("final_{}", split.name());
            let line =
                MetricLine::new(step, &name, r.loss, r.tokens, lead.elapsed()).with_flops(config);
            lead.log(line)?;
            match split {
                Split::Valid => final_valid = Some(r),
                _ => final_test = Some(r),
            }
        }
    }
    Ok(Finals {
        step: final_step,
        valid: final_valid,
        test: final_test,
    })
}

/// The run's summary: device 0's step and lead after training, and the final evaluation.
pub(crate) fn summary<B: TrainingBackend>(
    config: &TrainConfig,
    ran: Ran<'_, B>,
    finals: Finals,
) -> Summary {
    let Ran {
        train,
        lead,
        interrupted,
    } = ran;
    Summary {
        step: train.state().step,
        interrupted,
        last_valid: lead.last_valid,
        best: lead.history.best,
        final_step: finals.step,
        final_valid: finals.valid,
        final_test: finals.test,
        train_seconds: lead.train_seconds,
        train_tokens: lead.train_tokens,
        last_checkpoint: lead.last_checkpoint,
        paper_mismatch: config.paper_mismatch(),
    }
}
