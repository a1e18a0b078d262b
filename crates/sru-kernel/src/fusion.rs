//! `Fusion<B>` support (Burn's default `Wgpu` and `Cuda` types wrap `CubeBackend` in Fusion).
//!
//! The recurrence is registered as a custom operation in the fusion stream: fusion flushes the
//! element-wise work queued before it, then [`Operation::execute`] runs the inner backend's
//! kernel on the resolved handles. Optional tensors appear in the operation's input list only
//! when present, in the fixed order u, x, weight_c, bias, c0, mask_c, mask_pad (then states,
//! grad_out for the backward); the config says which are there.

use core::marker::PhantomData;

use burn::tensor::{DType, Shape, ops::FloatTensor};
use burn_fusion::{
    Fusion, FusionBackend, FusionRuntime,
    stream::{Operation, OperationStreams},
};
use burn_ir::{CustomOpIr, HandleContainer, OperationIr, TensorIr};

use crate::backend::{RecurrenceBackend, RecurrenceGrads, RecurrenceInputs, RecurrenceKernels};
use crate::fused::FusedKernels;
use crate::options::RecurrenceConfig;

type Handles<B> =
    HandleContainer<<<B as FusionBackend>::FusionRuntime as FusionRuntime>::FusionHandle>;

/// The inputs of a call in their IR order.
fn input_list<B: FusionBackend>(
    inputs: &RecurrenceInputs<Fusion<B>>,
) -> Vec<FloatTensor<Fusion<B>>> {
    let mut v = vec![inputs.u.clone()];
    v.extend(inputs.x.clone());
    v.extend([
        inputs.weight_c.clone(),
        inputs.bias.clone(),
        inputs.c0.clone(),
    ]);
    v.extend(inputs.mask_c.clone());
    v.extend(inputs.mask_pad.clone());
    v
}

/// Reads the inputs back from the handles, in the order of [`input_list`].
fn resolve_inputs<B: FusionBackend>(
    cfg: &RecurrenceConfig,
    ir: &[TensorIr],
    h: &mut Handles<B>,
) -> RecurrenceInputs<B> {
    let mut it = ir.iter();
    let mut next = || h.get_float_tensor::<B>(it.next().expect("recurrence op input"));
    let u = next();
    let x = cfg.reads_x().then(&mut next);
    let weight_c = next();
    let bias = next();
    let c0 = next();
    let mask_c = cfg.has_mask_c.then(&mut next);
    let mask_pad = cfg.has_mask_pad.then(&mut next);
    RecurrenceInputs {
        u,
        x,
        weight_c,
        bias,
        c0,
        mask_c,
        mask_pad,
    }
}

fn uninit<B: FusionBackend>(like: &FloatTensor<Fusion<B>>, shape: Shape, dtype: DType) -> TensorIr {
    TensorIr::uninit(like.client.create_empty_handle(), shape, dtype)
}

#[derive(Clone, Debug)]
struct ForwardOp<B> {
    desc: CustomOpIr,
    config: RecurrenceConfig,
    save: bool,
    _b: PhantomData<B>,
}

impl<B: FusionBackend + RecurrenceKernels> Operation<B::FusionRuntime> for ForwardOp<B> {
    fn execute(&self, h: &mut Handles<B>) {
        let inputs = resolve_inputs::<B>(&self.config, &self.desc.inputs, h);
        if self.save {
            let (out, states) = B::sru_forward_with_states(&self.config, inputs);
            h.register_float_tensor::<B>(&self.desc.outputs[0].id, out);
            h.register_float_tensor::<B>(&self.desc.outputs[1].id, states);
        } else {
            let out = B::sru_forward(&self.config, inputs);
            h.register_float_tensor::<B>(&self.desc.outputs[0].id, out);
        }
    }
}

