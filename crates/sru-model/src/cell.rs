//! One SRU++ layer (spec §2.3, official `SRUppCell`): U from attention (or a low-rank
//! projection), then the SRU recurrence with the raw layer input as the skip term.
//!
//! ```text
//! x̂ = LN(x) (pre-LN option)     U = transform(x̂, memory)            (L, B, k·D)
//! h, c = recurrence(U, x·scale_x, v, b, c0, mask_c, mask_pad)       h = LN(h) (post-LN option)
//! ```
//! `highway_bias` initialises only the reset half of `bias`; `weight_c ~ U(-w, w)`;
//! `scale_x = sqrt(1 + 2·exp(highway_bias))` with `rescale`, else 1 (and unused when k = 4).

use burn::module::{Module, Param};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig};
use burn::tensor::{Distribution, Tensor, backend::Backend};
use sru_kernel::{RecurrenceBackend, RecurrenceInput, RecurrenceOptions, elementwise_recurrence};

use crate::attention::{AttentionMasks, SruppAttention, SruppAttentionConfig};
use crate::autocast::full;
use crate::error::ModelError;
use crate::projected::{ProjectedLinear, ProjectedLinearConfig};

/// What produces U: attention or a plain low-rank projection. The enum variant adds no name
/// to the parameter paths, so both appear as `transform_module.*` as in the official code.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum TransformModule<B: Backend> {
    /// `SRUppAttention`.
    Attention(SruppAttention<B>),
    /// `SRUppProjectedLinear`.
    Projected(ProjectedLinear<B>),
}

/// Options of one [`SruppCell`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SruppCellConfig {
    /// Input features.
    pub in_features: usize,
    /// Units per direction d.
    pub hidden_size: usize,
    /// Attention / projection dimension d'.
    pub proj_size: usize,
    /// Whether U comes from attention.
    pub attention: bool,
    /// Heads.
    pub num_heads: usize,
    /// Two directions.
    pub bidirectional: bool,
    /// Dropout inside the transform.
    pub dropout: f64,
    /// Variational dropout of the recurrence (0 in the last layer).
    pub recurrence_dropout: f64,
    /// Attention-weight dropout.
    pub attn_dropout: f64,
    /// Per-cell LayerNorm.
    pub layer_norm: bool,
    /// Post-LN (after the recurrence) instead of pre-LN.
    pub normalize_after: bool,
    /// LayerNorm inside the attention / projection.
    pub attn_layer_norm: bool,
    /// Initial reset-gate bias.
    pub highway_bias: f64,
    /// Scale the skip input by sqrt(1 + 2·exp(highway_bias)).
    pub rescale: bool,
    /// weight_c ~ U(-weight_c_init, weight_c_init).
    pub weight_c_init: f64,
}

impl SruppCellConfig {
    /// Output width D.
    pub fn output_size(&self) -> usize {
        self.hidden_size * if self.bidirectional { 2 } else { 1 }
    }

    /// Parts of U per unit: 3, or 4 when the input size differs from D.
    pub fn k(&self) -> usize {
        if self.in_features == self.output_size() {
            3
        } else {
            4
        }
    }

    /// The skip-input scale, rounded to f32 like the official float32 buffer.
    pub fn scale_x(&self) -> f64 {
        if self.rescale {
            (1.0 + 2.0 * self.highway_bias.exp()).sqrt() as f32 as f64
        } else {
            1.0
        }
    }

    /// Builds the layer with the official initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> SruppCell<B> {
        let d_out = self.output_size();
        let out_features = d_out * self.k();
        let transform_module = if self.attention {
            TransformModule::Attention(
                SruppAttentionConfig {
                    in_features: self.in_features,
                    out_features,
                    proj_features: self.proj_size,
                    num_heads: self.num_heads,
                    dropout: self.dropout,
                    attn_dropout: self.attn_dropout,
                    layer_norm: self.attn_layer_norm,
                }
                .init(device),
            )
        } else {
            TransformModule::Projected(
                ProjectedLinearConfig {
                    in_features: self.in_features,
                    out_features,
                    proj_features: self.proj_size,
                    dropout: self.dropout,
                    layer_norm: self.attn_layer_norm,
                }
                .init(device),
            )
        };
        let w = self.weight_c_init;
        let weight_c = Initializer::Uniform { min: -w, max: w }.init([2 * d_out], device);
        let bias = Tensor::cat(
            vec![
                Tensor::zeros([d_out], device),
                Tensor::full([d_out], self.highway_bias, device),
            ],
            0,
        );
        let ln_size = if self.normalize_after {
            d_out
        } else {
            self.in_features
        };
        SruppCell {
            transform_module,
            weight_c,
            bias: Param::from_tensor(bias),
            layer_norm: self.layer_norm.then(|| {
                LayerNormConfig::new(ln_size)
                    .with_epsilon(1e-5)
                    .init(device)
            }),
            scale_x: self.scale_x(),
            rescale: self.rescale,
            normalize_after: self.normalize_after,
            recurrence_dropout: self.recurrence_dropout,
            bidirectional: self.bidirectional,
            hidden_size: self.hidden_size,
        }
    }
}

