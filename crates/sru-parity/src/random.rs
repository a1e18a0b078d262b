//! Random-input checks of the kernels against the float64 tensor-op reference: seeded cases
//! over the whole option grid and edge shapes, the same host data run through a backend's
//! kernel and through the oracle, outputs and every gradient compared with a named tolerance.
//! Used by the kernel tests and by `cargo xtask gpu-check`.
#![allow(clippy::unwrap_used)]

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Bool, DType, Tensor, TensorData, backend::Backend};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

use crate::host::{tensor, to_f64};
use sru_kernel::{
    Activation, RecurrenceAutodiffBackend, RecurrenceInput, RecurrenceOptions, RecurrenceOutput,
    elementwise_recurrence, elementwise_recurrence_reference,
};

/// Where padded steps are in a random case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pad {
    /// No padding.
    None,
    /// Row b has its first `b + 1` steps padded.
    Left,
    /// Row b has its last `b + 1` steps padded.
    Right,
    /// Row 0 is padded at every step, the others not at all.
    Full,
    /// Random steps padded anywhere.
    Scattered,
}

/// One random case: sizes and options of a recurrence call.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Sequence length L.
    pub l: usize,
    /// Batch B.
    pub b: usize,
    /// Units per direction d.
    pub d: usize,
    /// Parts of U per unit (3 or 4).
    pub k: usize,
    /// Skip term present.
    pub skip: bool,
    /// tanh activation (else identity).
    pub tanh: bool,
    /// `scale_x` option.
    pub scale_x: Option<f64>,
    /// A dropout mask is passed.
    pub mask_c: bool,
    /// Padding pattern.
    pub pad: Pad,
    /// Two directions.
    pub bidir: bool,
}

impl Case {
    /// The kernel options of this case.
    pub fn options(&self) -> RecurrenceOptions {
        RecurrenceOptions {
            k: self.k,
            has_skip: self.skip,
            activation: if self.tanh {
                Activation::Tanh
            } else {
                Activation::Identity
            },
            scale_x: self.scale_x,
            bidirectional: self.bidir,
        }
    }
    /// Output width D.
    pub fn width(&self) -> usize {
        self.d * if self.bidir { 2 } else { 1 }
    }
}

/// The option grid: every combination of direction, k, skip and activation, with scale_x,
/// dropout mask and padding rotated through their values so each meets every other option.
pub fn option_grid() -> Vec<Case> {
    let pads = [Pad::None, Pad::Left, Pad::Right, Pad::Full, Pad::Scattered];
    let mut v = Vec::new();
    let mut i = 0usize;
    for bidir in [false, true] {
        for k in [3, 4] {
            for skip in [true, false] {
                for tanh in [false, true] {
                    for variant in 0..2 {
                        let r = i + variant;
                        v.push(Case {
                            l: 5 + (i % 4),
                            b: 3,
                            d: 5 + (i % 3),
                            k,
                            skip,
                            tanh,
                            scale_x: (r % 2 == 1).then_some(1.3),
                            mask_c: (r / 2) % 2 == 1,
                            pad: pads[r % pads.len()],
                            bidir,
                        });
                    }
                    i += 1;
                }
            }
        }
    }
    v
}

/// Edge shapes: L = 1, B = 1, odd d, wide d over several CPU chunks, and a long sequence.
pub fn shape_cases() -> Vec<Case> {
    let base = Case {
        l: 1,
        b: 1,
        d: 1,
        k: 3,
        skip: true,
        tanh: false,
        scale_x: None,
        mask_c: false,
        pad: Pad::None,
        bidir: false,
    };
    vec![
        Case {
            l: 1,
            b: 2,
            d: 3,
            ..base
        },
        Case {
            l: 7,
            b: 1,
            d: 9,
            bidir: true,
            pad: Pad::Right,
            ..base
        },
        Case {
            l: 3,
            b: 2,
            d: 301,
            mask_c: true,
            ..base
        },
        Case {
            l: 2,
            b: 3,
            d: 257,
            k: 4,
            bidir: true,
            tanh: true,
            pad: Pad::Scattered,
            ..base
        },
        Case {
            l: 2048,
            b: 2,
            d: 3,
            scale_x: Some(0.7),
            pad: Pad::Right,
            ..base
        },
        Case {
            l: 2049,
            b: 1,
            d: 2,
            k: 4,
            bidir: true,
            mask_c: true,
            ..base
        },
    ]
}

/// Host data of one case (values as f64).
pub struct HostData {
    /// U values.
    pub u: Vec<f64>,
    /// x values.
    pub x: Vec<f64>,
    /// weight_c values.
    pub wc: Vec<f64>,
    /// bias values.
    pub bias: Vec<f64>,
    /// c0 values.
    pub c0: Vec<f64>,
    /// Dropout mask values.
    pub mask_c: Option<Vec<f64>>,
    /// Padding mask (true = padded).
    pub mask_pad: Option<Vec<bool>>,
    /// Upstream gradient of h.
    pub grad_h: Vec<f64>,
    /// Upstream gradient of the last state.
    pub grad_last: Vec<f64>,
}

