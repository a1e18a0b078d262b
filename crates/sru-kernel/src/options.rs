//! What the caller chooses about one recurrence call: the number of parts k, the skip term,
//! the activation, `scale_x` and the direction. Spec §1.1-1.2.

/// The activation `g = act(c)` applied to the cell state before the highway mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Activation {
    /// `g = c` (activation_type 0, the SRU++ default).
    #[default]
    Identity,
    /// `g = tanh(c)` (activation_type 1).
    Tanh,
}

/// Options of [`elementwise_recurrence`](crate::elementwise_recurrence), as the official
/// `elementwise_recurrence_naive(U, x, weight_c, bias, c0, activation_type, d, bidirectional,
/// has_skip_term, scale_x, mask_c, mask_pad)` takes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecurrenceOptions {
    /// Parts of U per unit: 3 (`u0`, forget, reset) or 4 (plus the skip value).
    pub k: usize,
    /// Whether `h` mixes in a skip value (`h = (g - x')·m·r + x'`) or not (`h = g·m·r`).
    pub has_skip: bool,
    /// The activation applied to `c`.
    pub activation: Activation,
    /// Multiplies `x` in the skip term; applied only when `k = 3` (the official code ignores it
    /// for `k = 4`, where the skip value is `U[..., 3]`). `None` means 1.
    pub scale_x: Option<f64>,
    /// Two directions: units `[0, d)` run forward in time, `[d, 2d)` backward.
    pub bidirectional: bool,
}

impl Default for RecurrenceOptions {
    /// The SRU++ language-model case: k = 3, skip from the layer input, identity, forward only.
    fn default() -> Self {
        Self {
            k: 3,
            has_skip: true,
            activation: Activation::Identity,
            scale_x: None,
            bidirectional: false,
        }
    }
}

impl RecurrenceOptions {
    /// Number of directions (1 or 2).
    pub fn dirs(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }
}

/// Where the skip value `x'` of `h = (g - x')·m·r + x'` comes from, resolved from the options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Skip {
    /// No skip term: `h = g·m·r`.
    None,
    /// `x' = x · scale` (k = 3).
    Input {
        /// The resolved `scale_x` (1 when absent).
        scale: f64,
    },
    /// `x' = U[..., 3]` (k = 4; `scale_x` ignored).
    FourthPart,
}

/// The resolved, validated description of one call that every kernel receives: sizes, the
/// skip source, the activation and which optional masks are present.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecurrenceConfig {
    /// Sequence length L.
    pub length: usize,
    /// Batch size B.
    pub batch: usize,
    /// Units per direction d.
    pub d: usize,
    /// Directions (1 or 2).
    pub dirs: usize,
    /// Parts of U per unit (3 or 4).
    pub k: usize,
    /// The skip source.
    pub skip: Skip,
    /// The activation.
    pub activation: Activation,
    /// Whether a dropout mask `mask_c (B, D)` is passed.
    pub has_mask_c: bool,
    /// Whether a padding mask `mask_pad (L, B)` is passed (as floats, 1 = padding).
    pub has_mask_pad: bool,
}

impl RecurrenceConfig {
    /// Output width D = dirs · d.
    pub fn width(&self) -> usize {
        self.dirs * self.d
    }

    /// Independent columns B · D (one sequential time loop each).
    pub fn columns(&self) -> usize {
        self.batch * self.width()
    }

    /// Whether the kernel reads `x` (k = 3 with a skip term).
    pub fn reads_x(&self) -> bool {
        matches!(self.skip, Skip::Input { .. })
    }
}
