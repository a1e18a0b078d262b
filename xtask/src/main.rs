//! `cargo xtask`: the sru-rs command line.
//!
//! Each command lives in its own file with a `run(self) -> anyhow::Result<()>`; this file only
//! parses the arguments and dispatches. The only crate that prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod alloc;
mod backend;
mod bench;
mod bleu;
mod corpus;
mod data;
mod eval;
mod experiment;
mod generate;
mod gpu_check;
mod orchestrator;
mod params;
mod parity;
mod plot;
mod progress;
mod train;

use clap::{Parser, Subcommand};

/// The sru-rs command line.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    version,
    about = "SRU++ in Rust on Burn: training, parity and benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Train a language model (no arguments: SRU++ `small` on the bundled excerpt, CPU).
    Train(Box<train::Train>),
    /// SRU++ against a Transformer-XL of the same size under one compute budget.
    Experiment(experiment::Experiment),
    /// Benchmarks with stable output (`bench train-step --json`).
    Bench(bench::Bench),
    /// Score a split with a trained model: loss, bits per token, perplexity.
    Eval(eval::Eval),
    /// Continue a prompt with a trained model, streaming the text.
    Generate(generate::Generate),
    /// Check sru-rs against fixtures made by the official implementation (make_fixtures.py).
    Parity(parity::Parity),
    /// On a machine with an NVIDIA GPU: kernel checks and bandwidth benchmark on CUDA.
    GpuCheck(gpu_check::GpuCheck),
    /// Serve the orchestrator of multi-node training (`train --nodes N --orchestrator …`).
    Orchestrator(orchestrator::Orchestrator),
    /// Prepare a corpus into a token cache, or describe one.
    Data(data::Data),
    /// Print the exact parameter count of a model preset.
    Params(params::Params),
    /// Corpus BLEU of translations, equal to sacreBLEU 2.6.0 (13a or none, several references).
    Bleu(bleu::Bleu),
}

fn main() -> anyhow::Result<()> {
    alloc::keep_freed_memory();
    match Cli::parse().command {
        Command::Train(c) => (*c).run(),
        Command::Experiment(c) => c.run(),
        Command::Eval(c) => c.run(),
        Command::Bench(c) => c.run(),
        Command::Generate(c) => c.run(),
        Command::Parity(c) => c.run(),
        Command::GpuCheck(c) => c.run(),
        Command::Params(c) => c.run(),
        Command::Data(c) => c.run(),
        Command::Orchestrator(c) => c.run(),
        Command::Bleu(c) => c.run(),
    }
}
