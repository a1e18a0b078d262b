//! [`ModelConfig`]: which architecture of the family a model is, with only that
//! architecture's settings. Saved in every run's `config.toml` and checkpoint as a table
//! tagged by `arch`:
//!
//! ```toml
//! [model]
//! arch = "srupp"            # or "transformer_xl"
//! vocab_size = 256
//! n_d = 256
//! ...
//! ```
//! Reading it ([`crate::read`]) also accepts a table without `arch`: a configuration written
//! before the family existed, converted on reading, so old runs and checkpoints still load.

use burn::tensor::backend::Backend;
use serde::Serialize;

use crate::adaptive::AdaptiveConfig;
use crate::error::ModelError;
use crate::model::LanguageModel;
use crate::srupp_lm::SruppLmConfig;
use crate::txl::TxlConfig;

/// The configuration of a model of the family, tagged by architecture (its `Deserialize`
/// is in [`crate::read`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "arch", rename_all = "snake_case")]
pub enum ModelConfig {
    /// An SRU++ language model (`arch = "srupp"`).
    Srupp(SruppLmConfig),
    /// The Transformer-XL baseline (`arch = "transformer_xl"`).
    TransformerXl(TxlConfig),
}

/// The `arch` names, in the order of [`ModelConfig`]'s variants.
pub const ARCHITECTURES: [&str; 2] = ["srupp", "transformer_xl"];

impl From<SruppLmConfig> for ModelConfig {
    fn from(c: SruppLmConfig) -> Self {
        ModelConfig::Srupp(c)
    }
}

impl From<TxlConfig> for ModelConfig {
    fn from(c: TxlConfig) -> Self {
        ModelConfig::TransformerXl(c)
    }
}

impl ModelConfig {
    /// The `arch` name of this configuration.
    pub fn arch(&self) -> &'static str {
        match self {
            ModelConfig::Srupp(_) => ARCHITECTURES[0],
            ModelConfig::TransformerXl(_) => ARCHITECTURES[1],
        }
    }

    /// The SRU++ configuration, if this is one.
    pub fn as_srupp(&self) -> Option<&SruppLmConfig> {
        match self {
            ModelConfig::Srupp(c) => Some(c),
            ModelConfig::TransformerXl(_) => None,
        }
    }

    /// The SRU++ configuration, mutably, if this is one.
    pub fn as_srupp_mut(&mut self) -> Option<&mut SruppLmConfig> {
        match self {
            ModelConfig::Srupp(c) => Some(c),
            ModelConfig::TransformerXl(_) => None,
        }
    }

    /// The Transformer-XL configuration, if this is one.
    pub fn as_transformer_xl(&self) -> Option<&TxlConfig> {
        match self {
            ModelConfig::TransformerXl(c) => Some(c),
            ModelConfig::Srupp(_) => None,
        }
    }

    /// The Transformer-XL configuration, mutably, if this is one.
    pub fn as_transformer_xl_mut(&mut self) -> Option<&mut TxlConfig> {
        match self {
            ModelConfig::TransformerXl(c) => Some(c),
            ModelConfig::Srupp(_) => None,
        }
    }

    /// Vocabulary size V.
    pub fn vocab_size(&self) -> usize {
        match self {
            ModelConfig::Srupp(c) => c.vocab_size,
            ModelConfig::TransformerXl(c) => c.vocab_size,
        }
    }

    /// Sets the vocabulary size V.
    pub fn set_vocab_size(&mut self, vocab_size: usize) {
        match self {
            ModelConfig::Srupp(c) => c.vocab_size = vocab_size,
            ModelConfig::TransformerXl(c) => c.vocab_size = vocab_size,
        }
    }

    /// Width of the hidden states (SRU++ `n_d`, Transformer-XL `d_model`).
    pub fn width(&self) -> usize {
        match self {
            ModelConfig::Srupp(c) => c.n_d,
            ModelConfig::TransformerXl(c) => c.d_model,
        }
    }

    /// Layers (SRU++ `depth`, Transformer-XL `n_layer`).
    pub fn depth(&self) -> usize {
        match self {
            ModelConfig::Srupp(c) => c.depth,
            ModelConfig::TransformerXl(c) => c.n_layer,
        }
    }

    /// The adaptive input and softmax of a word-level model; `None` for a dense (byte-level)
    /// one.
    pub fn adaptive(&self) -> Option<&AdaptiveConfig> {
        match self {
            ModelConfig::Srupp(c) => c.adaptive.as_ref(),
            ModelConfig::TransformerXl(c) => c.adaptive.as_ref(),
        }
    }

    /// Sets the dropouts of a training recipe: `dropout` (model level and inside the layers),
    /// `attn_dropout` (attention weights: SRU++ `attn_dropout`, Transformer-XL `dropatt`) and
    /// `emb_dropout` (SRU++'s adaptive embeddings; a Transformer-XL has none).
    pub fn set_dropouts(&mut self, dropout: f64, attn_dropout: f64, emb_dropout: f64) {
        match self {
            ModelConfig::Srupp(c) => {
                c.dropout = dropout;
                c.attn_dropout = attn_dropout;
                c.emb_dropout = emb_dropout;
            }
            ModelConfig::TransformerXl(c) => {
                c.dropout = dropout;
                c.dropatt = attn_dropout;
            }
        }
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`ModelError::Config`] naming the problem.
    pub fn validate(&self) -> Result<(), ModelError> {
        match self {
            ModelConfig::Srupp(c) => c.validate(),
            ModelConfig::TransformerXl(c) => c.validate(),
        }
    }

    /// Exact parameter count (tied parameters counted once).
    pub fn num_params(&self) -> usize {
        match self {
            ModelConfig::Srupp(c) => c.num_params(),
            ModelConfig::TransformerXl(c) => c.num_params(),
        }
    }

    /// Builds the model with its original initialisation (SRU++: the official scripts';
    /// Transformer-XL: its `train.py`'s).
    ///
    /// # Errors
    /// [`ModelError::Config`] when the options are inconsistent.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<LanguageModel<B>, ModelError> {
        Ok(match self {
            ModelConfig::Srupp(c) => LanguageModel::Srupp(c.init(device)?),
            ModelConfig::TransformerXl(c) => LanguageModel::TransformerXl(c.init(device)?),
        })
    }
}
