//! The recurrence written with ordinary Burn tensor ops: valid on every backend, differentiable
//! by Burn's own autodiff, slow (a few ops per time step). It is the oracle the kernels are
//! tested against and the fallback for a backend without a kernel.
//!
//! Per direction, for t in processing order (forward: 0..L, backward direction: L-1..0):
//! ```text
//! f = σ(U1 + v_f·c + b_f)   r = σ(U2 + v_r·c + b_r)   c' = (c - U0)·f + U0   g = act(c')
//! h = (g - x')·m·r + x'  (or g·m·r)          padded step (p = 1): c' = c, h = 0
//! ```

use burn::tensor::{Tensor, activation::sigmoid, backend::Backend, s};

use crate::api::{RecurrenceInput, RecurrenceOutput};
use crate::error::KernelError;
use crate::options::{Activation, RecurrenceOptions, Skip};

/// [`crate::elementwise_recurrence`] computed from tensor ops on any backend.
///
/// # Errors
/// The same validation errors as [`crate::elementwise_recurrence`].
pub fn elementwise_recurrence_reference<B: Backend>(
    input: RecurrenceInput<B>,
    options: &RecurrenceOptions,
) -> Result<RecurrenceOutput<B>, KernelError> {
    let cfg = input.config(options)?;
    let (l, b, d, k, dirs) = (cfg.length, cfg.batch, cfg.d, cfg.k, cfg.dirs);
    let width = cfg.width();
    let pad = input.mask_pad_float(); // (L, B)
    let c0 = input.c0_or_zeros(&cfg); // (B, D)
    let u = input.u.clone().reshape([l, b, dirs, d, k]); // (L, B, dir, d, k)
    let part = |dir: usize, m: usize| -> Tensor<B, 3> {
        u.clone()
            .slice(s![.., .., dir..dir + 1, .., m..m + 1])
            .reshape([l, b, d]) // (L, B, d)
    };
    let cols = |t: Tensor<B, 1>, dir: usize, half: usize| -> Tensor<B, 2> {
        let start = half * width + dir * d;
        t.slice(s![start..start + d]).reshape([1, d]) // (1, d), broadcast over B
    };
    let mut hs_dirs = Vec::with_capacity(dirs);
    let mut last = Vec::with_capacity(dirs);
    for dir in 0..dirs {
        let (u0, u1, u2) = (part(dir, 0), part(dir, 1), part(dir, 2));
        let skip = match cfg.skip {
            Skip::None => None,
            Skip::FourthPart => Some(part(dir, 3)),
            Skip::Input { scale } => input.x.clone().map(|x| {
                x.slice(s![.., .., dir * d..(dir + 1) * d])
                    .mul_scalar(scale)
            }),
        };
        let (vf, vr) = (
            cols(input.weight_c.clone(), dir, 0),
            cols(input.weight_c.clone(), dir, 1),
        );
        let (bf, br) = (
            cols(input.bias.clone(), dir, 0),
            cols(input.bias.clone(), dir, 1),
        );
        let m = input
            .mask_c
            .clone()
            .map(|m| m.slice(s![.., dir * d..(dir + 1) * d])); // (B, d)
        let mut c = c0.clone().slice(s![.., dir * d..(dir + 1) * d]); // (B, d)
        let mut hs: Vec<Option<Tensor<B, 3>>> = vec![None; l];
        let order: Vec<usize> = if dir == 0 {
            (0..l).collect()
        } else {
            (0..l).rev().collect()
        };
        for t in order {
            let at = |x: &Tensor<B, 3>| x.clone().slice(s![t..t + 1, .., ..]).reshape([b, d]);
            let f = sigmoid(at(&u1) + c.clone() * vf.clone() + bf.clone());
            let r = sigmoid(at(&u2) + c.clone() * vr.clone() + br.clone());
            let u0t = at(&u0);
            let c_new = (c.clone() - u0t.clone()) * f + u0t;
            let g = match cfg.activation {
                Activation::Identity => c_new.clone(),
                Activation::Tanh => c_new.clone().tanh(),
            };
            let mr = match &m {
                Some(m) => r * m.clone(),
                None => r,
            };
            let mut h = match &skip {
                Some(xs) => {
                    let xt = at(xs);
                    (g - xt.clone()) * mr + xt
                }
                None => g * mr,
            };
            c = match &pad {
                Some(p) => {
                    let p = p.clone().slice(s![t..t + 1, ..]).reshape([b, 1]); // (B, 1)
                    let keep = p.clone().neg().add_scalar(1.0);
                    h = h * keep.clone();
                    c_new * keep + c * p
                }
                None => c_new,
            };
            hs[t] = Some(h.unsqueeze_dim(0)); // (1, B, d)
        }
        hs_dirs.push(Tensor::cat(hs.into_iter().flatten().collect(), 0)); // (L, B, d)
        last.push(c);
    }
    Ok(RecurrenceOutput {
        h: Tensor::cat(hs_dirs, 2),
        last_c: Tensor::cat(last, 1),
    })
}
