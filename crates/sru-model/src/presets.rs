//! Named configurations: the paper's models (spec §3.4, the official scripts' defaults and
//! README commands) and small ones for the CPU.
//!
//! | preset | d | d' | attention | V | size |
//! |---|---|---|---|---|---|
//! | enwik8-base | 3072 | 768 | all 10 | 205 | 108M |
//! | enwik8-large | 4096 | 1024 | all 10 | 205 | 191M |
//! | wt103-base | 3072 | 768 | all 10 | 267,735 adaptive, tied | 148M |
//! | wt103-large | 4096 | 1024 | all 10 | 267,735 | 232M |
//! | wt103-large-k5 | 5952 | 744 | every 5th | 267,735 | 225M |
//! | bwb-base | 4096 | 1024 | all 10 | 793,471 adaptive, tables tied | 328M |
//! | bwb-large | 7616 | 1024 | every 5th | 793,471 | 465M |
//! | small | 256 | 64 | all 4 | 256 bytes | 0.43M |
//! | tiny | 64 | 16 | all 2 | 256 bytes | 0.04M |

use crate::adaptive::AdaptiveConfig;
use crate::config::ModelConfig;
use crate::error::ModelError;
use crate::srupp_lm::SruppLmConfig;
use crate::txl::TxlConfig;

/// Every preset name.
pub const PRESETS: [&str; 12] = [
    "enwik8-base",
    "enwik8-large",
    "wt103-base",
    "wt103-large",
    "wt103-large-k5",
    "bwb-base",
    "bwb-large",
    "small",
    "tiny",
    "txl-enwik8-base",
    "txl-small",
    "txl-tiny",
];

/// WikiText-103 vocabulary size of the official preparation.
pub const WT103_VOCAB: usize = 267_735;
/// One Billion Word vocabulary size (`1b_word_vocab.txt`).
pub const BWB_VOCAB: usize = 793_471;
/// enwik8 byte vocabulary (distinct byte values present).
pub const ENWIK8_VOCAB: usize = 205;

fn body(d: usize, dp: usize, dropout: f64, attn_dropout: f64) -> SruppLmConfig {
    SruppLmConfig {
        n_d: d,
        n_proj: dp,
        depth: 10,
        dropout,
        attn_dropout,
        ..Default::default()
    }
}

fn wt103(d: usize, dp: usize, dropout: f64) -> SruppLmConfig {
    SruppLmConfig {
        vocab_size: WT103_VOCAB,
        emb_dropout: dropout,
        adaptive: Some(AdaptiveConfig {
            cutoffs: vec![19_997, 39_997, 199_997],
            div_val: 4,
            n_e: 1024,
            tie_projections: true,
        }),
        ..body(d, dp, dropout, dropout)
    }
}

fn bwb(d: usize, dropout: f64) -> SruppLmConfig {
    SruppLmConfig {
        vocab_size: BWB_VOCAB,
        adaptive: Some(AdaptiveConfig {
            cutoffs: vec![59_998, 159_998],
            div_val: 4,
            n_e: 1024,
            tie_projections: false,
        }),
        ..body(d, 1024, dropout, 0.0)
    }
}

