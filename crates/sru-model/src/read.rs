//! How a [`ModelConfig`] is read: a table tagged by `arch`, each architecture's settings
//! checked by its own config (unknown settings refused, naming the architecture); or, without
//! `arch`, the layout runs wrote before the model family existed: one flat table for both
//! architectures (SRU++'s flags), a Transformer-XL marked by a `transformer_xl` sub-table
//! whose model reused `n_d` as `d_model`, `depth` as `n_layer`, `num_heads` as `n_head` and
//! `attn_dropout` as `dropatt`. That layout is converted at once; nothing writes it.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::adaptive::AdaptiveConfig;
use crate::config::{ARCHITECTURES, ModelConfig};
use crate::srupp_lm::SruppLmConfig;
use crate::txl::TxlConfig;

/// The old flat model table (all fields of the SRU++ configuration, plus the optional
/// Transformer-XL sub-table).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LegacyLmConfig {
    vocab_size: usize,
    n_d: usize,
    n_proj: usize,
    depth: usize,
    dropout: f64,
    attn_dropout: f64,
    emb_dropout: f64,
    num_heads: usize,
    layer_norm: bool,
    highway_bias: f64,
    attention_every_n_layers: usize,
    attention_last_n_layers: Option<usize>,
    adaptive: Option<AdaptiveConfig>,
    transformer_xl: Option<LegacyTxlOptions>,
}

impl Default for LegacyLmConfig {
    fn default() -> Self {
        let s = SruppLmConfig::default();
        Self {
            vocab_size: s.vocab_size,
            n_d: s.n_d,
            n_proj: s.n_proj,
            depth: s.depth,
            dropout: s.dropout,
            attn_dropout: s.attn_dropout,
            emb_dropout: s.emb_dropout,
            num_heads: s.num_heads,
            layer_norm: s.layer_norm,
            highway_bias: s.highway_bias,
            attention_every_n_layers: s.attention_every_n_layers,
            attention_last_n_layers: s.attention_last_n_layers,
            adaptive: s.adaptive,
            transformer_xl: None,
        }
    }
}

/// The old `transformer_xl` sub-table, with its old defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LegacyTxlOptions {
    d_head: usize,
    d_inner: usize,
    mem_len: usize,
    pre_lnorm: bool,
    same_length: bool,
    clamp_len: Option<usize>,
}

impl Default for LegacyTxlOptions {
    fn default() -> Self {
        Self {
            d_head: 64,
            d_inner: 2048,
            mem_len: 512,
            pre_lnorm: false,
            same_length: false,
            clamp_len: None,
        }
    }
}

impl LegacyLmConfig {
    /// The same model in the tagged layout.
    fn upgrade(self) -> ModelConfig {
        let c = self;
        match c.transformer_xl {
            Some(t) => ModelConfig::TransformerXl(TxlConfig {
                vocab_size: c.vocab_size,
                d_model: c.n_d,
                n_layer: c.depth,
                n_head: c.num_heads,
                d_head: t.d_head,
                d_inner: t.d_inner,
                dropout: c.dropout,
                dropatt: c.attn_dropout,
                mem_len: t.mem_len,
                pre_lnorm: t.pre_lnorm,
                same_length: t.same_length,
                clamp_len: t.clamp_len,
                adaptive: c.adaptive,
            }),
            None => ModelConfig::Srupp(SruppLmConfig {
                vocab_size: c.vocab_size,
                n_d: c.n_d,
                n_proj: c.n_proj,
                depth: c.depth,
                dropout: c.dropout,
                attn_dropout: c.attn_dropout,
                emb_dropout: c.emb_dropout,
                num_heads: c.num_heads,
                layer_norm: c.layer_norm,
                highway_bias: c.highway_bias,
                attention_every_n_layers: c.attention_every_n_layers,
                attention_last_n_layers: c.attention_last_n_layers,
                adaptive: c.adaptive,
            }),
        }
    }
}