impl Case {
    /// Seeded inputs and upstream gradients for this case.
    pub fn data(&self, seed: u64) -> HostData {
        let mut r = Pcg64::seed_from_u64(seed);
        let vec = |r: &mut Pcg64, n: usize, lo: f64, hi: f64| -> Vec<f64> {
            (0..n).map(|_| r.random_range(lo..hi)).collect()
        };
        let (l, b, w) = (self.l, self.b, self.width());
        let mask_pad = match self.pad {
            Pad::None => None,
            Pad::Left => Some((0..l * b).map(|i| (i / b) <= (i % b)).collect()),
            Pad::Right => Some((0..l * b).map(|i| (i / b) + (i % b) + 1 >= l).collect()),
            Pad::Full => Some((0..l * b).map(|i| i % b == 0).collect()),
            Pad::Scattered => Some((0..l * b).map(|_| r.random_bool(0.3)).collect()),
        };
        HostData {
            u: vec(&mut r, l * b * w * self.k, -2.0, 2.0),
            x: vec(&mut r, l * b * w, -2.0, 2.0),
            wc: vec(&mut r, 2 * w, -1.0, 1.0),
            bias: vec(&mut r, 2 * w, -1.0, 1.0),
            c0: vec(&mut r, b * w, -1.0, 1.0),
            mask_c: self.mask_c.then(|| {
                (0..b * w)
                    .map(|_| if r.random_bool(0.3) { 0.0 } else { 1.0 / 0.7 })
                    .collect()
            }),
            mask_pad,
            grad_h: vec(&mut r, l * b * w, -1.0, 1.0),
            grad_last: vec(&mut r, b * w, -1.0, 1.0),
        }
    }
}

/// Outputs and gradients of one run, as f64.
#[derive(Debug)]
pub struct Results {
    /// Output h.
    pub h: Vec<f64>,
    /// Last state.
    pub last_c: Vec<f64>,
    /// dL/dU.
    pub du: Vec<f64>,
    /// dL/dx, when x was read.
    pub dx: Option<Vec<f64>>,
    /// dL/dweight_c.
    pub dwc: Vec<f64>,
    /// dL/dbias.
    pub dbias: Vec<f64>,
    /// dL/dc0.
    pub dc0: Vec<f64>,
}

/// Which implementation computes a run.
#[derive(Clone, Copy, PartialEq)]
pub enum Impl {
    /// [`sru_kernel::elementwise_recurrence`].
    Kernel,
    /// [`sru_kernel::elementwise_recurrence_reference`].
    Reference,
}

/// The input and, separately, the tensors that get gradients: [u, x], weight_c, bias, c0.
type Built<B> = (
    RecurrenceInput<B>,
    [Tensor<B, 3>; 2],
    Tensor<B, 1>,
    Tensor<B, 1>,
    Tensor<B, 2>,
);

fn build_input<B: Backend>(
    case: &Case,
    data: &HostData,
    dtype: DType,
    dev: &B::Device,
) -> Built<B> {
    let (l, b, w) = (case.l, case.b, case.width());
    let u = tensor::<B, 3>(&data.u, [l, b, w * case.k], dtype, dev);
    let x = tensor::<B, 3>(&data.x, [l, b, w], dtype, dev);
    let wc = tensor::<B, 1>(&data.wc, [2 * w], dtype, dev);
    let bias = tensor::<B, 1>(&data.bias, [2 * w], dtype, dev);
    let c0 = tensor::<B, 2>(&data.c0, [b, w], dtype, dev);
    let mut input = RecurrenceInput::new(u.clone(), wc.clone(), bias.clone())
        .with_x(x.clone())
        .with_c0(c0.clone());
    if let Some(m) = &data.mask_c {
        input = input.with_mask_c(tensor::<B, 2>(m, [b, w], dtype, dev));
    }
    if let Some(p) = &data.mask_pad {
        input = input.with_mask_pad(Tensor::<B, 2, Bool>::from_data(
            TensorData::new(p.clone(), [l, b]),
            dev,
        ));
    }
    (input, [u, x], wc, bias, c0)
}

/// Runs forward and backward (loss = Σ h·grad_h + Σ last_c·grad_last) on an autodiff backend.
pub fn run<B: RecurrenceAutodiffBackend>(
    which: Impl,
    case: &Case,
    data: &HostData,
    dtype: DType,
    dev: &B::Device,
) -> Results {
    let (l, b, w) = (case.l, case.b, case.width());
    let (mut input, [u, x], wc, bias, c0) = build_input::<B>(case, data, dtype, dev);
    let u = u.require_grad();
    let x = x.require_grad();
    let (wc, bias, c0) = (wc.require_grad(), bias.require_grad(), c0.require_grad());
    input.u = u.clone();
    input.x = Some(x.clone());
    input.weight_c = wc.clone();
    input.bias = bias.clone();
    input.c0 = Some(c0.clone());
    let out: RecurrenceOutput<B> = match which {
        Impl::Kernel => elementwise_recurrence(input, &case.options()).unwrap(),
        Impl::Reference => elementwise_recurrence_reference(input, &case.options()).unwrap(),
    };
    let gh = tensor::<B, 3>(&data.grad_h, [l, b, w], dtype, dev);
    let gl = tensor::<B, 2>(&data.grad_last, [b, w], dtype, dev);
    let loss = (out.h.clone() * gh).sum() + (out.last_c.clone() * gl).sum();
    let g = loss.backward();
    Results {
        h: to_f64(out.h),
        last_c: to_f64(out.last_c),
        du: to_f64(u.grad(&g).unwrap()),
        dx: x.grad(&g).map(to_f64),
        dwc: to_f64(wc.grad(&g).unwrap()),
        dbias: to_f64(bias.grad(&g).unwrap()),
        dc0: to_f64(c0.grad(&g).unwrap()),
    }
}

