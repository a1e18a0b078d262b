//! The SRU++ stack (spec §2.4, official `SRUpp`): layers of [`SruppCell`], attention in every
//! n-th layer or in the last n layers, per-layer state `c` and per-layer memory (the previous
//! segment's layer inputs).
//!
//! ```text
//! x_0 = input;  for i in layers:  x_{i+1}, c_i' = cell_i(x_i, c_i, memory_i)
//! returns h = x_n, c' (layers, B, D), saved_inputs = [x_0 … x_{n-1}]  (next segment's memory)
//! ```

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend, s};
use serde::{Deserialize, Serialize};
use sru_kernel::RecurrenceBackend;

use crate::attention::AttentionMasks;
use crate::cell::{SruppCell, SruppCellConfig};
use crate::error::ModelError;

/// Options of the SRU++ stack, with the official defaults (`SRUpp.__init__`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SruppConfig {
    /// Input features of the first layer.
    pub input_size: usize,
    /// Units per direction d.
    pub hidden_size: usize,
    /// Attention dimension d'.
    pub proj_size: usize,
    /// Layers.
    pub num_layers: usize,
    /// Dropout inside each layer (transform and recurrence mask; none on the last recurrence).
    pub dropout: f64,
    /// Attention-weight dropout.
    pub attn_dropout: f64,
    /// Heads.
    pub num_heads: usize,
    /// Two directions.
    pub bidirectional: bool,
    /// Per-cell LayerNorm.
    pub layer_norm: bool,
    /// Post-LN instead of pre-LN for the per-cell LayerNorm.
    pub normalize_after: bool,
    /// LayerNorm inside attention / projection (official default true).
    pub attn_layer_norm: bool,
    /// Initial reset-gate bias (official default -2).
    pub highway_bias: f64,
    /// Attention in layers i with (i + 1) % n == 0.
    pub attention_every_n_layers: usize,
    /// Attention in the last n layers instead (exclusive with `attention_every_n_layers` ≠ 1).
    pub attention_last_n_layers: Option<usize>,
    /// Scale the skip input.
    pub rescale: bool,
    /// weight_c ~ U(-w, w).
    pub weight_c_init: f64,
}

impl Default for SruppConfig {
    fn default() -> Self {
        Self {
            input_size: 0,
            hidden_size: 0,
            proj_size: 0,
            num_layers: 2,
            dropout: 0.0,
            attn_dropout: 0.0,
            num_heads: 1,
            bidirectional: false,
            layer_norm: false,
            normalize_after: false,
            attn_layer_norm: true,
            highway_bias: -2.0,
            attention_every_n_layers: 1,
            attention_last_n_layers: None,
            rescale: false,
            weight_c_init: 1.0,
        }
    }
}

impl SruppConfig {
    /// Output width D = d · directions.
    pub fn output_size(&self) -> usize {
        self.hidden_size * if self.bidirectional { 2 } else { 1 }
    }

