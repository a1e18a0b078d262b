//! `Autodiff<B>` support: the recurrence as one graph node whose backward is the hand-written
//! kernel of spec §1.3 ([`RecurrenceKernels::sru_backward`]).
//!
//! Saved from the forward pass: U, x, weight_c, bias, c0, the masks and every cell state `c`
//! (L·B·D values). Nothing is recomputed but the gates f, r and g, which the backward kernel
//! derives from U and the saved states. `mask_c` and `mask_pad` get no gradient.
//!
//! Also the fused `linear` ([`FusedKernels`]) as one node, saving x and W.

use burn::tensor::{FloatDType, Shape, ops::FloatTensor, ops::FloatTensorOps};
use burn_autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};

use crate::backend::{RecurrenceBackend, RecurrenceInputs, RecurrenceKernels};
use crate::fused::FusedKernels;
use crate::options::RecurrenceConfig;

#[derive(Debug)]
struct RecurrenceBackward;

/// What the backward pass needs, as inner-backend primitives.
#[derive(Debug, Clone)]
struct Saved<B: RecurrenceKernels> {
    config: RecurrenceConfig,
    inputs: RecurrenceInputs<B>,
    states: FloatTensor<B>,
}

impl<B: RecurrenceKernels> Backward<B, 5> for RecurrenceBackward {
    type State = Saved<B>;

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_u, node_x, node_wc, node_bias, node_c0] = ops.parents;
        let grad_out = grads.consume::<B>(&ops.node);
        let Saved {
            config,
            inputs,
            states,
        } = ops.state;
        let g = B::sru_backward(&config, inputs, states, grad_out);
        let pairs = [
            (node_u, Some(g.u)),
            (node_x, g.x),
            (node_wc, Some(g.weight_c)),
            (node_bias, Some(g.bias)),
            (node_c0, Some(g.c0)),
        ];
        for (node, grad) in pairs {
            if let (Some(node), Some(grad)) = (node, grad) {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

/// `x W + b` as one node; its backward is the inner backend's [`FusedKernels::sru_linear_backward`].
#[derive(Debug)]
struct LinearBackward;

/// What the linear backward needs: the input and the weight.
#[derive(Debug, Clone)]
struct LinearSaved<B: FusedKernels> {
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
}

impl<B: FusedKernels> Backward<B, 3> for LinearBackward {
    type State = LinearSaved<B>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let need = ops.parents.each_ref().map(Option::is_some);
        let LinearSaved { x, weight } = ops.state;
        let found = B::sru_linear_backward(x, weight, grad, need);
        for (node, grad) in ops.parents.into_iter().zip(found) {
            if let (Some(node), Some(grad)) = (node, grad) {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

/// `linear` as one node with the inner backend's backward; attention through Burn's ops,
/// which autodiff differentiates as usual.
impl<B: RecurrenceKernels, C: CheckpointStrategy> FusedKernels for Autodiff<B, C> {
    fn sru_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
    ) -> FloatTensor<Self> {
        // Without a bias, an untracked placeholder keeps the node arity fixed at 3.
        let bias_node = bias.as_ref().map_or_else(
            || {
                <Self as FloatTensorOps<Self>>::float_zeros(
                    Shape::new([1]),
                    &<Self as FloatTensorOps<Self>>::float_device(&x),
                    FloatDType::F32,
                )
                .node
            },
            |b| b.node.clone(),
        );
        let nodes = [x.node.clone(), weight.node.clone(), bias_node];
        let bias = bias.map(|b| b.primitive);
        match LinearBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::sru_linear(x.primitive.clone(), weight.primitive.clone(), bias);
                let saved = LinearSaved {
                    x: x.primitive,
                    weight: weight.primitive,
                };
                prep.finish(saved, out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::sru_linear(x.primitive, weight.primitive, bias))
            }
        }
    }
}

impl<B: RecurrenceKernels, C: CheckpointStrategy> RecurrenceBackend for Autodiff<B, C> {
    fn sru_supports_dtype(dtype: burn::tensor::DType) -> bool {
        B::sru_supports_dtype(dtype)
    }

    fn sru_forward(config: &RecurrenceConfig, inputs: RecurrenceInputs<Self>) -> FloatTensor<Self> {
        // x is optional; an untracked placeholder keeps the node arity fixed at 5.
        let x = inputs.x.clone().unwrap_or_else(|| {
            <Self as FloatTensorOps<Self>>::float_zeros(
                Shape::new([1]),
                &<Self as FloatTensorOps<Self>>::float_device(&inputs.u),
                FloatDType::F32,
            )
        });
        let nodes = [
            inputs.u.node.clone(),
            x.node.clone(),
            inputs.weight_c.node.clone(),
            inputs.bias.node.clone(),
            inputs.c0.node.clone(),
        ];
        let inner = RecurrenceInputs::<B> {
            u: inputs.u.primitive,
            x: inputs.x.map(|x| x.primitive),
            weight_c: inputs.weight_c.primitive,
            bias: inputs.bias.primitive,
            c0: inputs.c0.primitive,
            mask_c: inputs.mask_c.map(|m| m.primitive),
            mask_pad: inputs.mask_pad.map(|m| m.primitive),
        };
        match RecurrenceBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, states) = B::sru_forward_with_states(config, inner.clone());
                let saved = Saved {
                    config: *config,
                    inputs: inner,
                    states,
                };
                prep.finish(saved, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::sru_forward(config, inner)),
        }
    }
}
