//! `cargo xtask orchestrator --port P`: serves the orchestrator that introduces the nodes of a
//! multi-node run (`cargo xtask train --nodes N --orchestrator ws://HOST:P`) to one another.
//! It carries no training data; one serves any number of runs, one after the other. Stop it
//! with Ctrl-C.

use anyhow::Result;
use clap::Args;

/// Serve the multi-node orchestrator.
#[derive(Debug, Args)]
pub struct Orchestrator {
    /// Port to listen on (every interface).
    #[arg(long, default_value_t = 3000)]
    port: u16,
}

impl Orchestrator {
    pub fn run(self) -> Result<()> {
        eprintln!(
            "orchestrator on port {} (nodes join with --orchestrator ws://THIS_MACHINE:{}); Ctrl-C stops it",
            self.port, self.port
        );
        sru_train::run_orchestrator(self.port)?;
        eprintln!("orchestrator stopped");
        Ok(())
    }
}