    /// Whether layer `i` (0-based) has attention.
    pub fn has_attention(&self, i: usize) -> bool {
        match self.attention_last_n_layers {
            Some(n) => self.num_layers - i <= n,
            None => (i + 1).is_multiple_of(self.attention_every_n_layers.max(1)),
        }
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`ModelError::Config`] naming the inconsistency.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |setting, m: String| Err(ModelError::config(setting, m));
        if self.input_size == 0
            || self.hidden_size == 0
            || self.proj_size == 0
            || self.num_layers == 0
        {
            return bad(
                "size",
                format!(
                    "input_size, hidden_size, proj_size and num_layers must be positive (got {}, {}, {}, {})",
                    self.input_size, self.hidden_size, self.proj_size, self.num_layers
                ),
            );
        }
        if self.attention_every_n_layers != 1 && self.attention_last_n_layers.is_some() {
            return bad(
                "attention_last_n_layers",
                "attention_every_n_layers and attention_last_n_layers cannot both be set".into(),
            );
        }
        if self.attention_every_n_layers == 0 {
            return bad(
                "attention_every_n_layers",
                "attention_every_n_layers must be at least 1".into(),
            );
        }
        if self.num_heads == 0 || !self.proj_size.is_multiple_of(self.num_heads) {
            return bad(
                "num_heads",
                format!(
                    "proj_size {} is not divisible by num_heads {}",
                    self.proj_size, self.num_heads
                ),
            );
        }
        for (name, p) in [
            ("dropout", self.dropout),
            ("attn_dropout", self.attn_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return bad(name, format!("{name} must be in [0, 1), got {p}"));
            }
        }
        Ok(())
    }

    /// The config of layer `i`.
    pub fn cell(&self, i: usize) -> SruppCellConfig {
        SruppCellConfig {
            in_features: if i == 0 {
                self.input_size
            } else {
                self.output_size()
            },
            hidden_size: self.hidden_size,
            proj_size: self.proj_size,
            attention: self.has_attention(i),
            num_heads: self.num_heads,
            bidirectional: self.bidirectional,
            dropout: self.dropout,
            recurrence_dropout: if i + 1 == self.num_layers {
                0.0
            } else {
                self.dropout
            },
            attn_dropout: self.attn_dropout,
            layer_norm: self.layer_norm,
            normalize_after: self.normalize_after,
            attn_layer_norm: self.attn_layer_norm,
            highway_bias: self.highway_bias,
            rescale: self.rescale,
            weight_c_init: self.weight_c_init,
        }
    }

    /// Builds the stack with the official initialisation.
    ///
    /// # Errors
    /// [`ModelError::Config`] when the options are inconsistent.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<Srupp<B>, ModelError> {
        self.validate()?;
        Ok(Srupp {
            rnn_lst: (0..self.num_layers)
                .map(|i| self.cell(i).init(device))
                .collect(),
        })
    }

    /// Parameters of the stack (spec §2.5).
    pub fn num_params(&self) -> usize {
        let (dp, dd) = (self.proj_size, self.output_size());
        (0..self.num_layers)
            .map(|i| {
                let c = self.cell(i);
                let out = dd * c.k();
                let ln_t = if self.attn_layer_norm { 2 * dp } else { 0 };
                let t = if c.attention {
                    c.in_features * dp + 2 * dp * dp + dp * out + 1 + ln_t
                } else {
                    c.in_features * dp + dp * out + ln_t
                };
                let ln_c = if self.layer_norm {
                    2 * if self.normalize_after {
                        dd
                    } else {
                        c.in_features
                    }
                } else {
                    0
                };
                t + 4 * dd + ln_c
            })
            .sum()
    }
}

/// The SRU++ stack; `rnn_lst.{i}.*` as in the official state_dict.
#[derive(Module, Debug)]
pub struct Srupp<B: Backend> {
    /// The layers.
    pub rnn_lst: Vec<SruppCell<B>>,
}

/// What one segment returns.
#[derive(Debug, Clone)]
pub struct SruppOutput<B: Backend> {
    /// Output of the last layer `(L, B, D)`.
    pub h: Tensor<B, 3>,
    /// Last state of every layer `(layers, B, D)`.
    pub c: Tensor<B, 3>,
    /// The input of every layer `(L, B, in_i)`: the next segment's memory (not detached).
    pub saved_inputs: Vec<Tensor<B, 3>>,
}

impl<B: RecurrenceBackend> Srupp<B> {
    /// Runs one segment.
    ///
    /// # Shapes
    /// `x (L, B, input)`, `c0 (layers, B, D)`, `memory[i] (M, B, in_i)` → [`SruppOutput`].
    ///
    /// # Errors
    /// Shape mismatches (c0, memory) or kernel refusals.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        c0: Option<Tensor<B, 3>>,
        memory: Option<&[Tensor<B, 3>]>,
        masks: &AttentionMasks<B>,
    ) -> Result<SruppOutput<B>, ModelError> {
        let n = self.rnn_lst.len();
        let [_, batch, _] = x.dims();
        if let Some(c0) = &c0 {
            let width = self.rnn_lst[0].output_size();
            if c0.dims() != [n, batch, width] {
                return Err(ModelError::Shape {
                    name: "c0".into(),
                    actual: c0.dims().to_vec(),
                    expected: vec![n, batch, width],
                });
            }
        }
        if let Some(mem) = memory
            && mem.len() != n
        {
            return Err(ModelError::Shape {
                name: "memory".into(),
                actual: vec![mem.len()],
                expected: vec![n],
            });
        }
        let mut x = x;
        let mut saved = Vec::with_capacity(n);
        let mut cs = Vec::with_capacity(n);
        for (i, cell) in self.rnn_lst.iter().enumerate() {
            saved.push(x.clone());
            let c_i = c0
                .as_ref()
                .map(|c| c.clone().slice(s![i..i + 1, .., ..]).squeeze_dim::<2>(0));
            let mem_i = memory.map(|m| m[i].clone());
            let (h, c) = cell.forward(x, c_i, mem_i, masks)?;
            cs.push(c.unsqueeze_dim::<3>(0));
            x = h;
        }
        Ok(SruppOutput {
            h: x,
            c: Tensor::cat(cs, 0),
            saved_inputs: saved,
        })
    }
}
