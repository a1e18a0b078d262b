//! The gradients of a module as one flat buffer, the parameters in declaration order (the
//! module's visiting order, the same in every process, unlike Burn's random `ParamId`s):
//! [`flatten`] takes them out as 1-D f32 parts, [`split`] puts a buffer of the same layout
//! back as the parameters' gradients, each in its own dtype. Tied parameters count once.

use std::collections::HashSet;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{DType, Tensor};

/// Per parameter visited: its elements, and the dtype of its gradient when it had one.
pub(super) type Layout = Vec<(usize, Option<DType>)>;

/// Takes the gradients of `model`'s parameters out of `grads`, in declaration order, as 1-D
/// f32 parts on `device` (zeros for a parameter without a gradient), with their layout.
pub(super) fn flatten<B: AutodiffBackend, M: Module<B>>(
    model: &M,
    grads: &mut GradientsParams,
    device: &B::Device,
) -> (Vec<Tensor<B::InnerBackend, 1>>, Layout) {
    let mut visitor = Flatten::<B> {
        grads,
        device: device.clone(),
        seen: HashSet::new(),
        parts: Vec::new(),
        layout: Vec::new(),
    };
    model.visit(&mut visitor);
    (visitor.parts, visitor.layout)
}

/// Registers the consecutive slices of `flat` in `grads` as the gradients of `model`'s
/// parameters, in the order and `layout` of [`flatten`] (none for a parameter that had none).
pub(super) fn split<B: AutodiffBackend, M: Module<B>>(
    model: &M,
    grads: &mut GradientsParams,
    flat: Tensor<B::InnerBackend, 1>,
    layout: Layout,
) {
    let mut visitor = Split::<B> {
        grads,
        seen: HashSet::new(),
        flat,
        offset: 0,
        layout: layout.into_iter(),
    };
    model.visit(&mut visitor);
}

/// Takes the gradients of a module's parameters, in declaration order, as 1-D f32 parts
/// (zeros for a parameter without a gradient); tied parameters count once.
struct Flatten<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    device: B::Device,
    seen: HashSet<ParamId>,
    parts: Vec<Tensor<B::InnerBackend, 1>>,
    /// (elements, dtype of the gradient when there was one) per parameter visited.
    layout: Layout,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Flatten<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if !self.seen.insert(param.id) {
            return;
        }
        let n = param.shape().num_elements();
        let (part, dtype) = match self.grads.remove::<B::InnerBackend, D>(param.id) {
            Some(g) => {
                let dtype = g.dtype();
                (g.cast(DType::F32).reshape([n]), Some(dtype))
            }
            None => (Tensor::zeros([n], &self.device), None),
        };
        self.parts.push(part);
        self.layout.push((n, dtype));
    }
}

/// Puts the averaged buffer back as the parameters' gradients, in the order [`Flatten`]
/// took them.
struct Split<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    seen: HashSet<ParamId>,
    flat: Tensor<B::InnerBackend, 1>,
    offset: usize,
    layout: std::vec::IntoIter<(usize, Option<DType>)>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Split<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if !self.seen.insert(param.id) {
            return; // a tied parameter, already put back
        }
        let Some((n, dtype)) = self.layout.next() else {
            return;
        };
        let part = self.flat.clone().slice(self.offset..self.offset + n);
        self.offset += n;
        if let Some(dtype) = dtype {
            let g = part.reshape(param.shape()).cast(dtype);
            self.grads.register::<B::InnerBackend, D>(param.id, g);
        }
    }
}
