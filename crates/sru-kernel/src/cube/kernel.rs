//! The `#[cube]` source of the recurrence, one source for every CubeCL runtime (WGPU, CUDA).
//!
//! Work split: one thread per column `col = b·D + dir·d + j` of the `B·D` independent
//! recurrences, a sequential time loop inside the thread (forward direction t = 0 … L-1,
//! backward direction L-1 … 0), as the official CUDA kernel does. Neighbouring threads read
//! neighbouring columns, so each time step's loads are coalesced.
//!
//! Precision: tensors are stored in `F` (f32, f16, bf16, or f64 where the device has it);
//! every value is widened to f32 on load and all arithmetic, the carried state and the
//! per-column weight_c / bias gradient sums are f32.
//!
//! Forward (per step, spec §1.2):
//! ```text
//! f = σ(U1 + v_f·c + b_f)   r = σ(U2 + v_r·c + b_r)   c' = (c - U0)·f + U0   g = act(c')
//! h = (g - x')·m·r + x'  |  g·m·r        padded: c' = c, h = 0
//! ```
//! Backward (reverse processing order, spec §1.3), reading the saved states:
//! ```text
//! gr = gh·(g - x')·m·r(1-r)      gc = gh·m·r·act'(c') + gc_next     gf = gc·(c - U0)·f(1-f)
//! gc_next = gc·f + gf·v_f + gr·v_r     dU = [gc(1-f), gf, gr, gh(1 - m·r)]   dx = gh(1 - m·r)·scale
//! ```
//! Optional inputs (x, mask_c, mask_pad) are passed as placeholders when absent; comptime
//! flags make sure they are never read.

use cubecl::prelude::*;

#[cube]
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + f32::exp(-z))
}

#[cube]
fn activation(c: f32, #[comptime] tanh: bool) -> f32 {
    if tanh { f32::tanh(c) } else { c }
}

/// Forward kernel; `out (L + 1, B, D)`, `states (L, B, D)` written when `save`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn sru_forward_kernel<F: Float>(
    u: &Tensor<F>,
    x: &Tensor<F>,
    weight_c: &Tensor<F>,
    bias: &Tensor<F>,
    c0: &Tensor<F>,
    mask_c: &Tensor<F>,
    mask_pad: &Tensor<F>,
    out: &mut Tensor<F>,
    states: &mut Tensor<F>,
    d: u32,
    scale: f32,
    #[comptime] k: usize,
    #[comptime] skip_x: bool,
    #[comptime] skip_u3: bool,
    #[comptime] tanh: bool,
    #[comptime] has_mask_c: bool,
    #[comptime] has_mask_pad: bool,
    #[comptime] save: bool,
    #[define(F)] _dtype: StorageType,
) {
    let col = ABSOLUTE_POS;
    let l = u.shape(0);
    let batch = u.shape(1);
    let width = c0.shape(1);
    let plane = batch * width;
    if col >= plane {
        terminate!();
    }
    let b = col / width;
    let unit = col % width;
    let backward_dir = unit >= d as usize;
    let vf = f32::cast_from(weight_c[unit]);
    let vr = f32::cast_from(weight_c[width + unit]);
    let bf = f32::cast_from(bias[unit]);
    let br = f32::cast_from(bias[width + unit]);
    let mut m = 1.0f32;
    if has_mask_c {
        m = f32::cast_from(mask_c[col]);
    }
    let mut c = f32::cast_from(c0[col]);
    for step in 0..l {
        let mut t = step;
        if backward_dir {
            t = l - 1 - step;
        }
        let i = t * plane + col;
        let mut padded = false;
        if has_mask_pad {
            padded = f32::cast_from(mask_pad[t * batch + b]) != 0.0;
        }
        if padded {
            out[i] = F::cast_from(0.0f32);
        } else {
            let base = i * k;
            let u0 = f32::cast_from(u[base]);
            let u1 = f32::cast_from(u[base + 1]);
            let u2 = f32::cast_from(u[base + 2]);
            let f = sigmoid(u1 + vf * c + bf);
            let r = sigmoid(u2 + vr * c + br);
            c = (c - u0) * f + u0;
            let g = activation(c, tanh);
            let mr = m * r;
            let mut h = g * mr;
            if skip_x {
                let xp = f32::cast_from(x[i]) * scale;
                h = (g - xp) * mr + xp;
            }
            if skip_u3 {
                let xp = f32::cast_from(u[base + 3]);
                h = (g - xp) * mr + xp;
            }
            out[i] = F::cast_from(h);
        }
        if save {
            states[i] = F::cast_from(c);
        }
    }
    out[l * plane + col] = F::cast_from(c);
}

