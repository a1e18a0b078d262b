//! `cargo xtask train`: trains a language model (SRU++, or the Transformer-XL baseline with a
//! `txl-*` preset). With no arguments, the `small`
//! preset on the bundled Wikipedia excerpt on the CPU (a few minutes on 2 cores); with
//! `--preset enwik8-base --data <enwik8> --backend cuda` the paper's recipe.
//!
//! Writes `runs/<name>/`: `config.toml`, `checkpoints/`, `metrics.jsonl`, `curves.png`.
//! Ctrl-C (SIGINT) or SIGTERM finishes the current update, saves a checkpoint and exits 0;
//! `--resume <run>` continues it exactly where it stopped. `--nodes N --node-rank R
//! --orchestrator ws://HOST:PORT` trains together with the other nodes of a run
//! (`cargo xtask orchestrator`); node 0 writes the run folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use sru_data::{Split, TokenCache};
use sru_train::{
    NodeLink, Precision, RunOptions, Summary, TrainConfig, recipe, train, ws_host_port,
};

use crate::backend::{BackendJob, BackendKind, dispatch, ensure_available};
use crate::corpus;
use crate::plot;
use crate::progress::Renderer;
use sru_train::TrainingBackend;

/// Compute precision on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// float32.
    F32,
    /// float16 products as torch.cuda.amp (f32 weights, gradients, optimizer, LayerNorm,
    /// softmax and loss), dynamic loss scaling (GPU).
    F16,
    /// bfloat16 products, otherwise as f16, without loss scaling (GPU).
    Bf16,
}

/// Train a model (defaults: `small` preset, bundled excerpt, CPU).
#[derive(Debug, Args)]
pub struct Train {
    /// Model preset (see `cargo xtask params --preset`): small, tiny, enwik8-base, ….
    #[arg(long, default_value = "small")]
    preset: String,
    /// A full training config in TOML (as written into every run's `config.toml`);
    /// replaces the preset. Flags below still override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A prepared corpus folder, or a raw byte corpus (e.g. enwik8) to prepare on first use.
    /// Default: the bundled Wikipedia excerpt.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    backend: BackendKind,
    /// Devices for data-parallel training (the global batch is batch-size × devices ×
    /// accumulate; paper presets accumulate to the paper's global batch).
    #[arg(long)]
    devices: Option<usize>,
    /// Updates (the cosine schedule ends here).
    #[arg(long)]
    steps: Option<u64>,
    /// Streams per device.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Segment length of truncated back-propagation.
    #[arg(long)]
    unroll: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Warmup updates (capped at --steps).
    #[arg(long)]
    warmup: Option<u64>,
    /// Validate (and checkpoint) every N updates.
    #[arg(long)]
    eval_every: Option<u64>,
    /// Segments per update (gradient accumulation). Paper presets default to what reaches the
    /// paper's global batch (8 GPUs × batch per GPU) on the devices given.
    #[arg(long)]
    accumulate: Option<usize>,
    /// Compute precision (f16/bf16 on GPU backends).
    #[arg(long, value_enum)]
    precision: Option<PrecisionArg>,
    /// Seed of initialisation and dropout.
    #[arg(long)]
    seed: Option<u64>,
    /// Run folder (default: runs/<preset>, or runs/<preset>-2, … when taken).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this folder from its latest checkpoint.
    #[arg(long, conflicts_with_all = ["preset", "config", "out"])]
    resume: Option<PathBuf>,
    /// Skip the final full evaluation of valid and test.
    #[arg(long)]
    no_final_eval: bool,
    /// What `curves.png` is drawn against.
    #[arg(long, value_enum, default_value_t = plot::XAxis::Updates)]
    curves_x: plot::XAxis,
    #[command(flatten)]
    nodes: NodeArgs,
}

