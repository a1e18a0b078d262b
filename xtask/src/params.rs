//! `cargo xtask params --preset <name>`: the exact parameter count of a preset, as a bare
//! integer on the last line (tied parameters counted once).

use anyhow::Result;
use clap::Args;
use sru_model::{PRESETS, preset};

/// Arguments of `cargo xtask params`.
#[derive(Debug, Args)]
pub struct Params {
    /// Preset name.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(PRESETS))]
    preset: String,
}

impl Params {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        let cfg = preset(&self.preset)?;
        let n = cfg.num_params();
        println!(
            "{}: d={} d'={} layers={} vocab={} ({:.1}M parameters)",
            self.preset,
            cfg.n_d,
            cfg.n_proj,
            cfg.depth,
            cfg.vocab_size,
            n as f64 / 1e6
        );
        println!("{n}");
        Ok(())
    }
}