/// Backward kernel; writes `grad_u`, `grad_x` (when `skip_x`), `grad_c0` and the per-column
/// sums over time `partial_wc = [gvf; gvr] (2, B, D)`, `partial_bias = [gbf; gbr]`, in f32.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn sru_backward_kernel<F: Float>(
    u: &Tensor<F>,
    x: &Tensor<F>,
    weight_c: &Tensor<F>,
    bias: &Tensor<F>,
    c0: &Tensor<F>,
    mask_c: &Tensor<F>,
    mask_pad: &Tensor<F>,
    states: &Tensor<F>,
    grad_out: &Tensor<F>,
    grad_u: &mut Tensor<F>,
    grad_x: &mut Tensor<F>,
    grad_c0: &mut Tensor<F>,
    partial_wc: &mut Tensor<f32>,
    partial_bias: &mut Tensor<f32>,
    d: u32,
    scale: f32,
    #[comptime] k: usize,
    #[comptime] skip_x: bool,
    #[comptime] skip_u3: bool,
    #[comptime] tanh: bool,
    #[comptime] has_mask_c: bool,
    #[comptime] has_mask_pad: bool,
    #[define(F)] _dtype: StorageType,
) {
    let col = ABSOLUTE_POS;
    let l = u.shape(0);
    let batch = u.shape(1);
    let width = c0.shape(1);
    let plane = batch * width;
    if col >= plane {
        terminate!();
    }
    let b = col / width;
    let unit = col % width;
    let backward_dir = unit >= d as usize;
    let vf = f32::cast_from(weight_c[unit]);
    let vr = f32::cast_from(weight_c[width + unit]);
    let bf = f32::cast_from(bias[unit]);
    let br = f32::cast_from(bias[width + unit]);
    let mut m = 1.0f32;
    if has_mask_c {
        m = f32::cast_from(mask_c[col]);
    }
    let mut gc_next = f32::cast_from(grad_out[l * plane + col]);
    let mut gvf = 0.0f32;
    let mut gvr = 0.0f32;
    let mut gbf = 0.0f32;
    let mut gbr = 0.0f32;
    for rstep in 0..l {
        // Reverse processing order: forward direction t = L-1 … 0, backward direction 0 … L-1.
        let step = l - 1 - rstep;
        let mut t = step;
        if backward_dir {
            t = l - 1 - step;
        }
        let i = t * plane + col;
        let base = i * k;
        let mut padded = false;
        if has_mask_pad {
            padded = f32::cast_from(mask_pad[t * batch + b]) != 0.0;
        }
        if padded {
            #[unroll]
            for p in 0..k {
                grad_u[base + p] = F::cast_from(0.0f32);
            }
            if skip_x {
                grad_x[i] = F::cast_from(0.0f32);
            }
        } else {
            let mut cp = f32::cast_from(c0[col]);
            if step > 0 {
                let mut tp = t - 1;
                if backward_dir {
                    tp = t + 1;
                }
                cp = f32::cast_from(states[tp * plane + col]);
            }
            let ct = f32::cast_from(states[i]);
            let u0 = f32::cast_from(u[base]);
            let u1 = f32::cast_from(u[base + 1]);
            let u2 = f32::cast_from(u[base + 2]);
            let f = sigmoid(u1 + vf * cp + bf);
            let r = sigmoid(u2 + vr * cp + br);
            let g = activation(ct, tanh);
            let mut dg = 1.0f32;
            if tanh {
                dg = 1.0 - g * g;
            }
            let mut xp = 0.0f32;
            if skip_x {
                xp = f32::cast_from(x[i]) * scale;
            }
            if skip_u3 {
                xp = f32::cast_from(u[base + 3]);
            }
            let gh = f32::cast_from(grad_out[i]);
            let gr = gh * (g - xp) * m * r * (1.0 - r);
            gbr += gr;
            gvr += gr * cp;
            let gct = gh * m * r * dg + gc_next;
            let gf = gct * (cp - u0) * f * (1.0 - f);
            gbf += gf;
            gvf += gf * cp;
            gc_next = gct * f + gf * vf + gr * vr;
            grad_u[base] = F::cast_from(gct * (1.0 - f));
            grad_u[base + 1] = F::cast_from(gf);
            grad_u[base + 2] = F::cast_from(gr);
            let gxs = gh * (1.0 - r * m);
            if comptime![k == 4] {
                let mut g3 = 0.0f32;
                if skip_u3 {
                    g3 = gxs;
                }
                grad_u[base + 3] = F::cast_from(g3);
            }
            if skip_x {
                grad_x[i] = F::cast_from(gxs * scale);
            }
        }
    }
    grad_c0[col] = F::cast_from(gc_next);
    partial_wc[col] = gvf;
    partial_wc[plane + col] = gvr;
    partial_bias[col] = gbf;
    partial_bias[plane + col] = gbr;
}
