//! `cargo xtask bench train-step`: the byte-level SRU++ LM at a given size, timed as a
//! training step (sru-train's step, as `cargo xtask train` runs it: forward, backward,
//! clipping, RAdam; state carried) and as an inference step (scoring under the evaluation
//! mask), medians after warm-up. With `--json` the last line is one JSON
//! object, so any harness (`benches/compare/`) can read it.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;
use sru_bench::{InferBench, LmShape, TrainBench, median_time, peak_rss_bytes, sgemm_gflops};
use sru_train::Precision;

use crate::backend::{BackendJob, BackendKind, dispatch};
use sru_train::TrainingBackend;

/// Benchmarks with a stable output.
#[derive(Debug, Args)]
pub struct Bench {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Training tokens/s of the byte-level LM through sru-train's step (as `train` runs it), and inference tokens/s.
    TrainStep(TrainStepArgs),
    /// The bare recurrence on the CPU (f32, k = 3): forward and forward+backward.
    Recurrence(RecurrenceArgs),
}

/// The recurrence size.
#[derive(Debug, Clone, Args)]
pub struct RecurrenceArgs {
    /// Units d.
    #[arg(long, default_value_t = 512)]
    d: usize,
    /// Length L.
    #[arg(long, default_value_t = 256)]
    unroll: usize,
    /// Batch B.
    #[arg(long, default_value_t = 4)]
    batch_size: usize,
    /// Timed runs (the median is reported).
    #[arg(long, default_value_t = 7)]
    iters: usize,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
}

impl RecurrenceArgs {
    fn run(self) -> Result<()> {
        use burn::backend::Flex;
        use burn::tensor::DType;
        use sru_bench::{CopyBaseline, Shape, gbps, prepare};
        let dev = Default::default();
        let shape = Shape {
            length: self.unroll,
            batch: self.batch_size,
            d: self.d,
        };
        let p = prepare::<Flex>(shape, DType::F32, &dev);
        let copy = CopyBaseline::<Flex>::new(3 * shape.elements(), DType::F32, &dev);
        let t_fwd = median_time(1, self.iters, || p.forward(&dev));
        let t_fb = median_time(1, self.iters, || p.forward_backward(&dev));
        let t_copy = median_time(1, self.iters, || copy.run(&dev));
        let n = shape.elements() as f64;
        let fwd_gbs = gbps(p.forward_bytes(), t_fwd);
        let copy_gbs = gbps(copy.bytes(), t_copy);
        eprintln!(
            "{}: forward {:.0} M elements/s ({fwd_gbs:.1} GB/s, {:.0}% of Burn's copy {copy_gbs:.1} GB/s), forward+backward {:.0} M elements/s",
            shape.label(),
            n / t_fwd.as_secs_f64() / 1e6,
            100.0 * fwd_gbs / copy_gbs,
            n / t_fb.as_secs_f64() / 1e6
        );
        if self.json {
            println!(
                "{}",
                json!({
                    "d": self.d, "unroll": self.unroll, "batch": self.batch_size,
                    "forward_elements_per_s": n / t_fwd.as_secs_f64(),
                    "forward_backward_elements_per_s": n / t_fb.as_secs_f64(),
                    "forward_gb_per_s": fwd_gbs,
                    "forward_backward_gb_per_s": gbps(p.forward_backward_bytes(), t_fb),
                    "burn_copy_gb_per_s": copy_gbs,
                })
            );
        }
        Ok(())
    }
}

/// The LM size and the measurement.
#[derive(Debug, Clone, Args)]
pub struct TrainStepArgs {
    /// Width d.
    #[arg(long, default_value_t = 512)]
    d: usize,
    /// Projection width d'.
    #[arg(long, default_value_t = 128)]
    proj: usize,
    /// Layers (all with attention).
    #[arg(long, default_value_t = 4)]
    layers: usize,
    /// Segment length L.
    #[arg(long, default_value_t = 256)]
    unroll: usize,
    /// Streams B.
    #[arg(long, default_value_t = 4)]
    batch_size: usize,
    /// Vocabulary (bytes).
    #[arg(long, default_value_t = 256)]
    vocab: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed steps (the median is reported).
    #[arg(long, default_value_t = 5)]
    iters: usize,
    /// Backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    backend: BackendKind,
    /// Which steps to time (one alone is handy under a profiler).
    #[arg(long, value_enum, default_value_t = Phase::Both)]
    phase: Phase,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
}