/// Training on several nodes (processes, usually machines), each with `--devices` devices.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// Nodes training together (the global batch is batch-size × devices × nodes ×
    /// accumulate). Start `cargo xtask orchestrator` first, then every node with the same
    /// arguments but its own --node-rank.
    #[arg(long, help_heading = "Several nodes")]
    nodes: Option<usize>,
    /// This node's rank, 0 to nodes − 1 (node 0 writes metrics and checkpoints).
    #[arg(long, default_value_t = 0, help_heading = "Several nodes")]
    node_rank: usize,
    /// The orchestrator, ws://HOST:PORT (`cargo xtask orchestrator --port PORT`).
    #[arg(long, help_heading = "Several nodes")]
    orchestrator: Option<String>,
    /// Where the other nodes reach this one's data service, ws://HOST:PORT (it listens on
    /// that port). Default with an orchestrator on 127.0.0.1 or localhost:
    /// ws://127.0.0.1:(orchestrator port + 1 + node rank).
    #[arg(long, help_heading = "Several nodes")]
    node_address: Option<String>,
    /// Seconds to wait for the other nodes in one exchange before stopping with an error
    /// naming the node that is gone (longer than a checkpoint takes to write).
    #[arg(long, default_value_t = 60.0, help_heading = "Several nodes")]
    node_timeout: f64,
    /// Seconds to wait for every node to join at the start.
    #[arg(long, default_value_t = 300.0, help_heading = "Several nodes")]
    join_timeout: f64,
}

impl NodeArgs {
    /// The link to the other nodes when the run spans several (`nodes` from the config).
    fn link(&self, nodes: usize) -> Result<Option<NodeLink>> {
        if nodes <= 1 {
            if self.orchestrator.is_some() || self.node_rank > 0 || self.node_address.is_some() {
                bail!("--node-rank, --orchestrator and --node-address need --nodes 2 or more");
            }
            return Ok(None);
        }
        let Some(orchestrator) = self.orchestrator.clone() else {
            bail!("--nodes {nodes} needs --orchestrator ws://HOST:PORT (cargo xtask orchestrator)");
        };
        let (host, port) = ws_host_port(&orchestrator)
            .with_context(|| format!("--orchestrator `{orchestrator}` is not ws://HOST:PORT"))?;
        let address = match &self.node_address {
            Some(a) => a.clone(),
            None if ["127.0.0.1", "localhost"].contains(&host) => {
                let p = usize::from(port) + 1 + self.node_rank;
                let p = u16::try_from(p).context("no free port number after the orchestrator's")?;
                format!("ws://127.0.0.1:{p}")
            }
            None => bail!(
                "give this node's address with --node-address ws://THIS_MACHINE:PORT (the \
                 orchestrator is not on this machine)"
            ),
        };
        for (flag, v) in [
            ("--node-timeout", self.node_timeout),
            ("--join-timeout", self.join_timeout),
        ] {
            if !(v.is_finite() && v > 0.0) {
                bail!("{flag} must be a positive number of seconds, got {v}");
            }
        }
        Ok(Some(NodeLink {
            node: self.node_rank,
            nodes,
            orchestrator,
            address,
            timeout: Duration::from_secs_f64(self.node_timeout),
            join_timeout: Duration::from_secs_f64(self.join_timeout),
        }))
    }
}

fn free_run_dir(preset: &str) -> PathBuf {
    let base = corpus::repo_root().join("runs");
    let mut dir = base.join(preset);
    let mut n = 2;
    while dir.exists() {
        dir = base.join(format!("{preset}-{n}"));
        n += 1;
    }
    dir
}

impl Train {
    /// Applies the flags a resumed run may change too: --steps, --devices, --nodes,
    /// --eval-every, --no-final-eval (in that order: --steps cuts the validation period to
    /// the run, --eval-every then sets it).
    fn override_run(&self, c: &mut TrainConfig) {
        if let Some(s) = self.steps {
            // Extend (or shorten) the run: the cosine then ends at the new total.
            c.set_steps(s);
        }
        if let Some(d) = self.devices {
            c.devices = d;
        }
        if let Some(n) = self.nodes.nodes {
            c.nodes = n;
        }
        if let Some(e) = self.eval_every {
            c.eval_every = e;
        }
        if self.no_final_eval {
            c.final_eval = false;
        }
    }

