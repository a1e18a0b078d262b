//! The precision policy, as the official `torch.cuda.amp` runs: parameters, gradients, their
//! all-reduce, the optimizer state and checkpoints in f32; under f16 or bf16 the model computes
//! its products in that dtype and LayerNorm, softmax, log-softmax and the loss in f32
//! ([`sru_model::Autocast`]). f16 gradients are protected from underflow by dynamic loss
//! scaling as PyTorch's `GradScaler`: the loss is multiplied by S before backward, gradients
//! divided by S before clipping; a non-finite gradient skips the update and halves S, and S
//! doubles after 2000 updates without overflow.

use burn::tensor::DType;
use serde::{Deserialize, Serialize};
use sru_model::Autocast;

use crate::config::Precision;

impl Precision {
    /// The dtype of activations and products.
    pub fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F16 => DType::F16,
            Precision::Bf16 => DType::BF16,
        }
    }

    /// How the model computes under this precision.
    pub fn autocast(self) -> Autocast {
        match self {
            Precision::F32 => Autocast::Off,
            half => Autocast::Half(half.dtype()),
        }
    }
}

/// Dynamic loss scale (f16 only; 1 otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossScale {
    /// Current scale S.
    pub scale: f64,
    /// Updates since the last overflow.
    pub good_steps: u64,
    /// Whether the scale adapts (f16).
    pub dynamic: bool,
}

/// Updates without overflow before the scale doubles.
const GROWTH_INTERVAL: u64 = 2000;

impl LossScale {
    /// The policy's initial scale: 2^16 for f16, 1 otherwise.
    pub fn for_precision(p: Precision) -> LossScale {
        let dynamic = p == Precision::F16;
        LossScale {
            scale: if dynamic { 65536.0 } else { 1.0 },
            good_steps: 0,
            dynamic,
        }
    }

    /// Records whether the last gradients were finite; returns whether to apply the update.
    pub fn update(&mut self, finite: bool) -> bool {
        if !self.dynamic {
            return finite;
        }
        if finite {
            self.good_steps += 1;
            if self.good_steps >= GROWTH_INTERVAL {
                self.scale *= 2.0;
                self.good_steps = 0;
            }
        } else {
            self.scale = (self.scale / 2.0).max(1.0);
            self.good_steps = 0;
        }
        finite
    }
}
