//! # sru-model
//!
//! The SRU++ layers and language models of Lei (2021), number for number the official
//! `sru==3.0.0.dev6` code, on any Burn backend with [`sru_kernel`]'s recurrence.
//!
//! - [`SruppAttention`] / [`ProjectedLinear`] produce U; [`SruppCell`] runs the recurrence;
//!   [`Srupp`] stacks layers with attention every n-th or in the last n layers.
//! - [`LanguageModel`]: byte-level (enwik8) or word-level with adaptive input and softmax
//!   (WikiText-103, Billion Word), built from an [`LmConfig`] or a named [`preset`].
//! - The recurrent state ([`SruppState`]: c per layer + attention memory) is a value the
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
//! assert_eq!(state.c.dims(), [2, 2, 64]);
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
mod lm;
mod mask;
mod presets;
mod projected;
mod sample;
mod srupp;
mod state;
pub mod weights;

pub use adaptive::{AdaptiveConfig, AdaptiveInput, AdaptiveSoftmax};
pub use attention::{AttentionMasks, SruppAttention, SruppAttentionConfig};
pub use autocast::{Autocast, full};
pub use cell::{SruppCell, SruppCellConfig, TransformModule};
pub use error::ModelError;
pub use generate::Decoder;
pub use lm::{
    InputLayer, LanguageModel, LmConfig, LmOutput, OutputLayer, bits_per_character, perplexity,
};
pub use mask::{MASKED, attention_mask};
pub use presets::{BWB_VOCAB, ENWIK8_VOCAB, PRESETS, WT103_VOCAB, preset};
pub use projected::{ProjectedLinear, ProjectedLinearConfig};
pub use sample::{Sampler, SamplingConfig};
pub use srupp::{Srupp, SruppConfig, SruppOutput};
pub use state::SruppState;

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

impl<B: Backend> OfficialWeights<B> for LanguageModel<B> {
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