    /// The run's config and folder.
    fn plan(&self) -> Result<(TrainConfig, PathBuf, bool)> {
        if let Some(run) = &self.resume {
            let path = run.join(sru_train::config_file(self.nodes.node_rank));
            let mut c = TrainConfig::load(&path)
                .with_context(|| format!("{} is not a run folder to resume", run.display()))?;
            for (flag, given) in [
                ("--data", self.data.is_some()),
                ("--batch-size", self.batch_size.is_some()),
                ("--unroll", self.unroll.is_some()),
                ("--lr", self.lr.is_some()),
                ("--warmup", self.warmup.is_some()),
                ("--accumulate", self.accumulate.is_some()),
                ("--precision", self.precision.is_some()),
                ("--seed", self.seed.is_some()),
            ] {
                if given {
                    bail!("{flag} cannot change when resuming (the run continues as configured)");
                }
            }
            self.override_run(&mut c);
            return Ok((c, run.clone(), true));
        }
        let data = corpus::resolve(self.data.as_deref())?;
        let mut c = match &self.config {
            Some(path) => {
                let mut c = TrainConfig::load(path)?;
                if self.data.is_some() {
                    c.data = data;
                }
                c
            }
            None => recipe(&self.preset)?.config(data)?,
        };
        c.fit_vocabulary(&TokenCache::open(&c.data)?);
        self.override_run(&mut c);
        if let Some(v) = self.batch_size {
            c.batch_size = v;
        }
        if let Some(v) = self.unroll {
            c.unroll = v;
        }
        if let Some(v) = self.lr {
            c.lr = v;
        }
        if let Some(v) = self.warmup {
            c.warmup_steps = v.min(c.steps);
        }
        match self.accumulate {
            Some(v) => c.accumulate = v,
            None => {
                if let Some(chose) = c.match_paper_batch() {
                    eprintln!("{chose}");
                }
            }
        }
        if let Some(v) = self.precision {
            c.precision = match v {
                PrecisionArg::F32 => Precision::F32,
                PrecisionArg::F16 => Precision::F16,
                PrecisionArg::Bf16 => Precision::Bf16,
            };
        }
        if let Some(v) = self.seed {
            c.seed = v;
        }
        let name = c.preset.clone().unwrap_or_else(|| "run".into());
        let out = self.out.clone().unwrap_or_else(|| free_run_dir(&name));
        Ok((c, out, false))
    }

    /// Plans the run, trains it on the chosen backend with the progress display, then (on
    /// node 0) draws `curves.png` and prints the report.
    pub fn run(self) -> Result<()> {
        // Before the corpus is prepared: a backend that cannot run here fails at once.
        ensure_available(self.backend)?;
        let (config, run_dir, resume) = self.plan()?;
        if config.precision != Precision::F32 && self.backend == BackendKind::Cpu {
            bail!(
                "--precision f16/bf16 needs a GPU backend (--backend wgpu or cuda); the CPU trains in f32"
            );
        }
        config.validate()?;
        let link = self.nodes.link(config.nodes)?;
        let stop = stop_flag()?;
        let cache = TokenCache::open(&config.data)?;
        let unigram = cache.unigram_entropy(Split::Train);
        eprintln!(
            "run {}  ·  {} on {} ({} device{})",
            run_dir.display(),
            config.preset.as_deref().unwrap_or("custom model"),
            format!("{:?}", self.backend).to_lowercase(),
            config.devices,
            if config.devices == 1 { "" } else { "s" }
        );
        if let Some(l) = &link {
            eprintln!(
                "node {} of {}  ·  data service {}  ·  orchestrator {}  ·  {} devices in all",
                l.node,
                l.nodes,
                l.address,
                l.orchestrator,
                config.world()
            );
        }
        eprintln!(
            "data {}  ·  vocabulary {}  ·  train {} tokens  ·  unigram entropy {:.3} bits/token",
            config.data.display(),
            cache.vocab().len(),
            cache.len(Split::Train),
            unigram
        );
        drop(cache);
        let job = TrainJob {
            config: config.clone(),
            run_dir: run_dir.clone(),
            resume,
            stop: Arc::clone(&stop),
            link,
        };
        let result = dispatch(self.backend, config.devices, job);
        if self.nodes.node_rank > 0 {
            // Node 0 keeps the metrics, checkpoints and curves of the run.
            let summary = result?;
            eprintln!();
            eprintln!(
                "node {} finished {} updates{}; node 0 holds the metrics and checkpoints",
                self.nodes.node_rank,
                summary.step,
                if summary.interrupted {
                    " (interrupted)"
                } else {
                    ""
                }
            );
            return Ok(());
        }
        // The plot reflects whatever was logged, also after an interruption or an error.
        if let Err(e) = plot::curves_against(&run_dir, self.curves_x) {
            eprintln!("warning: could not draw the curves: {e:#}");
        }
        let summary = result?;
        report(&run_dir, &summary, unigram);
        Ok(())
    }
}

