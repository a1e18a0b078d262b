//! `cargo xtask params --preset <name>`: the exact parameter count of a preset, as a bare
//! integer on the last line (tied parameters counted once).

use anyhow::Result;
use clap::Args;
use sru_model::{ModelConfig, PRESETS, preset};

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
        let shape = match &cfg {
            ModelConfig::Srupp(c) => format!("d={} d'={}", c.n_d, c.n_proj),
            ModelConfig::TransformerXl(c) => format!(
                "d={} heads={}x{} d_inner={}",
                c.d_model, c.n_head, c.d_head, c.d_inner
            ),
        };
        println!(
            "{}: {} {shape} layers={} vocab={} ({:.1}M parameters)",
            self.preset,
            cfg.arch(),
            cfg.depth(),
            cfg.vocab_size(),
            n as f64 / 1e6
        );
        println!("{n}");
        Ok(())
    }
}
