//! Malformed calls are refused with an error naming the offending tensor, never a panic.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use burn::backend::Flex;
use burn::tensor::{Bool, DType, Tensor};
use sru_kernel::{KernelError, RecurrenceInput, RecurrenceOptions, elementwise_recurrence};

type B = Flex;

fn input(l: usize, b: usize, d: usize, k: usize) -> RecurrenceInput<B> {
    let dev = Default::default();
    RecurrenceInput::new(
        Tensor::zeros([l, b, d * k], &dev),
        Tensor::zeros([2 * d], &dev),
        Tensor::zeros([2 * d], &dev),
    )
    .with_x(Tensor::zeros([l, b, d], &dev))
}

fn err(input: RecurrenceInput<B>, opts: RecurrenceOptions) -> KernelError {
    elementwise_recurrence(input, &opts).unwrap_err()
}

#[test]
fn wrong_k_is_refused() {
    let e = err(
        input(2, 1, 4, 3),
        RecurrenceOptions {
            k: 5,
            ..Default::default()
        },
    );
    assert_eq!(e, KernelError::InvalidK(5));
}

#[test]
fn u_width_not_a_multiple_of_dirs_k_is_refused() {
    let e = err(
        input(2, 1, 3, 3),
        RecurrenceOptions {
            bidirectional: true,
            ..Default::default()
        },
    );
    assert!(
        matches!(
            e,
            KernelError::UFeatures {
                features: 9,
                dirs: 2,
                k: 3
            }
        ),
        "{e}"
    );
}

#[test]
fn misshapen_weight_c_is_named() {
    let dev = Default::default();
    let mut i = input(3, 2, 4, 3);
    i.weight_c = Tensor::zeros([7], &dev);
    let e = err(i, RecurrenceOptions::default());
    assert!(e.to_string().contains("weight_c"), "{e}");
    assert!(
        e.to_string().contains("[7]") && e.to_string().contains("[8]"),
        "{e}"
    );
}

#[test]
fn misshapen_x_c0_and_masks_are_named() {
    let dev = Default::default();
    let cases: Vec<(&str, RecurrenceInput<B>)> = vec![
        (
            "x",
            input(3, 2, 4, 3).with_x(Tensor::zeros([3, 2, 5], &dev)),
        ),
        ("c0", input(3, 2, 4, 3).with_c0(Tensor::zeros([1, 4], &dev))),
        (
            "mask_c",
            input(3, 2, 4, 3).with_mask_c(Tensor::zeros([2, 3], &dev)),
        ),
        (
            "mask_pad",
            input(3, 2, 4, 3).with_mask_pad(Tensor::<B, 2, Bool>::empty([2, 3], &dev)),
        ),
    ];
    for (name, i) in cases {
        let e = err(i, RecurrenceOptions::default());
        assert!(
            matches!(&e, KernelError::Shape { name: n, .. } if *n == name),
            "{name}: {e}"
        );
    }
}

#[test]
fn missing_x_with_skip_is_refused_but_not_needed_for_k4() {
    let mut i = input(2, 1, 4, 3);
    i.x = None;
    assert_eq!(err(i, RecurrenceOptions::default()), KernelError::MissingX);
    let mut i = input(2, 1, 4, 4);
    i.x = None;
    let out = elementwise_recurrence(
        i,
        &RecurrenceOptions {
            k: 4,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(out.h.dims(), [2, 1, 4]);
}

#[test]
fn empty_and_mixed_dtype_inputs_are_refused() {
    let e = err(input(0, 1, 4, 3), RecurrenceOptions::default());
    assert!(matches!(e, KernelError::Empty(_)), "{e}");
    let dev = Default::default();
    let mut i = input(2, 1, 4, 3);
    i.bias = Tensor::zeros([8], (&dev, DType::F64));
    let e = err(i, RecurrenceOptions::default());
    assert!(matches!(&e, KernelError::DType { name: "bias", .. }), "{e}");
}

#[test]
fn non_finite_scale_x_is_refused() {
    let e = err(
        input(2, 1, 4, 3),
        RecurrenceOptions {
            scale_x: Some(f64::NAN),
            ..Default::default()
        },
    );
    assert!(matches!(e, KernelError::ScaleX(_)), "{e}");
}

#[test]
fn cuda_unavailability_is_an_error_not_a_panic() {
    // Without the `cuda` feature, or on a machine without a driver, this must be an Err.
    if let Err(e) = sru_kernel::device::cuda_device_count() {
        assert!(e.to_string().to_lowercase().contains("cuda"), "{e}");
    }
}

/// A float tensor of a dtype the kernel does not compute in (here a quantized one) is refused
/// with `UnsupportedDType`, where the CPU kernel used to panic.
#[test]
fn an_unsupported_float_dtype_is_refused() {
    use burn::tensor::quantization::QuantScheme;
    let q = |t: Tensor<B, 3>| t.quantize_dynamic(&QuantScheme::default());
    let dev = Default::default();
    let (l, b, d) = (2, 1, 4);
    let u = q(Tensor::ones([l, b, 3 * d], &dev));
    let dtype = u.dtype();
    assert!(!matches!(
        dtype,
        DType::F32 | DType::F64 | DType::F16 | DType::BF16
    ));
    let w = |n: usize| {
        Tensor::<B, 3>::ones([1, 1, n], &dev)
            .quantize_dynamic(&QuantScheme::default())
            .reshape([n])
    };
    let input =
        RecurrenceInput::new(u, w(2 * d), w(2 * d)).with_x(q(Tensor::ones([l, b, d], &dev)));
    let e = err(
        input.with_c0(
            Tensor::<B, 3>::ones([1, b, d], &dev)
                .quantize_dynamic(&QuantScheme::default())
                .reshape([b, d]),
        ),
        RecurrenceOptions::default(),
    );
    assert!(
        matches!(&e, KernelError::UnsupportedDType { dtype: t, .. } if *t == format!("{dtype:?}")),
        "{e}"
    );
}