fn forward<B: FusionBackend + RecurrenceKernels>(
    config: &RecurrenceConfig,
    inputs: RecurrenceInputs<Fusion<B>>,
    save: bool,
) -> Vec<FloatTensor<Fusion<B>>> {
    let list = input_list(&inputs);
    let u = &inputs.u;
    let client = u.client.clone();
    let (l, b, w) = (config.length, config.batch, config.width());
    let mut outputs = vec![uninit::<B>(u, Shape::new([l + 1, b, w]), u.dtype)];
    if save {
        outputs.push(uninit::<B>(u, Shape::new([l, b, w]), u.dtype));
    }
    let streams = OperationStreams::with_inputs(list.iter());
    let ir: Vec<TensorIr> = list.into_iter().map(|t| t.into_ir()).collect();
    let desc = CustomOpIr::new("sru_recurrence_forward", &ir, &outputs);
    let op = ForwardOp::<B> {
        desc: desc.clone(),
        config: *config,
        save,
        _b: PhantomData,
    };
    client.register(streams, OperationIr::Custom(desc), op)
}

/// The fused forward ops from Burn's ops (which Fusion fuses itself where it can).
impl<B: FusionBackend + RecurrenceKernels> FusedKernels for Fusion<B> {}

impl<B: FusionBackend + RecurrenceKernels> RecurrenceBackend for Fusion<B> {
    fn sru_supports_dtype(dtype: DType) -> bool {
        B::sru_supports_dtype(dtype)
    }

    fn sru_forward(config: &RecurrenceConfig, inputs: RecurrenceInputs<Self>) -> FloatTensor<Self> {
        forward(config, inputs, false).remove(0)
    }
}

#[derive(Clone, Debug)]
struct BackwardOp<B> {
    desc: CustomOpIr,
    config: RecurrenceConfig,
    _b: PhantomData<B>,
}

impl<B: FusionBackend + RecurrenceKernels> Operation<B::FusionRuntime> for BackwardOp<B> {
    fn execute(&self, h: &mut Handles<B>) {
        let n = self.desc.inputs.len();
        let inputs = resolve_inputs::<B>(&self.config, &self.desc.inputs[..n - 2], h);
        let states = h.get_float_tensor::<B>(&self.desc.inputs[n - 2]);
        let grad_out = h.get_float_tensor::<B>(&self.desc.inputs[n - 1]);
        let g = B::sru_backward(&self.config, inputs, states, grad_out);
        let mut outs = self.desc.outputs.iter();
        let mut put =
            |t| h.register_float_tensor::<B>(&outs.next().expect("recurrence grad").id, t);
        put(g.u);
        if let Some(x) = g.x {
            put(x);
        }
        put(g.weight_c);
        put(g.bias);
        put(g.c0);
    }
}

impl<B: FusionBackend + RecurrenceKernels> RecurrenceKernels for Fusion<B> {
    fn sru_forward_with_states(
        config: &RecurrenceConfig,
        inputs: RecurrenceInputs<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let mut v = forward(config, inputs, true);
        let states = v.remove(1);
        (v.remove(0), states)
    }

    fn sru_backward(
        config: &RecurrenceConfig,
        inputs: RecurrenceInputs<Self>,
        states: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
    ) -> RecurrenceGrads<Self> {
        let mut list = input_list(&inputs);
        list.push(states);
        list.push(grad_out);
        let u = &inputs.u;
        let client = u.client.clone();
        let (l, b, w) = (config.length, config.batch, config.width());
        let dt = u.dtype;
        let mut outputs = vec![uninit::<B>(u, Shape::new([l, b, w * config.k]), dt)];
        if config.reads_x() {
            outputs.push(uninit::<B>(u, Shape::new([l, b, w]), dt));
        }
        outputs.push(uninit::<B>(u, Shape::new([2 * w]), dt));
        outputs.push(uninit::<B>(u, Shape::new([2 * w]), dt));
        outputs.push(uninit::<B>(u, Shape::new([b, w]), dt));
        let streams = OperationStreams::with_inputs(list.iter());
        let ir: Vec<TensorIr> = list.into_iter().map(|t| t.into_ir()).collect();
        let desc = CustomOpIr::new("sru_recurrence_backward", &ir, &outputs);
        let op = BackwardOp::<B> {
            desc: desc.clone(),
            config: *config,
            _b: PhantomData,
        };
        let mut out = client
            .register(streams, OperationIr::Custom(desc), op)
            .into_iter();
        let mut next = || out.next().expect("recurrence grad output");
        let gu = next();
        let gx = config.reads_x().then(&mut next);
        RecurrenceGrads {
            u: gu,
            x: gx,
            weight_c: next(),
            bias: next(),
            c0: next(),
        }
    }
}