impl<'de> Deserialize<'de> for ModelConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut table = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let arch = match table.remove("arch") {
            None => {
                let legacy: LegacyLmConfig = serde_json::from_value(table.into()).map_err(|e| {
                    D::Error::custom(format!(
                        "{e} (this model table has no `arch`, so it was read in the layout of \
                         older runs; to convert it by hand, add `arch = \"srupp\"` or \
                         `arch = \"transformer_xl\"` and that architecture's settings, as \
                         `cargo xtask train` writes them in config.toml)"
                    ))
                })?;
                return Ok(legacy.upgrade());
            }
            Some(serde_json::Value::String(arch)) => arch,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "`arch` must be one of {ARCHITECTURES:?}, got {other}"
                )));
            }
        };
        let body = serde_json::Value::Object(table);
        let parsed = match arch.as_str() {
            "srupp" => serde_json::from_value(body).map(ModelConfig::Srupp),
            "transformer_xl" => serde_json::from_value(body).map(ModelConfig::TransformerXl),
            other => {
                return Err(D::Error::custom(format!(
                    "unknown model architecture `arch = \"{other}\"`; known: {}",
                    ARCHITECTURES.join(", ")
                )));
            }
        };
        parsed.map_err(|e| D::Error::custom(format!("model (arch = \"{arch}\"): {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset;

    #[test]
    fn an_old_srupp_table_reads_as_the_srupp_arch() {
        let old = r#"{"vocab_size": 256, "n_d": 256, "n_proj": 64, "depth": 4, "dropout": 0.0,
            "attn_dropout": 0.0, "emb_dropout": 0.0, "num_heads": 1, "layer_norm": false,
            "highway_bias": -2.0, "attention_every_n_layers": 1}"#;
        let c: ModelConfig = serde_json::from_str(old).unwrap();
        assert_eq!(c, preset("small").unwrap());
    }

    #[test]
    fn an_old_transformer_xl_table_reads_as_the_transformer_xl_arch() {
        let old = r#"{"vocab_size": 256, "n_d": 96, "n_proj": 64, "depth": 4, "dropout": 0.0,
            "attn_dropout": 0.0, "emb_dropout": 0.0, "num_heads": 4, "layer_norm": false,
            "highway_bias": -2.0, "attention_every_n_layers": 1,
            "transformer_xl": {"d_head": 24, "d_inner": 288, "mem_len": 128,
                               "pre_lnorm": false, "same_length": false}}"#;
        let c: ModelConfig = serde_json::from_str(old).unwrap();
        assert_eq!(c, preset("txl-small").unwrap());
    }

    #[test]
    fn an_old_table_with_a_typo_says_how_to_convert() {
        let e = serde_json::from_str::<ModelConfig>(r#"{"n_dd": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("n_dd") && e.contains("arch = \"srupp\""), "{e}");
    }

    #[test]
    fn every_preset_round_trips_through_its_tagged_table() {
        for name in crate::PRESETS {
            let c = preset(name).unwrap();
            let json = serde_json::to_value(&c).unwrap();
            assert_eq!(json["arch"], c.arch(), "{name}");
            let back: ModelConfig = serde_json::from_value(json).unwrap();
            assert_eq!(back, c, "{name}");
        }
    }

    #[test]
    fn settings_of_another_architecture_are_refused() {
        let e = serde_json::from_str::<ModelConfig>(r#"{"arch": "srupp", "d_inner": 64}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("d_inner") && e.contains("srupp"), "{e}");
        let e = serde_json::from_str::<ModelConfig>(r#"{"arch": "transformer_xl", "n_proj": 64}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("n_proj"), "{e}");
    }

    #[test]
    fn unknown_architecture_lists_the_known_ones() {
        let e = serde_json::from_str::<ModelConfig>(r#"{"arch": "gpt"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("gpt") && e.contains("transformer_xl"), "{e}");
    }
}
