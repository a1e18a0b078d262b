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

use crate::txl::TxlOptions;
use crate::adaptive::AdaptiveConfig;
use crate::error::ModelError;
use crate::lm::LmConfig;

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

fn body(d: usize, dp: usize, dropout: f64, attn_dropout: f64) -> LmConfig {
    LmConfig {
        n_d: d,
        n_proj: dp,
        depth: 10,
        dropout,
        attn_dropout,
        ..Default::default()
    }
}

fn wt103(d: usize, dp: usize, dropout: f64) -> LmConfig {
    LmConfig {
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

fn bwb(d: usize, dropout: f64) -> LmConfig {
    LmConfig {
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
pub fn preset(name: &str) -> Result<LmConfig, ModelError> {
    Ok(match name {
        "enwik8-base" => LmConfig {
            vocab_size: ENWIK8_VOCAB,
            ..body(3072, 768, 0.22, 0.22)
        },
        "enwik8-large" => LmConfig {
            vocab_size: ENWIK8_VOCAB,
            ..body(4096, 1024, 0.32, 0.32)
        },
        "wt103-base" => wt103(3072, 768, 0.15),
        "wt103-large" => wt103(4096, 1024, 0.2),
        "wt103-large-k5" => LmConfig {
            attention_every_n_layers: 5,
            ..wt103(5952, 744, 0.2)
        },
        "bwb-base" => bwb(4096, 0.05),
        "bwb-large" => LmConfig {
            attention_every_n_layers: 5,
            ..bwb(7616, 0.1)
        },
        "small" => LmConfig {
            vocab_size: 256,
            n_d: 256,
            n_proj: 64,
            depth: 4,
            ..Default::default()
        },
        "tiny" => LmConfig {
            vocab_size: 256,
            n_d: 64,
            n_proj: 16,
            depth: 2,
            ..Default::default()
        },
        // run_enwik8_base.sh: 12 layers, d 512, 8 heads of 64, d_inner 2048, tgt/mem 512,
        // dropout 0.1, dropatt 0 (41M parameters)
        "txl-enwik8-base" => LmConfig {
            vocab_size: ENWIK8_VOCAB,
            n_d: 512,
            depth: 12,
            num_heads: 8,
            dropout: 0.1,
            transformer_xl: Some(TxlOptions {
                d_head: 64,
                d_inner: 2048,
                mem_len: 512,
                ..TxlOptions::default()
            }),
            ..Default::default()
        },
        // the CPU baseline of `small`: 4 layers like it, and its parameter count (±1%)
        "txl-small" => LmConfig {
            vocab_size: 256,
            n_d: 96,
            depth: 4,
            num_heads: 4,
            transformer_xl: Some(TxlOptions {
                d_head: 24,
                d_inner: 288,
                mem_len: 128,
                ..TxlOptions::default()
            }),
            ..Default::default()
        },
        "txl-tiny" => LmConfig {
            vocab_size: 256,
            n_d: 32,
            depth: 2,
            num_heads: 2,
            transformer_xl: Some(TxlOptions {
                d_head: 16,
                d_inner: 64,
                mem_len: 32,
                ..TxlOptions::default()
            }),
            ..Default::default()
        },
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
        assert!((txl / srupp - 1.0).abs() < 0.02, "txl-small {txl} vs small {srupp}");
    }

    #[test]
    fn unknown_preset_lists_the_known_ones() {
        let e = preset("gpt5").unwrap_err().to_string();
        assert!(e.contains("gpt5") && e.contains("enwik8-base"), "{e}");
    }
}
