//! The fused forward ops on Flex (f32 and f64) against the same math from Burn's tensor ops:
//! strided head views as the SRU++ layer passes them, query blocks that do not divide L,
//! rows that are not a multiple of the softmax lanes, with and without the mask and bias.

#![allow(clippy::unwrap_used)]

use burn::backend::Flex;
use burn::tensor::activation::softmax;
use burn::tensor::module::linear as burn_linear;
use burn::tensor::{DType, Distribution, ElementConversion, Tensor};
use sru_kernel::{KernelError, attention, linear};

type B = Flex;

fn random<const D: usize>(shape: [usize; D], dtype: DType) -> Tensor<B, D> {
    Tensor::<B, D>::random(shape, Distribution::Normal(0.0, 1.0), &Default::default()).cast(dtype)
}

/// Largest |a - b| / (1 + |b|).
fn worst<const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f64 {
    let (a, b) = (a.cast(DType::F64), b.cast(DType::F64));
    let err = (a - b.clone()).abs() / (b.abs() + 1.0);
    err.max().into_scalar().elem::<f64>()
}

/// A causal mask `(L, S)` over a memory of S - L positions: 0 where visible, -10000 above.
fn causal(l: usize, s: usize, dtype: DType) -> Tensor<B, 2> {
    let m = s - l;
    let rows: Vec<f32> = (0..l)
        .flat_map(|i| (0..s).map(move |j| if j > m + i { -10000.0 } else { 0.0 }))
        .collect();
    Tensor::<B, 1>::from_floats(rows.as_slice(), &Default::default())
        .reshape([l, s])
        .cast(dtype)
}

fn check_attention(n: usize, l: usize, s: usize, hd: usize, masked: bool, dtype: DType, tol: f64) {
    // The layer's head views: `(len, N, hd)` tensors seen as `(N, len, hd)`.
    let q = random([l, n, hd], dtype).swap_dims(0, 1);
    let k = random([s, n, hd], dtype).swap_dims(0, 1);
    let v = random([s, n, hd], dtype).swap_dims(0, 1);
    let mask = masked.then(|| causal(l, s, dtype));
    let got = attention(q.clone(), k.clone(), v.clone(), mask.clone()).unwrap();
    assert_eq!(got.dims(), [l, n, hd]);
    assert_eq!(got.dtype(), dtype);
    let mut w = q.matmul(k.swap_dims(1, 2));
    if let Some(mask) = mask {
        w = w + mask.unsqueeze_dim(0);
    }
    let want = softmax(w, 2).matmul(v).swap_dims(0, 1);
    let err = worst(got, want);
    assert!(
        err < tol,
        "attention N{n} L{l} S{s} hd{hd} mask {masked} {dtype:?}: error {err:e}"
    );
}

#[test]
fn attention_matches_tensor_ops() {
    for (dtype, tol) in [(DType::F64, 1e-13), (DType::F32, 2e-6)] {
        for masked in [true, false] {
            check_attention(3, 70, 130, 8, masked, dtype, tol);
            check_attention(2, 64, 64, 16, masked, dtype, tol);
            check_attention(1, 1, 5, 4, masked, dtype, tol);
            check_attention(4, 129, 258, 32, masked, dtype, tol);
        }
    }
}

#[test]
fn attention_without_memory_masks_the_future_exactly() {
    // Row 0 sees only key 0, so its output is exactly v_0 (weights 1 and e^-10000 = 0).
    let (n, l, hd) = (2, 5, 4);
    let q = random([n, l, hd], DType::F32);
    let k = random([n, l, hd], DType::F32);
    let v = random([n, l, hd], DType::F32);
    let got = attention(q, k, v.clone(), Some(causal(l, l, DType::F32))).unwrap();
    let first = got.slice([0..1, 0..n, 0..hd]).reshape([n, hd]);
    let v0 = v.slice([0..n, 0..1, 0..hd]).reshape([n, hd]);
    assert!(worst(first, v0) < 1e-6);
}

#[test]
fn attention_propagates_nan() {
    let (n, l, hd) = (1, 3, 4);
    let q = random([n, l, hd], DType::F32);
    let k = random([n, l, hd], DType::F32) * f32::NAN;
    let v = random([n, l, hd], DType::F32);
    let got = attention(q, k, v, None).unwrap();
    assert!(got.is_nan().all().into_scalar());
}