/// One SRU++ layer; field names follow the official state_dict (`transform_module.*`,
/// `weight_c`, `bias`, `layer_norm.*`).
#[derive(Module, Debug)]
pub struct SruppCell<B: Backend> {
    /// The transform producing U.
    pub transform_module: TransformModule<B>,
    /// `[v_f | v_r]`, (2D).
    pub weight_c: Param<Tensor<B, 1>>,
    /// `[b_f | b_r]`, (2D).
    pub bias: Param<Tensor<B, 1>>,
    /// Per-cell LayerNorm (pre or post).
    pub layer_norm: Option<LayerNorm<B>>,
    /// The skip-input scale (the official buffer `scale_x`).
    pub scale_x: f64,
    /// Whether `scale_x` is applied.
    pub rescale: bool,
    /// Post-LN instead of pre-LN.
    pub normalize_after: bool,
    /// Variational dropout probability of the recurrence.
    pub recurrence_dropout: f64,
    /// Two directions.
    pub bidirectional: bool,
    /// Units per direction.
    pub hidden_size: usize,
}

impl<B: RecurrenceBackend> SruppCell<B> {
    /// Output width D.
    pub fn output_size(&self) -> usize {
        self.hidden_size * if self.bidirectional { 2 } else { 1 }
    }

    /// Runs the layer on one segment; returns `h (L, B, D)` and the last state `(B, D)`.
    ///
    /// # Errors
    /// [`ModelError::Kernel`] when the shapes disagree with the layer.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        c0: Option<Tensor<B, 2>>,
        memory: Option<Tensor<B, 3>>,
        masks: &AttentionMasks<B>,
    ) -> Result<(Tensor<B, 3>, Tensor<B, 2>), ModelError> {
        let [_, batch, _] = x.dims();
        let dtype = x.dtype();
        let residual = x.clone();
        let input = match (&self.layer_norm, self.normalize_after) {
            (Some(ln), false) => ln.forward(full(x)).cast(dtype),
            _ => x,
        };
        let u = match &self.transform_module {
            TransformModule::Attention(a) => a.forward(input, memory, masks),
            TransformModule::Projected(p) => p.forward(input),
        };
        let width = self.output_size();
        let k = u.dims()[2] / width;
        // The recurrence runs in U's dtype, its parameters and state cast to it (as the
        // official `amp_recurrence_fp16`).
        let ud = u.dtype();
        let mut rec =
            RecurrenceInput::new(u, self.weight_c.val().cast(ud), self.bias.val().cast(ud))
                .with_x(residual.cast(ud));
        if let Some(c0) = c0 {
            rec = rec.with_c0(c0.cast(ud));
        }
        if let Some(p) = &masks.mask_pad {
            rec = rec.with_mask_pad(p.clone());
        }
        let device = rec.u.device();
        if self.recurrence_dropout > 0.0 && B::ad_enabled(&device) {
            let keep = 1.0 - self.recurrence_dropout;
            let mask = Tensor::<B, 2>::random(
                [batch, width],
                Distribution::Bernoulli(keep),
                (&device, rec.u.dtype()),
            )
            .div_scalar(keep);
            rec = rec.with_mask_c(mask);
        }
        let options = RecurrenceOptions {
            k,
            has_skip: true,
            scale_x: self.rescale.then_some(self.scale_x),
            bidirectional: self.bidirectional,
            ..Default::default()
        };
        let out = elementwise_recurrence(rec, &options)?;
        let h = match (&self.layer_norm, self.normalize_after) {
            (Some(ln), true) => ln.forward(full(out.h)).cast(dtype),
            _ => out.h,
        };
        Ok((h, out.last_c))
    }
}