/// The configuration of a named preset.
///
/// # Errors
/// [`ModelError::Config`] for an unknown name, listing the known ones.
pub fn preset(name: &str) -> Result<ModelConfig, ModelError> {
    Ok(match name {
        "enwik8-base" => SruppLmConfig {
            vocab_size: ENWIK8_VOCAB,
            ..body(3072, 768, 0.22, 0.22)
        }
        .into(),
        "enwik8-large" => SruppLmConfig {
            vocab_size: ENWIK8_VOCAB,
            ..body(4096, 1024, 0.32, 0.32)
        }
        .into(),
        "wt103-base" => wt103(3072, 768, 0.15).into(),
        "wt103-large" => wt103(4096, 1024, 0.2).into(),
        "wt103-large-k5" => SruppLmConfig {
            attention_every_n_layers: 5,
            ..wt103(5952, 744, 0.2)
        }
        .into(),
        "bwb-base" => bwb(4096, 0.05).into(),
        "bwb-large" => SruppLmConfig {
            attention_every_n_layers: 5,
            ..bwb(7616, 0.1)
        }
        .into(),
        "small" => SruppLmConfig {
            vocab_size: 256,
            n_d: 256,
            n_proj: 64,
            depth: 4,
            ..Default::default()
        }
        .into(),
        "tiny" => SruppLmConfig {
            vocab_size: 256,
            n_d: 64,
            n_proj: 16,
            depth: 2,
            ..Default::default()
        }
        .into(),
        // run_enwik8_base.sh: 12 layers, d 512, 8 heads of 64, d_inner 2048, tgt/mem 512,
        // dropout 0.1, dropatt 0 (41M parameters)
        "txl-enwik8-base" => TxlConfig {
            vocab_size: ENWIK8_VOCAB,
            d_model: 512,
            n_layer: 12,
            n_head: 8,
            d_head: 64,
            d_inner: 2048,
            dropout: 0.1,
            dropatt: 0.0,
            mem_len: 512,
            ..TxlConfig::default()
        }
        .into(),
        // the CPU baseline of `small`: 4 layers like it, and its parameter count (±1%)
        "txl-small" => TxlConfig {
            vocab_size: 256,
            d_model: 96,
            n_layer: 4,
            n_head: 4,
            d_head: 24,
            d_inner: 288,
            dropout: 0.0,
            dropatt: 0.0,
            mem_len: 128,
            ..TxlConfig::default()
        }
        .into(),
        "txl-tiny" => TxlConfig {
            vocab_size: 256,
            d_model: 32,
            n_layer: 2,
            n_head: 2,
            d_head: 16,
            d_inner: 64,
            dropout: 0.0,
            dropatt: 0.0,
            mem_len: 32,
            ..TxlConfig::default()
        }
        .into(),
        other => {
            return Err(ModelError::config(
                "preset",
                format!(
                    "unknown preset `{other}`; known presets: {}",
                    PRESETS.join(", ")
                ),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paper's / README's sizes in millions (spec §3.4).
    #[test]
    fn presets_have_the_published_sizes() {
        for (name, millions) in [
            ("enwik8-base", 108.0),
            ("enwik8-large", 191.0),
            ("wt103-base", 148.0),
            ("wt103-large", 232.0),
            ("wt103-large-k5", 225.0),
            ("bwb-base", 328.0),
            ("bwb-large", 465.0),
        ] {
            let n = preset(name).unwrap().num_params() as f64 / 1e6;
            assert!(
                (n - millions).abs() < 0.5,
                "{name}: {n:.2}M, published {millions}M"
            );
        }
    }

    #[test]
    fn exact_counts_match_the_spec() {
        assert_eq!(preset("enwik8-base").unwrap().num_params(), 107_566_295);
        assert_eq!(preset("wt103-base").unwrap().num_params(), 147_676_036);
    }

    #[test]
    fn transformer_xl_presets_have_their_sizes() {
        // run_enwik8_base.sh's model is the 41M-parameter Transformer-XL of the paper's Table
        let base = preset("txl-enwik8-base").unwrap().num_params() as f64 / 1e6;
        assert!((base - 41.0).abs() < 0.5, "txl-enwik8-base: {base:.2}M");
        let (txl, srupp) = (
            preset("txl-small").unwrap().num_params() as f64,
            preset("small").unwrap().num_params() as f64,
        );
        assert!(
            (txl / srupp - 1.0).abs() < 0.02,
            "txl-small {txl} vs small {srupp}"
        );
    }

    #[test]
    fn unknown_preset_lists_the_known_ones() {
        let e = preset("gpt5").unwrap_err().to_string();
        assert!(e.contains("gpt5") && e.contains("enwik8-base"), "{e}");
    }
}