/// Forward only, on a backend without autodiff (the kernels' no-state path).
pub fn run_forward<B: sru_kernel::RecurrenceBackend>(
    case: &Case,
    data: &HostData,
    dtype: DType,
    dev: &B::Device,
) -> (Vec<f64>, Vec<f64>) {
    let (input, ..) = build_input::<B>(case, data, dtype, dev);
    let out = elementwise_recurrence(input, &case.options()).unwrap();
    (to_f64(out.h), to_f64(out.last_c))
}

/// The oracle: the tensor-op reference in float64 on the CPU.
pub fn oracle(case: &Case, data: &HostData) -> Results {
    run::<Autodiff<Flex>>(Impl::Reference, case, data, DType::F64, &Default::default())
}

/// `max|a - b| / max(1, max|b|)`, infinite on NaN or length mismatch.
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    let scale = b.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
    a.iter().zip(b).fold(0.0_f64, |m, (x, y)| {
        let e = (x - y).abs();
        if e.is_nan() { f64::INFINITY } else { m.max(e) }
    }) / scale
}

/// Asserts every output and gradient of `got` is within `tol` (relative to scale) of `want`.
pub fn assert_close(label: &str, case: &Case, got: &Results, want: &Results, tol: f64) {
    let mut fails = Vec::new();
    let mut check = |name: &str, a: &[f64], b: &[f64]| {
        let e = rel_err(a, b);
        if e.is_nan() || e > tol {
            fails.push(format!("{name}: rel err {e:.3e} > {tol:.0e}"));
        }
    };
    check("h", &got.h, &want.h);
    check("last_c", &got.last_c, &want.last_c);
    check("dU", &got.du, &want.du);
    check("dweight_c", &got.dwc, &want.dwc);
    check("dbias", &got.dbias, &want.dbias);
    check("dc0", &got.dc0, &want.dc0);
    match (&got.dx, &want.dx) {
        (Some(a), Some(b)) => check("dx", a, b),
        (None, None) => {}
        (a, b) => fails.push(format!(
            "dx presence differs: got {} want {}",
            a.is_some(),
            b.is_some()
        )),
    }
    assert!(
        fails.is_empty(),
        "[{label}] {case:?}\n  {}",
        fails.join("\n  ")
    );
}

/// Rounds host data through a storage dtype (so the oracle sees what a half run sees).
pub fn round_through(data: &HostData, dtype: DType) -> HostData {
    let r = |v: &Vec<f64>| -> Vec<f64> {
        match dtype {
            DType::F16 => v.iter().map(|&x| half::f16::from_f64(x).to_f64()).collect(),
            DType::BF16 => v
                .iter()
                .map(|&x| half::bf16::from_f64(x).to_f64())
                .collect(),
            DType::F32 => v.iter().map(|&x| x as f32 as f64).collect(),
            _ => v.clone(),
        }
    };
    HostData {
        u: r(&data.u),
        x: r(&data.x),
        wc: r(&data.wc),
        bias: r(&data.bias),
        c0: r(&data.c0),
        mask_c: data.mask_c.as_ref().map(r),
        mask_pad: data.mask_pad.clone(),
        grad_h: r(&data.grad_h),
        grad_last: r(&data.grad_last),
    }
}

/// Runs every case of `cases` on backend `B` in `dtype` against the f64 oracle.
pub fn check_backend<B: RecurrenceAutodiffBackend>(
    label: &str,
    cases: &[Case],
    dtype: DType,
    tol: f64,
    dev: &B::Device,
) where
    B::InnerBackend: sru_kernel::RecurrenceBackend,
{
    for (i, case) in cases.iter().enumerate() {
        let data = round_through(&case.data(1000 + i as u64), dtype);
        let want = oracle(case, &data);
        let got = run::<B>(Impl::Kernel, case, &data, dtype, dev);
        assert_close(label, case, &got, &want, tol);
        let (h, last) = run_forward::<B::InnerBackend>(case, &data, dtype, dev);
        let (eh, el) = (rel_err(&h, &want.h), rel_err(&last, &want.last_c));
        assert!(
            eh <= tol && el <= tol,
            "[{label} inner forward] {case:?}: h {eh:.3e}, last_c {el:.3e}"
        );
    }
}