/// The steps `bench train-step` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Phase {
    /// Training, then inference.
    Both,
    /// Only the training step.
    Train,
    /// Only the inference step.
    Infer,
}

impl Bench {
    pub fn run(self) -> Result<()> {
        match self.what {
            What::TrainStep(a) => {
                let backend = a.backend;
                dispatch(backend, 1, a)
            }
            What::Recurrence(a) => a.run(),
        }
    }
}

impl BackendJob for TrainStepArgs {
    type Output = ();
    fn run<B: TrainingBackend>(self, devices: Vec<B::Device>) -> Result<()> {
        let device = &devices[0];
        let shape = LmShape {
            d: self.d,
            proj: self.proj,
            layers: self.layers,
            unroll: self.unroll,
            batch: self.batch_size,
            vocab: self.vocab,
        };
        let mut failed = None;
        let mut t_train = None;
        let mut rss_train = None;
        if self.phase != Phase::Infer {
            let mut train = TrainBench::<B>::synthetic(&shape, Precision::F32, device.clone())?;
            t_train = Some(median_time(self.warmup, self.iters, || {
                if let Err(e) = train.step() {
                    failed = Some(e);
                }
            }));
            rss_train = peak_rss_bytes();
        }
        let mut t_infer = None;
        if self.phase != Phase::Train {
            let mut infer = InferBench::<B::InnerBackend>::new(&shape, device)?;
            t_infer = Some(median_time(self.warmup, self.iters, || {
                if let Err(e) = infer.step() {
                    failed = Some(e);
                }
            }));
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        // The backend's own matrix-multiply rate, the ceiling of the projections.
        let sgemm = sgemm_gflops::<B::InnerBackend>(1024, device);
        let tokens = shape.tokens() as f64;
        let train_tps = t_train.map(|t| tokens / t.as_secs_f64());
        let infer_tps = t_infer.map(|t| tokens / t.as_secs_f64());
        let params = shape.model().num_params();
        let gflops = train_tps.map(|tps| tps * shape.train_flops_per_token() / 1e9);
        let mut line = format!("{}  ·  {params} parameters", shape.label());
        if let (Some(t), Some(tps), Some(g)) = (t_train, train_tps, gflops) {
            line += &format!(
                "  ·  train {:.1} ms/step {tps:.0} tokens/s ({g:.2} GFLOP/s)",
                t.as_secs_f64() * 1e3
            );
        }
        if let (Some(t), Some(tps)) = (t_infer, infer_tps) {
            line += &format!(
                "  ·  infer {:.1} ms/step {tps:.0} tokens/s",
                t.as_secs_f64() * 1e3
            );
        }
        eprintln!("{line}");
        match gflops {
            Some(g) => eprintln!(
                "backend sgemm 1024³: {sgemm:.1} GFLOP/s; the training step reaches {:.0}% of it",
                100.0 * g / sgemm
            ),
            None => eprintln!("backend sgemm 1024³: {sgemm:.1} GFLOP/s"),
        }
        if let Some(r) = rss_train {
            eprintln!(
                "peak resident memory (training): {:.1} MiB",
                r as f64 / 1048576.0
            );
        }
        let ms = |t: Option<std::time::Duration>| t.map(|t| t.as_secs_f64() * 1e3);
        if self.json {
            println!(
                "{}",
                json!({
                    "backend": format!("{:?}", self.backend).to_lowercase(),
                    "d": self.d, "proj": self.proj, "layers": self.layers,
                    "unroll": self.unroll, "batch": self.batch_size, "vocab": self.vocab,
                    "params": params,
                    "train_tokens_per_s": train_tps,
                    "infer_tokens_per_s": infer_tps,
                    "train_step_ms": ms(t_train),
                    "infer_step_ms": ms(t_infer),
                    "train_gflops": gflops,
                    "backend_sgemm_gflops": sgemm,
                    "peak_rss_bytes": rss_train,
                })
            );
        }
        Ok(())
    }
}
