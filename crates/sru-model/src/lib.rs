//! # sru-model
//!
//! The SRU++ layers and language models of Lei (2021), number for number the official
//! `sru==3.0.0.dev6` code, on any Burn backend with [`sru_kernel`]'s recurrence.
//!
//! - [`SruppAttention`] / [`ProjectedLinear`] produce U; [`SruppCell`] runs the recurrence;
//!   [`Srupp`] stacks layers with attention every n-th or in the last n layers.
//! - [`LanguageModel`]: an SRU++ LM ([`SruppLm`]) byte-level (enwik8) or word-level with
//!   adaptive input and softmax (WikiText-103, Billion Word), or the Transformer-XL baseline
//!   ([`TransformerXl`], kimiyoung/transformer-xl's `MemTransformerLM`), built from an
//!   [`LmConfig`] or a named [`preset`]; [`SegmentModel`] is the interface they share.
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
mod error;
mod generate;
mod init;
mod linear;
pub mod flops;
mod lm;
mod mask;
mod model;
mod presets;
mod projected;
mod sample;
mod srupp;
mod state;
pub mod txl;
pub mod weights;

pub use adaptive::{AdaptiveConfig, AdaptiveInput, AdaptiveSoftmax};
pub use attention::{AttentionMasks, SruppAttention, SruppAttentionConfig};
pub use autocast::{Autocast, full};
pub use cell::{SruppCell, SruppCellConfig, TransformModule};
pub use error::ModelError;
pub use generate::Decoder;
pub use lm::{
    InputLayer, LmConfig, LmOutput, OutputLayer, SruppLm, bits_per_character, perplexity,
};
pub use model::{LanguageModel, SegmentModel};
pub use txl::{TransformerXl, TxlOptions};
pub use mask::{MASKED, attention_mask};
pub use presets::{BWB_VOCAB, ENWIK8_VOCAB, PRESETS, WT103_VOCAB, preset};
pub use projected::{ProjectedLinear, ProjectedLinearConfig};
pub use sample::{Sampler, SamplingConfig};
pub use srupp::{Srupp, SruppConfig, SruppOutput};
pub use state::LmState;

use burn::tensor::{TensorData, backend::Backend};
use weights::{OfficialWeights, StateDict};

fn scale_buffers<B: Backend>(srupp: &Srupp<B>, prefix: &str) -> StateDict {
    srupp
        .rnn_lst
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            (
                format!("{prefix}rnn_lst.{i}.scale_x"),
                TensorData::new(vec![cell.scale_x as f32], [1]),
            )
        })
        .collect()
}

fn set_scale_buffers<B: Backend>(srupp: &mut Srupp<B>, prefix: &str, buffers: &StateDict) {
    for (i, cell) in srupp.rnn_lst.iter_mut().enumerate() {
        if let Some(v) = buffers.get(&format!("{prefix}rnn_lst.{i}.scale_x"))
            && let Some(&x) = v
                .clone()
                .convert::<f64>()
                .to_vec::<f64>()
                .unwrap_or_default()
                .first()
        {
            cell.scale_x = x;
        }
    }
}

impl<B: Backend> OfficialWeights<B> for Srupp<B> {
    fn buffers(&self) -> StateDict {
        scale_buffers(self, "")
    }

    fn set_buffers(&mut self, buffers: &StateDict) {
        set_scale_buffers(self, "", buffers);
    }
}

impl<B: Backend> OfficialWeights<B> for SruppLm<B> {
    fn buffers(&self) -> StateDict {
        scale_buffers(&self.rnn, "rnn.")
    }

    fn set_buffers(&mut self, buffers: &StateDict) {
        set_scale_buffers(&mut self.rnn, "rnn.", buffers);
    }

    fn tied_duplicates(&self) -> Vec<(String, String)> {
        match (&self.embedding_layer, &self.output_layer) {
            (InputLayer::Adaptive(a), OutputLayer::Adaptive(s)) if a.emb_projs.is_empty() => {
                (0..s.out_projs.len())
                    .map(|i| {
                        (
                            format!("embedding_layer.emb_projs.{i}"),
                            format!("output_layer.out_projs.{i}"),
                        )
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

impl<B: Backend> OfficialWeights<B> for TransformerXl<B> {
    /// `pos_emb.inv_freq`, as the original's buffer.
    fn buffers(&self) -> StateDict {
        let f = txl::inv_freq(self.d_model);
        let n = f.len();
        StateDict::from([("pos_emb.inv_freq".to_string(), TensorData::new(f, [n]))])
    }

    fn set_buffers(&mut self, _buffers: &StateDict) {}

    /// The output weight `crit.out_layers.0.weight` is the embedding table.
    fn tied_duplicates(&self) -> Vec<(String, String)> {
        match self.crit {
            txl::TxlOutput::Dense(_) => vec![(
                "crit.out_layers.0.weight".to_string(),
                "word_emb.emb_layers.0.weight".to_string(),
            )],
            txl::TxlOutput::Adaptive(_) => Vec::new(),
        }
    }

    /// The feed-forward products are `CoreNet.0` and `CoreNet.3` of an `nn.Sequential`.
    fn renames(&self) -> Vec<(String, String)> {
        vec![
            ("pos_ff.core_net.inner.".into(), "pos_ff.CoreNet.0.".into()),
            ("pos_ff.core_net.outer.".into(), "pos_ff.CoreNet.3.".into()),
        ]
    }
}

impl<B: Backend> OfficialWeights<B> for LanguageModel<B> {
    fn buffers(&self) -> StateDict {
        match self {
            LanguageModel::Srupp(m) => m.buffers(),
            LanguageModel::TransformerXl(m) => m.buffers(),
        }
    }

    fn set_buffers(&mut self, buffers: &StateDict) {
        match self {
            LanguageModel::Srupp(m) => m.set_buffers(buffers),
            LanguageModel::TransformerXl(m) => m.set_buffers(buffers),
        }
    }

    fn tied_duplicates(&self) -> Vec<(String, String)> {
        match self {
            LanguageModel::Srupp(m) => m.tied_duplicates(),
            LanguageModel::TransformerXl(m) => m.tied_duplicates(),
        }
    }

    fn renames(&self) -> Vec<(String, String)> {
        match self {
            LanguageModel::Srupp(m) => m.renames(),
            LanguageModel::TransformerXl(m) => m.renames(),
        }
    }
}
