//! The bare recurrence as a workload: a shape (L, B, d), random inputs prepared as kernel
//! primitives on a backend, one forward (all states saved) or forward + backward, and the
//! bytes each moves, for bandwidth figures.

use burn::tensor::{DType, Distribution, Tensor};
use sru_kernel::{
    RecurrenceConfig, RecurrenceInput, RecurrenceInputs, RecurrenceKernels, RecurrenceOptions,
};

use crate::timing::sync;

/// Values moved per element (one unit at one step) by the forward pass with all states saved:
/// reads U0, U1, U2, x; writes h, c.
pub const FORWARD_VALUES_PER_ELEMENT: usize = 6;
/// Values moved per element by the backward pass: reads U0..U2, x, c_t, c_{t-1}, grad_h;
/// writes dU0..dU2 and dx. (40 bytes in f32, as the issue counts it.)
pub const BACKWARD_VALUES_PER_ELEMENT: usize = 10;

/// One benchmark shape: sequence length L, batch B and units d (unidirectional, k = 3, skip).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// L.
    pub length: usize,
    /// B.
    pub batch: usize,
    /// d.
    pub d: usize,
}

impl Shape {
    /// Elements L·B·d.
    pub fn elements(&self) -> usize {
        self.length * self.batch * self.d
    }

    /// A short label, `L1024 B4 d3072`.
    pub fn label(&self) -> String {
        format!("L{} B{} d{}", self.length, self.batch, self.d)
    }
}

/// The grid: L ∈ {256, 1024, 4096}, B·d from 2^12 to 2^20 (B = 4).
pub fn grid() -> Vec<Shape> {
    let mut v = Vec::new();
    for length in [256, 1024, 4096] {
        for log_bd in [12, 16, 20] {
            let batch = 4;
            v.push(Shape {
                length,
                batch,
                d: (1usize << log_bd) / batch,
            });
        }
    }
    v
}

/// Prepared kernel inputs of one shape on one backend, as primitives.
pub struct Prepared<B: RecurrenceKernels> {
    /// The resolved config.
    pub config: RecurrenceConfig,
    /// The inputs.
    pub inputs: RecurrenceInputs<B>,
    /// A gradient for the packed output `(L + 1, B, d)`.
    pub grad_out: burn::tensor::ops::FloatTensor<B>,
    /// Bytes per stored value.
    pub value_bytes: usize,
}

/// Random inputs of `shape` in `dtype` on `device`.
pub fn prepare<B: RecurrenceKernels>(
    shape: Shape,
    dtype: DType,
    device: &B::Device,
) -> Prepared<B> {
    let (l, b, d) = (shape.length, shape.batch, shape.d);
    let rand = |dims: Vec<usize>| {
        Tensor::<B, 3>::random(dims, Distribution::Uniform(-1.0, 1.0), (device, dtype))
    };
    let rand1 =
        |n: usize| Tensor::<B, 1>::random([n], Distribution::Uniform(-1.0, 1.0), (device, dtype));
    let u = rand(vec![l, b, 3 * d]);
    let x = rand(vec![l, b, d]);
    let c0 = Tensor::<B, 2>::zeros([b, d], (device, dtype));
    let input = RecurrenceInput::new(u.clone(), rand1(2 * d), rand1(2 * d))
        .with_x(x.clone())
        .with_c0(c0.clone());
    let config = input
        .config(&RecurrenceOptions::default())
        .expect("benchmark inputs are valid");
    let p = |t: Tensor<B, 3>| t.into_primitive().tensor();
    let inputs = RecurrenceInputs {
        u: p(u),
        x: Some(p(x)),
        weight_c: input.weight_c.into_primitive().tensor(),
        bias: input.bias.into_primitive().tensor(),
        c0: c0.into_primitive().tensor(),
        mask_c: None,
        mask_pad: None,
    };
    let grad_out = p(rand(vec![l + 1, b, d]));
    Prepared {
        config,
        inputs,
        grad_out,
        value_bytes: dtype.size(),
    }
}

impl<B: RecurrenceKernels> Prepared<B> {
    /// Bytes moved by one forward pass.
    pub fn forward_bytes(&self) -> f64 {
        (FORWARD_VALUES_PER_ELEMENT * self.value_bytes * self.config.columns() * self.config.length)
            as f64
    }

    /// Bytes moved by one forward and one backward pass.
    pub fn forward_backward_bytes(&self) -> f64 {
        ((FORWARD_VALUES_PER_ELEMENT + BACKWARD_VALUES_PER_ELEMENT)
            * self.value_bytes
            * self.config.columns()
            * self.config.length) as f64
    }

    /// One forward pass saving all states, waited for.
    pub fn forward(&self, device: &B::Device) {
        let (out, states) = B::sru_forward_with_states(&self.config, self.inputs.clone());
        sync::<B>(device);
        drop((out, states));
    }

    /// One forward and one backward pass, waited for.
    pub fn forward_backward(&self, device: &B::Device) {
        let (out, states) = B::sru_forward_with_states(&self.config, self.inputs.clone());
        drop(out);
        let g = B::sru_backward(
            &self.config,
            self.inputs.clone(),
            states,
            self.grad_out.clone(),
        );
        sync::<B>(device);
        drop(g);
    }
}
