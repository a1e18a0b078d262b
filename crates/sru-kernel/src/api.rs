//! The public entry: [`elementwise_recurrence`] over Burn tensors, its input and output types,
//! and the validation that turns a call into a [`RecurrenceConfig`].

use burn::tensor::{Bool, DType, Tensor, TensorPrimitive, backend::Backend, s};

use crate::backend::{RecurrenceBackend, RecurrenceInputs};
use crate::error::KernelError;
use crate::options::{RecurrenceConfig, RecurrenceOptions, Skip};

/// The tensors of one recurrence call (time-major; spec §1.1).
///
/// `D = dirs · d`. Build it with [`RecurrenceInput::new`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct RecurrenceInput<B: Backend> {
    /// `U (L, B, D·k)`, read as `(L, B, dir, d, k)`: the k parts of a unit are adjacent.
    pub u: Tensor<B, 3>,
    /// Skip input `x (L, B, D)`: required when k = 3 with a skip term, ignored otherwise.
    pub x: Option<Tensor<B, 3>>,
    /// `weight_c (2D)` = `[v_f | v_r]`.
    pub weight_c: Tensor<B, 1>,
    /// `bias (2D)` = `[b_f | b_r]`.
    pub bias: Tensor<B, 1>,
    /// Initial state `c0 (B, D)`; zeros when absent.
    pub c0: Option<Tensor<B, 2>>,
    /// Dropout mask `mask_c (B, D)`, multiplying `r·(g - x')`, constant over time.
    pub mask_c: Option<Tensor<B, 2>>,
    /// Padding mask `(L, B)`, true = padded step (keeps c, outputs h = 0, no gradient).
    pub mask_pad: Option<Tensor<B, 2, Bool>>,
}

impl<B: Backend> RecurrenceInput<B> {
    /// The required tensors; everything optional starts absent.
    pub fn new(u: Tensor<B, 3>, weight_c: Tensor<B, 1>, bias: Tensor<B, 1>) -> Self {
        Self {
            u,
            x: None,
            weight_c,
            bias,
            c0: None,
            mask_c: None,
            mask_pad: None,
        }
    }

    /// Sets the skip input `x (L, B, D)`.
    pub fn with_x(mut self, x: Tensor<B, 3>) -> Self {
        self.x = Some(x);
        self
    }

    /// Sets the initial state `c0 (B, D)`.
    pub fn with_c0(mut self, c0: Tensor<B, 2>) -> Self {
        self.c0 = Some(c0);
        self
    }

    /// Sets the dropout mask `mask_c (B, D)`.
    pub fn with_mask_c(mut self, mask_c: Tensor<B, 2>) -> Self {
        self.mask_c = Some(mask_c);
        self
    }

    /// Sets the padding mask `(L, B)`.
    pub fn with_mask_pad(mut self, mask_pad: Tensor<B, 2, Bool>) -> Self {
        self.mask_pad = Some(mask_pad);
        self
    }

    /// Checks every shape and dtype against `U` and the options, and resolves the config.
    pub fn config(&self, options: &RecurrenceOptions) -> Result<RecurrenceConfig, KernelError> {
        let k = options.k;
        if k != 3 && k != 4 {
            return Err(KernelError::InvalidK(k));
        }
        let [length, batch, features] = self.u.dims();
        if length == 0 || batch == 0 || features == 0 {
            return Err(KernelError::Empty(vec![length, batch, features]));
        }
        let dirs = options.dirs();
        if features % (dirs * k) != 0 {
            return Err(KernelError::UFeatures { features, dirs, k });
        }
        let d = features / (dirs * k);
        let width = dirs * d;
        let dtype = self.u.dtype();
        let check = |name: &'static str, actual: Vec<usize>, expected: Vec<usize>, dt: DType| {
            if actual != expected {
                return Err(KernelError::Shape {
                    name,
                    actual,
                    expected,
                });
            }
            if dt != dtype {
                return Err(KernelError::DType {
                    name,
                    actual: format!("{dt:?}"),
                    expected: format!("{dtype:?}"),
                });
            }
            Ok(())
        };
        check(
            "weight_c",
            self.weight_c.dims().to_vec(),
            vec![2 * width],
            self.weight_c.dtype(),
        )?;
        check(
            "bias",
            self.bias.dims().to_vec(),
            vec![2 * width],
            self.bias.dtype(),
        )?;
        if let Some(c0) = &self.c0 {
            check("c0", c0.dims().to_vec(), vec![batch, width], c0.dtype())?;
        }
        if let Some(m) = &self.mask_c {
            check("mask_c", m.dims().to_vec(), vec![batch, width], m.dtype())?;
        }
        if let Some(m) = &self.mask_pad {
            let dims = m.dims().to_vec();
            if dims != [length, batch] {
                return Err(KernelError::Shape {
                    name: "mask_pad",
                    actual: dims,
                    expected: vec![length, batch],
                });
            }
        }
        let skip = match (options.has_skip, k) {
            (false, _) => Skip::None,
            (true, 4) => Skip::FourthPart,
            (true, _) => {
                let scale = options.scale_x.unwrap_or(1.0);
                if !scale.is_finite() {
                    return Err(KernelError::ScaleX(scale));
                }
                let x = self.x.as_ref().ok_or(KernelError::MissingX)?;
                check(
                    "x",
                    x.dims().to_vec(),
                    vec![length, batch, width],
                    x.dtype(),
                )?;
                Skip::Input { scale }
            }
        };
        Ok(RecurrenceConfig {
            length,
            batch,
            d,
            dirs,
            k,
            skip,
            activation: options.activation,
            has_mask_c: self.mask_c.is_some(),
            has_mask_pad: self.mask_pad.is_some(),
        })
    }

    /// The padding mask as floats of U's dtype (1 = padded), or none.
    pub(crate) fn mask_pad_float(&self) -> Option<Tensor<B, 2>> {
        self.mask_pad
            .clone()
            .map(|m| m.float().cast(self.u.dtype()))
    }

    /// `c0`, or zeros `(B, D)` of U's dtype.
    pub(crate) fn c0_or_zeros(&self, config: &RecurrenceConfig) -> Tensor<B, 2> {
        self.c0.clone().unwrap_or_else(|| {
            Tensor::zeros(
                [config.batch, config.width()],
                (&self.u.device(), self.u.dtype()),
            )
        })
    }
}