/// Trains `config` into `run_dir` (resuming it when `resume`) on the CPU, with the progress
/// display and `curves.png`, as `cargo xtask train` does.
pub fn run_config(config: TrainConfig, run_dir: PathBuf, resume: bool) -> Result<Summary> {
    config.validate()?;
    let stop = stop_flag()?;
    let job = TrainJob {
        config: config.clone(),
        run_dir: run_dir.clone(),
        resume,
        stop,
        link: None,
    };
    let result = dispatch(BackendKind::Cpu, config.devices, job);
    if let Err(e) = plot::curves_against(&run_dir, plot::XAxis::Flops) {
        eprintln!("warning: could not draw the curves: {e:#}");
    }
    result
}

/// The stop flag of a run: set by SIGINT or SIGTERM, after which the run finishes its update,
/// saves a checkpoint and returns; a second signal while the first is being handled ends the
/// process at once (exit status 130).
fn stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while the first is being handled ends the process at once.
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
}

/// One call of [`train`], run on the backend [`dispatch`] picks.
struct TrainJob {
    config: TrainConfig,
    run_dir: PathBuf,
    resume: bool,
    stop: Arc<AtomicBool>,
    link: Option<NodeLink>,
}

impl BackendJob for TrainJob {
    type Output = Summary;
    fn run<B: TrainingBackend>(self, devices: Vec<B::Device>) -> Result<Summary> {
        let opts = RunOptions {
            run_dir: self.run_dir,
            resume: self.resume,
            stop: &self.stop,
            link: self.link,
        };
        let mut renderer = Renderer::new(&self.config);
        let out = train::<B>(&self.config, &devices, &opts, &mut |e| renderer.event(&e));
        renderer.finish();
        Ok(out?)
    }
}

/// Prints what a finished (or interrupted) run did: updates, time, best and final bits.
pub fn report(run_dir: &Path, s: &Summary, unigram: f64) {
    let bits = |loss: f64| sru_model::bits_per_character(loss);
    eprintln!();
    if s.interrupted {
        eprintln!(
            "interrupted after update {}; continue with: cargo xtask train --resume {}",
            s.step,
            run_dir.display()
        );
    } else {
        eprintln!("finished {} updates", s.step);
    }
    if s.train_seconds > 0.0 {
        eprintln!(
            "training time {:.1} s, {:.0} tokens/s",
            s.train_seconds,
            s.train_tokens as f64 / s.train_seconds
        );
    }
    if let Some(m) = &s.paper_mismatch {
        eprintln!("note: {m}");
    }
    if let Some(b) = s.best {
        eprintln!(
            "best valid (periodic): {:.4} bits/token at update {}",
            bits(b.loss),
            b.step
        );
    }
    if let Some(step) = s.final_step
        && s.final_valid.or(s.final_test).is_some()
    {
        eprintln!("final evaluation with the weights of update {step} (best on validation)");
    }
    for (name, r) in [("valid", s.final_valid), ("test", s.final_test)] {
        if let Some(r) = r {
            eprintln!(
                "final {name}: loss {:.4}  ·  {:.4} bits/token  ·  perplexity {:.2}  ({} tokens, {:.1} s)",
                r.loss,
                bits(r.loss),
                r.loss.exp(),
                r.tokens,
                r.seconds
            );
        }
    }
    eprintln!("unigram entropy of the training data: {unigram:.4} bits/token");
    if let Some(p) = &s.last_checkpoint {
        eprintln!("last checkpoint: {}", p.display());
    }
    eprintln!(
        "metrics: {}  ·  curves: {}",
        run_dir.join(sru_train::metrics::METRICS_FILE).display(),
        run_dir.join(plot::CURVES_FILE).display()
    );
}
