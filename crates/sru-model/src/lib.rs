//! # sru-model
//!
//! The SRU++ layers and language models of Lei (2021), number for number the official
//! `sru==3.0.0.dev6` code, on any Burn backend with [`sru_kernel`]'s recurrence.
//!
//! - [`SruppAttention`] / [`ProjectedLinear`] produce U; [`SruppCell`] runs the recurrence;
//!   [`Srupp`] stacks layers with attention every n-th or in the last n layers.
//! - [`LanguageModel`], the model family: an SRU++ LM ([`SruppLm`]) byte-level (enwik8) or
//!   word-level with adaptive input and softmax (WikiText-103, Billion Word), or the
//!   Transformer-XL baseline ([`TransformerXl`], kimiyoung/transformer-xl's
//!   `MemTransformerLM`), built from a [`ModelConfig`] (tagged by `arch`: an
//!   [`SruppLmConfig`] or a [`TxlConfig`]) or a named [`preset`]. Every method is one `match`
//!   over the architectures; [`head`](LmOutput) holds what they share.
//! - [`flops`]: training FLOPs per token of either architecture.
//! - The carried state ([`LmState`]: c per layer + attention memory) is a value the
//!   caller owns; [`Decoder`] decodes incrementally with it, and [`Sampler`] draws the next
//!   token (temperature, top-k, top-p, seeded).
//! - [`weights`]: official state_dict names, `.pt` and `.safetensors` import, export.
//!
//! Layout is time-major: tokens `(L, B)`, activations `(L, B, D)`.
//!
//! ```
//! use burn::backend::Flex;
//! use burn::tensor::{Int, Tensor};
//! use sru_model::preset;
//!
//! let dev = Default::default();
//! let model = preset("tiny").unwrap().init::<Flex>(&dev).unwrap();
//! let tokens = Tensor::<Flex, 2, Int>::zeros([8, 2], &dev); // (L, B)
//! let (loss, state) = model.loss(tokens.clone(), tokens, None, None).unwrap();
//! assert!(loss.into_scalar() > 0.0);
//! assert_eq!(state.c.unwrap().dims(), [2, 2, 64]);
//! ```
#![deny(missing_docs)]

mod adaptive;
mod attention;
mod autocast;
mod cell;
mod config;
mod error;
pub mod flops;
mod generate;
mod head;
mod init;
mod linear;
mod mask;
mod model;
mod presets;
mod projected;
mod read;
mod sample;
mod srupp;
mod srupp_lm;
mod state;
pub mod txl;
pub mod weights;

pub use adaptive::{AdaptiveConfig, AdaptiveInput, AdaptiveSoftmax};
pub use attention::{AttentionMasks, SruppAttention, SruppAttentionConfig};
pub use autocast::{Autocast, full};
pub use cell::{SruppCell, SruppCellConfig, TransformModule};
pub use config::{ARCHITECTURES, ModelConfig};
pub use error::ModelError;
pub use generate::Decoder;
pub use head::{LmOutput, bits_per_character, perplexity};
pub use mask::{MASKED, attention_mask};
pub use model::LanguageModel;
pub use presets::{BWB_VOCAB, ENWIK8_VOCAB, PRESETS, WT103_VOCAB, preset};
pub use projected::{ProjectedLinear, ProjectedLinearConfig};
pub use sample::{Sampler, SamplingConfig};
pub use srupp::{Srupp, SruppConfig, SruppOutput};
pub use srupp_lm::{InputLayer, OutputLayer, SruppLm, SruppLmConfig};
pub use state::LmState;
pub use txl::{TransformerXl, TxlConfig};
