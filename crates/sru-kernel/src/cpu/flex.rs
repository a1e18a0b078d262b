//! Binds the slice kernels to Burn's Flex backend (the default CPU backend).
//!
//! f32 and f64 run natively; f16 and bf16 are widened to f32 for the computation and the
//! results narrowed back (the CPU has no half-precision arithmetic worth using here).

use burn::tensor::{DType, Shape, TensorData};
use burn_flex::{Flex, FlexTensor};
use half::{bf16, f16};

use super::Inputs;
use super::real::Real;
use crate::backend::{RecurrenceBackend, RecurrenceGrads, RecurrenceInputs, RecurrenceKernels};
use crate::options::RecurrenceConfig;

/// A tensor made contiguous and of the compute dtype, kept alive while its slice is borrowed.
pub(super) struct Held(FlexTensor);

impl Held {
    pub(super) fn new(t: &FlexTensor, compute: DType) -> Self {
        if t.dtype() != compute {
            let data = t.clone().into_data();
            let data = match compute {
                DType::F64 => data.convert::<f64>(),
                _ => data.convert::<f32>(),
            };
            return Self(FlexTensor::from_data(data));
        }
        Self(t.to_contiguous())
    }

    pub(super) fn slice<T: Real + burn::tensor::Element>(&self) -> &[T] {
        self.0
            .as_slice::<T>()
            .expect("sru-kernel: a contiguous tensor of the compute dtype")
    }
}

struct HeldInputs {
    u: Held,
    x: Option<Held>,
    weight_c: Held,
    bias: Held,
    c0: Held,
    mask_c: Option<Held>,
    mask_pad: Option<Held>,
}

impl HeldInputs {
    fn new(inputs: &RecurrenceInputs<Flex>, compute: DType) -> Self {
        let h = |t: &FlexTensor| Held::new(t, compute);
        Self {
            u: h(&inputs.u),
            x: inputs.x.as_ref().map(h),
            weight_c: h(&inputs.weight_c),
            bias: h(&inputs.bias),
            c0: h(&inputs.c0),
            mask_c: inputs.mask_c.as_ref().map(h),
            mask_pad: inputs.mask_pad.as_ref().map(h),
        }
    }

    fn slices<T: Real + burn::tensor::Element>(&self) -> Inputs<'_, T> {
        Inputs {
            u: self.u.slice(),
            x: self.x.as_ref().map(Held::slice),
            weight_c: self.weight_c.slice(),
            bias: self.bias.slice(),
            c0: self.c0.slice(),
            mask_c: self.mask_c.as_ref().map(Held::slice),
            mask_pad: self.mask_pad.as_ref().map(Held::slice),
        }
    }
}

/// The dtype the kernel computes in for a storage dtype: f64 natively, everything else in f32
/// (f16 and bf16 widened). Other dtypes never get here: the public API refuses them with
/// [`crate::KernelError::UnsupportedDType`] (see [`RecurrenceBackend::sru_supports_dtype`]).
fn compute_dtype(dtype: DType) -> DType {
    match dtype {
        DType::F64 => DType::F64,
        _ => DType::F32,
    }
}

/// Wraps a computed buffer as a tensor of the storage dtype.
fn tensor<T: Real + burn::tensor::Element>(v: Vec<T>, shape: Shape, storage: DType) -> FlexTensor {
    let data = TensorData::new(v, shape);
    let data = match storage {
        DType::F16 => data.convert::<f16>(),
        DType::BF16 => data.convert::<bf16>(),
        _ => data,
    };
    FlexTensor::from_data(data)
}

fn packed_shape(cfg: &RecurrenceConfig) -> Shape {
    Shape::new([cfg.length + 1, cfg.batch, cfg.width()])
}

fn states_shape(cfg: &RecurrenceConfig) -> Shape {
    Shape::new([cfg.length, cfg.batch, cfg.width()])
}

fn forward(
    cfg: &RecurrenceConfig,
    inputs: &RecurrenceInputs<Flex>,
    save: bool,
) -> (FlexTensor, Option<FlexTensor>) {
    let storage = inputs.u.dtype();
    let compute = compute_dtype(storage);
    let held = HeldInputs::new(inputs, compute);
    fn run<T: Real + burn::tensor::Element>(
        cfg: &RecurrenceConfig,
        held: &HeldInputs,
        save: bool,
        storage: DType,
    ) -> (FlexTensor, Option<FlexTensor>) {
        let (out, st) = super::forward::<T>(cfg, &held.slices::<T>(), save);
        (
            tensor(out, packed_shape(cfg), storage),
            st.map(|s| tensor(s, states_shape(cfg), storage)),
        )
    }
    match compute {
        DType::F64 => run::<f64>(cfg, &held, save, storage),
        _ => run::<f32>(cfg, &held, save, storage),
    }
}

impl RecurrenceBackend for Flex {
    fn sru_forward(config: &RecurrenceConfig, inputs: RecurrenceInputs<Self>) -> FlexTensor {
        forward(config, &inputs, false).0
    }
}

impl RecurrenceKernels for Flex {
    fn sru_forward_with_states(
        config: &RecurrenceConfig,
        inputs: RecurrenceInputs<Self>,
    ) -> (FlexTensor, FlexTensor) {
        let (out, states) = forward(config, &inputs, true);
        (out, states.expect("states were requested"))
    }

    fn sru_backward(
        cfg: &RecurrenceConfig,
        inputs: RecurrenceInputs<Self>,
        states: FlexTensor,
        grad_out: FlexTensor,
    ) -> RecurrenceGrads<Self> {
        let storage = inputs.u.dtype();
        let compute = compute_dtype(storage);
        let held = HeldInputs::new(&inputs, compute);
        let states = Held::new(&states, compute);
        let grad_out = Held::new(&grad_out, compute);
        fn run<T: Real + burn::tensor::Element>(
            cfg: &RecurrenceConfig,
            held: &HeldInputs,
            states: &Held,
            grad_out: &Held,
            storage: DType,
        ) -> RecurrenceGrads<Flex> {
            let g =
                super::backward::<T>(cfg, &held.slices::<T>(), states.slice(), grad_out.slice());
            let (l, b, w) = (cfg.length, cfg.batch, cfg.width());
            RecurrenceGrads {
                u: tensor(g.u, Shape::new([l, b, w * cfg.k]), storage),
                x: g.x.map(|x| tensor(x, Shape::new([l, b, w]), storage)),
                weight_c: tensor(g.weight_c, Shape::new([2 * w]), storage),
                bias: tensor(g.bias, Shape::new([2 * w]), storage),
                c0: tensor(g.c0, Shape::new([b, w]), storage),
            }
        }
        match compute {
            DType::F64 => run::<f64>(cfg, &held, &states, &grad_out, storage),
            _ => run::<f32>(cfg, &held, &states, &grad_out, storage),
        }
    }
}