#[test]
fn linear_matches_burn_linear() {
    for (dtype, tol) in [(DType::F64, 1e-13), (DType::F32, 1e-5)] {
        for (m, d_in, d_out) in [(300, 48, 200), (1, 3, 5), (1024, 512, 128)] {
            let w = random([d_in, d_out], dtype);
            let bias = random([d_out], dtype);
            // Contiguous input, and a transposed view of the same values.
            let x = random([m, d_in], dtype);
            let xt = x.clone().transpose().into_data();
            let x_view = Tensor::<B, 2>::from_data(xt, &Default::default())
                .cast(dtype)
                .transpose();
            for x in [x.clone(), x_view] {
                for b in [Some(bias.clone()), None] {
                    let got = linear(x.clone(), w.clone(), b.clone()).unwrap();
                    let want = burn_linear(x.clone(), w.clone(), b);
                    let err = worst(got, want);
                    assert!(err < tol, "linear {m}×{d_in}→{d_out} {dtype:?}: {err:e}");
                }
            }
        }
    }
}

#[test]
fn linear_gradients_match_burn_linear() {
    use burn::backend::Autodiff;
    type A = Autodiff<Flex>;
    for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
        for (m, d_in, d_out, with_bias, x_tracked) in [
            (300, 48, 200, true, true),
            (7, 3, 5, false, true),
            (64, 16, 8, true, false),
        ] {
            let lift = |t: Tensor<B, 2>| {
                Tensor::<A, 2>::from_data(t.into_data(), &Default::default()).cast(dtype)
            };
            let x = lift(random([m, d_in], dtype));
            let x = if x_tracked { x.require_grad() } else { x };
            let w = lift(random([d_in, d_out], dtype)).require_grad();
            let b = with_bias.then(|| {
                Tensor::<A, 1>::from_data(random([d_out], dtype).into_data(), &Default::default())
                    .cast(dtype)
                    .require_grad()
            });
            // A loss that weighs every output differently.
            let weights = lift(random([m, d_out], dtype));
            let grads_of = |y: Tensor<A, 2>| (y * weights.clone()).sum().backward();
            let got = grads_of(linear(x.clone(), w.clone(), b.clone()).unwrap());
            let want = grads_of(burn_linear(x.clone(), w.clone(), b.clone()));
            let dw = worst(w.grad(&got).unwrap(), w.grad(&want).unwrap());
            assert!(dw < tol, "dW {m}×{d_in}→{d_out} {dtype:?}: {dw:e}");
            if x_tracked {
                let dx = worst(x.grad(&got).unwrap(), x.grad(&want).unwrap());
                assert!(dx < tol, "dx {m}×{d_in}→{d_out} {dtype:?}: {dx:e}");
            } else {
                assert!(x.grad(&got).is_none());
            }
            if let Some(b) = &b {
                let db = worst(b.grad(&got).unwrap(), b.grad(&want).unwrap());
                assert!(db < tol, "db {m}×{d_in}→{d_out} {dtype:?}: {db:e}");
            }
        }
    }
}

#[test]
fn mismatched_shapes_are_refused_with_the_shape() {
    let x = random([4, 3], DType::F32);
    let err = linear(x.clone(), random([5, 2], DType::F32), None).unwrap_err();
    assert!(
        matches!(err, KernelError::Shape { name: "weight", .. }),
        "{err}"
    );
    let err = linear(x, random([3, 2], DType::F32), Some(random([3], DType::F32))).unwrap_err();
    assert!(
        matches!(err, KernelError::Shape { name: "bias", .. }),
        "{err}"
    );
    let q = random([2, 3, 4], DType::F32);
    let k = random([2, 6, 4], DType::F32);
    let err = attention(q.clone(), k.clone(), random([2, 5, 4], DType::F32), None).unwrap_err();
    assert!(matches!(err, KernelError::Shape { name: "v", .. }), "{err}");
    let err = attention(q, k.clone(), k, Some(random([3, 5], DType::F32))).unwrap_err();
    assert!(err.to_string().contains("mask"), "{err}");
}