/// The outputs of one recurrence call.
#[derive(Debug, Clone)]
pub struct RecurrenceOutput<B: Backend> {
    /// `h (L, B, D)`; zero at padded steps.
    pub h: Tensor<B, 3>,
    /// The last cell state `(B, D)`: `c[L-1]` forward; `[c_fwd(L-1) | c_bwd(0)]` bidirectional.
    pub last_c: Tensor<B, 2>,
}

/// Runs the SRU element-wise recurrence (spec §1.2) on backend `B` with its fastest kernel,
/// differentiable through the hand-written backward of spec §1.3 when `B` is `Autodiff<..>`.
///
/// Per unit and step, with `m = mask_c` (1 when absent) and `x'` the skip value:
///
/// ```text
/// f = σ(U1 + v_f·c_prev + b_f)      r = σ(U2 + v_r·c_prev + b_r)
/// c = (c_prev - U0)·f + U0          g = act(c)
/// h = (g - x')·m·r + x'   (skip)    h = g·m·r   (no skip)
/// ```
///
/// # Shapes
/// `U (L, B, dirs·d·k)`, `x (L, B, D)`, `weight_c (2D)`, `bias (2D)`, `c0 (B, D)` →
/// `h (L, B, D)`, `last_c (B, D)`.
///
/// # Errors
/// A [`KernelError`] naming the offending tensor when shapes, dtypes or options disagree.
///
/// # Example
/// ```
/// use burn::backend::Flex;
/// use burn::tensor::Tensor;
/// use sru_kernel::{elementwise_recurrence, RecurrenceInput, RecurrenceOptions};
///
/// let dev = Default::default();
/// let (l, b, d) = (5, 2, 4);
/// let u = Tensor::<Flex, 3>::ones([l, b, d * 3], &dev);
/// let x = Tensor::<Flex, 3>::zeros([l, b, d], &dev);
/// let w = Tensor::<Flex, 1>::zeros([2 * d], &dev);
/// let input = RecurrenceInput::new(u, w.clone(), w).with_x(x);
/// let out = elementwise_recurrence(input, &RecurrenceOptions::default()).unwrap();
/// assert_eq!(out.h.dims(), [l, b, d]);
/// assert_eq!(out.last_c.dims(), [b, d]);
/// ```
pub fn elementwise_recurrence<B: RecurrenceBackend>(
    input: RecurrenceInput<B>,
    options: &RecurrenceOptions,
) -> Result<RecurrenceOutput<B>, KernelError> {
    let config = input.config(options)?;
    let dtype = input.u.dtype();
    if !B::sru_supports_dtype(dtype) {
        return Err(KernelError::UnsupportedDType {
            dtype: format!("{dtype:?}"),
            backend: B::name(&input.u.device()),
        });
    }
    let mask_pad = input.mask_pad_float();
    let c0 = input.c0_or_zeros(&config);
    let prim = |t: Tensor<B, 3>| t.into_primitive().tensor();
    let inputs = RecurrenceInputs {
        u: prim(input.u),
        x: if config.reads_x() {
            input.x.map(prim)
        } else {
            None
        },
        weight_c: input.weight_c.into_primitive().tensor(),
        bias: input.bias.into_primitive().tensor(),
        c0: c0.into_primitive().tensor(),
        mask_c: input.mask_c.map(|m| m.into_primitive().tensor()),
        mask_pad: mask_pad.map(|m| m.into_primitive().tensor()),
    };
    let packed = B::sru_forward(&config, inputs);
    Ok(unpack(
        Tensor::from_primitive(TensorPrimitive::Float(packed)),
        &config,
    ))
}

/// Splits the packed `(L + 1, B, D)` output into `h` and `last_c` (views, no copy).
pub(crate) fn unpack<B: Backend>(
    packed: Tensor<B, 3>,
    config: &RecurrenceConfig,
) -> RecurrenceOutput<B> {
    let l = config.length;
    let h = packed.clone().slice(s![0..l, .., ..]);
    let last_c = packed
        .slice(s![l..l + 1, .., ..])
        .reshape([config.batch, config.width()]);
    RecurrenceOutput { h, last_c }
}
