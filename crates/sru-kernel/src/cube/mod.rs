//! The CubeCL implementation: the kernel source ([`kernel`]) launched for
//! `CubeBackend<R, ..>`, so one source serves the WGPU and CUDA runtimes.

mod kernel;

use burn::tensor::{DType, FloatDType, Shape, ops::FloatTensorOps};
use burn_cubecl::{
    CubeBackend, CubeRuntime, FloatElement, IntElement, element::BoolElement,
    kernel::into_contiguous, ops::numeric::empty_device_contiguous_dtype, tensor::CubeTensor,
};
use cubecl::{CubeCount, CubeDim};

use crate::backend::{RecurrenceBackend, RecurrenceGrads, RecurrenceInputs, RecurrenceKernels};
use crate::fused::FusedKernels;
use crate::options::{Activation, RecurrenceConfig, Skip};
use kernel::{sru_backward_kernel, sru_forward_kernel};

/// Threads per cube; one thread per column.
const THREADS: u32 = 256;

fn launch_dims(columns: usize) -> (CubeCount, CubeDim) {
    let cubes = (columns as u32).div_ceil(THREADS);
    (CubeCount::Static(cubes, 1, 1), CubeDim::new_1d(THREADS))
}

/// The comptime switches of both kernels, derived from the config.
struct Flags {
    k: usize,
    skip_x: bool,
    skip_u3: bool,
    tanh: bool,
    has_mask_c: bool,
    has_mask_pad: bool,
    scale: f32,
}

impl Flags {
    fn new(cfg: &RecurrenceConfig) -> Self {
        let (skip_x, skip_u3, scale) = match cfg.skip {
            Skip::None => (false, false, 1.0),
            Skip::Input { scale } => (true, false, scale as f32),
            Skip::FourthPart => (false, true, 1.0),
        };
        Self {
            k: cfg.k,
            skip_x,
            skip_u3,
            tanh: cfg.activation == Activation::Tanh,
            has_mask_c: cfg.has_mask_c,
            has_mask_pad: cfg.has_mask_pad,
            scale,
        }
    }
}

/// Contiguous inputs, with placeholders (c0) for absent optional tensors.
struct Prepared<R: CubeRuntime> {
    u: CubeTensor<R>,
    x: CubeTensor<R>,
    weight_c: CubeTensor<R>,
    bias: CubeTensor<R>,
    c0: CubeTensor<R>,
    mask_c: CubeTensor<R>,
    mask_pad: CubeTensor<R>,
}

fn prepare<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
    inputs: RecurrenceInputs<CubeBackend<R, F, I, BT>>,
) -> Prepared<R> {
    let c0 = into_contiguous(inputs.c0);
    let or_c0 = |t: Option<CubeTensor<R>>| t.map(into_contiguous).unwrap_or_else(|| c0.clone());
    Prepared {
        u: into_contiguous(inputs.u),
        x: or_c0(inputs.x),
        weight_c: into_contiguous(inputs.weight_c),
        bias: into_contiguous(inputs.bias),
        mask_c: or_c0(inputs.mask_c),
        mask_pad: or_c0(inputs.mask_pad),
        c0,
    }
}

fn empty<R: CubeRuntime>(like: &CubeTensor<R>, shape: Shape, dtype: DType) -> CubeTensor<R> {
    empty_device_contiguous_dtype(like.client.clone(), like.device.clone(), shape, dtype)
}

fn forward<R: CubeRuntime>(
    cfg: &RecurrenceConfig,
    p: Prepared<R>,
    save: bool,
) -> (CubeTensor<R>, Option<CubeTensor<R>>) {
    let dtype = p.u.dtype;
    let (l, b, w) = (cfg.length, cfg.batch, cfg.width());
    let out = empty(&p.u, Shape::new([l + 1, b, w]), dtype);
    // Without saving, the kernel never writes `states`: a one-element placeholder suffices.
    let states = if save {
        empty(&p.u, Shape::new([l, b, w]), dtype)
    } else {
        empty(&p.u, Shape::new([1]), dtype)
    };
    let fl = Flags::new(cfg);
    let (count, dim) = launch_dims(cfg.columns());
    let client = p.u.client.clone();
    sru_forward_kernel::launch::<R>(
        &client,
        count,
        dim,
        p.u.into_tensor_arg(),
        p.x.into_tensor_arg(),
        p.weight_c.into_tensor_arg(),
        p.bias.into_tensor_arg(),
        p.c0.into_tensor_arg(),
        p.mask_c.into_tensor_arg(),
        p.mask_pad.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        states.clone().into_tensor_arg(),
        cfg.d as u32,
        fl.scale,
        fl.k,
        fl.skip_x,
        fl.skip_u3,
        fl.tanh,
        fl.has_mask_c,
        fl.has_mask_pad,
        save,
        dtype.into(),
    );
    (out, save.then_some(states))
}

