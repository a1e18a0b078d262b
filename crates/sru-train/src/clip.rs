//! Gradient clipping by the global norm over all parameters, as PyTorch's
//! `clip_grad_norm_(params, max_norm)`: ‖g‖ = √(Σ_p Σ g_p²); if ‖g‖ > max_norm every gradient
//! is scaled by max_norm / (‖g‖ + 1e-6). Burn's own clipping works per tensor, which is a
//! different recipe.

use std::collections::HashSet;

use burn::module::{AutodiffModule, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::ElementConversion;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{DType, Tensor};

/// The global L2 norm of the gradients of `module`'s parameters (one device sync).
pub fn global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &GradientsParams,
) -> f64 {
    struct Norm<'a, B: AutodiffBackend> {
        grads: &'a GradientsParams,
        sum: Option<Tensor<B::InnerBackend, 1>>,
        seen: HashSet<ParamId>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Norm<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if !self.seen.insert(param.id) {
                return; // a tied parameter counts once
            }
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                let s = g.cast(DType::F32).square().sum();
                self.sum = Some(match self.sum.take() {
                    Some(acc) => acc + s,
                    None => s,
                });
            }
        }
    }
    let mut v = Norm::<B> {
        grads,
        sum: None,
        seen: HashSet::new(),
    };
    module.visit(&mut v);
    v.sum
        .map_or(0.0, |s| f64::from(s.into_scalar().elem::<f32>()).sqrt())
}

/// Multiplies every gradient of `module`'s parameters by `factor`.
pub fn scale<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &mut GradientsParams,
    factor: f64,
) {
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: f64,
        seen: HashSet<ParamId>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if !self.seen.insert(param.id) {
                return;
            }
            if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
                self.grads.register(param.id, g.mul_scalar(self.factor));
            }
        }
    }
    module.visit(&mut Scale {
        grads,
        factor,
        seen: HashSet::new(),
    });
}

/// Clips in place to `max_norm` (0: no clipping) and returns the norm before clipping.
pub fn clip_global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> f64 {
    let norm = global_norm::<B, M>(module, grads);
    if max_norm > 0.0 && norm.is_finite() && norm > max_norm {
        scale::<B, M>(module, grads, max_norm / (norm + 1e-6));
    }
    norm
}
