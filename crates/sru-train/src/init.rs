//! Stage 2 of [`crate::train`]: what the run starts from. A new run initialises the model
//! from the seed and a fresh optimizer; a resumed one reads them, the data cursor, the loss
//! scale, every device's carried state and the run's history from the latest checkpoint
//! (node 0's, on every node). Node 0 rewrites `metrics.jsonl` to match, the other nodes
//! remove their copy of node 0's checkpoint once read; every node writes its config
//! ([`crate::config_file`]) and the run reports [`Event::Started`].

use sru_data::Cursor;
use sru_model::LanguageModel;
use sru_model::weights::StateDict;

use crate::backend::TrainingBackend;
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::events::{Event, RunOptions};
use crate::layout::config_file;
use crate::metrics;
use crate::precision::LossScale;
use crate::replica::StartPoint;
use crate::resume::{History, resume};
use crate::start::Joined;
use crate::step::{Optim, initial_model, optimizer};

/// What the run starts from on this node: device 0's model and optimizer, where every
/// device starts, the run's history so far, and the model's parameter count.
pub(crate) struct Init<B: TrainingBackend> {
    /// Device 0's model (the others get copies).
    pub model: LanguageModel<B>,
    /// Its optimizer.
    pub optim: Optim<B>,
    /// Where every device starts.
    pub start: StartPoint,
    /// The metrics lines, best validation, earlier sessions' seconds and open window.
    pub history: History,
    /// Parameters of the model.
    pub params: usize,
}

/// The model, optimizer and starting point of the run on `device`: initialised from the
/// seed, or read from `joined.resume_dir` when `opts.resume`; the run folder's metrics and
/// config file written to match; [`Event::Started`] reported.
///
/// # Errors
/// An invalid model configuration; a checkpoint that is unreadable or made for another
/// model or device count; I/O failures.
pub(crate) fn init_or_resume<B: TrainingBackend>(
    config: &TrainConfig,
    joined: &Joined,
    opts: &RunOptions<'_>,
    device: &B::Device,
    on_event: &mut dyn FnMut(Event),
) -> Result<Init<B>, TrainError> {
    let run_dir = &opts.run_dir;
    // The model: initialised from the seed, or the latest checkpoint's weights.
    let mut model = initial_model::<B>(config, device)?;
    let mut optim = optimizer::<B>(config);
    let mut start = StartPoint {
        step: 0,
        cursor: Cursor::default(),
        loss_scale: LossScale::for_precision(config.precision),
        carry: StateDict::new(),
    };
    let mut history = History::default();
    let mut resumed_from = None;
    if let Some(dir) = joined.resume_dir.as_deref().filter(|_| opts.resume) {
        let r = resume(dir, config, model, optim, device)?;
        (model, optim) = (r.model, r.optim);
        start = StartPoint {
            step: r.state.step,
            cursor: r.state.cursor,
            loss_scale: r.state.loss_scale,
            carry: r.carry,
        };
        if joined.writes {
            metrics::rewrite(run_dir, &r.state.metrics)?;
            resumed_from = Some(r.from);
        } else {
            // The copy of node 0's checkpoint has served.
            let scratch = &joined.scratch;
            std::fs::remove_dir_all(scratch).map_err(TrainError::io(scratch))?;
        }
        history = History {
            metrics: r.state.metrics,
            best: r.state.best,
            elapsed_s: r.state.elapsed_s,
            window: r.state.window,
        };
    } else if joined.writes {
        metrics::rewrite(run_dir, &[])?;
    }
    let config_path = run_dir.join(config_file(joined.node));
    std::fs::write(&config_path, config.to_toml()).map_err(TrainError::io(&config_path))?;

    let params = config.model.num_params();
    on_event(Event::Started {
        params,
        tokens_per_step: config.tokens_per_step(),
        start_step: start.step,
        steps: config.steps,
        resumed_from,
    });
    Ok(Init {
        model,
        optim,
        start,
        history,
        params,
    })
}