/// The fused forward ops from Burn's ops.
impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> FusedKernels
    for CubeBackend<R, F, I, BT>
{
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> RecurrenceBackend
    for CubeBackend<R, F, I, BT>
{
    fn sru_forward(config: &RecurrenceConfig, inputs: RecurrenceInputs<Self>) -> CubeTensor<R> {
        forward(config, prepare(inputs), false).0
    }
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> RecurrenceKernels
    for CubeBackend<R, F, I, BT>
{
    fn sru_forward_with_states(
        config: &RecurrenceConfig,
        inputs: RecurrenceInputs<Self>,
    ) -> (CubeTensor<R>, CubeTensor<R>) {
        let (out, states) = forward(config, prepare(inputs), true);
        (out, states.expect("states were requested"))
    }

    fn sru_backward(
        cfg: &RecurrenceConfig,
        inputs: RecurrenceInputs<Self>,
        states: CubeTensor<R>,
        grad_out: CubeTensor<R>,
    ) -> RecurrenceGrads<Self> {
        let p = prepare(inputs);
        let states = into_contiguous(states);
        let grad_out = into_contiguous(grad_out);
        let dtype = p.u.dtype;
        let (l, b, w) = (cfg.length, cfg.batch, cfg.width());
        let grad_u = empty(&p.u, Shape::new([l, b, w * cfg.k]), dtype);
        let grad_x = if cfg.reads_x() {
            empty(&p.u, Shape::new([l, b, w]), dtype)
        } else {
            empty(&p.u, Shape::new([1]), dtype)
        };
        let grad_c0 = empty(&p.u, Shape::new([b, w]), dtype);
        let partial_wc = empty(&p.u, Shape::new([2, b, w]), DType::F32);
        let partial_bias = empty(&p.u, Shape::new([2, b, w]), DType::F32);
        let fl = Flags::new(cfg);
        let (count, dim) = launch_dims(cfg.columns());
        let client = p.u.client.clone();
        sru_backward_kernel::launch::<R>(
            &client,
            count,
            dim,
            p.u.into_tensor_arg(),
            p.x.into_tensor_arg(),
            p.weight_c.into_tensor_arg(),
            p.bias.into_tensor_arg(),
            p.c0.into_tensor_arg(),
            p.mask_c.into_tensor_arg(),
            p.mask_pad.into_tensor_arg(),
            states.into_tensor_arg(),
            grad_out.into_tensor_arg(),
            grad_u.clone().into_tensor_arg(),
            grad_x.clone().into_tensor_arg(),
            grad_c0.clone().into_tensor_arg(),
            partial_wc.clone().into_tensor_arg(),
            partial_bias.clone().into_tensor_arg(),
            cfg.d as u32,
            fl.scale,
            fl.k,
            fl.skip_x,
            fl.skip_u3,
            fl.tanh,
            fl.has_mask_c,
            fl.has_mask_pad,
            dtype.into(),
        );
        // Sum the f32 per-column partials over the batch, then narrow to the storage dtype.
        let reduce = |partial: CubeTensor<R>| {
            let summed = Self::float_sum_dim(partial, 1); // (2, 1, D)
            let flat = Self::float_reshape(summed, Shape::new([2 * w])); // [forget | reset]
            Self::float_cast(flat, FloatDType::from(dtype))
        };
        RecurrenceGrads {
            u: grad_u,
            x: cfg.reads_x().then_some(grad_x),
            weight_c: reduce(partial_wc),
            bias: reduce(partial_bias),
            c0: grad_c0,
        }
    }
}
