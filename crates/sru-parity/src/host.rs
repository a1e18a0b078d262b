//! Host data ↔ Burn tensors for the parity checks: f64 values narrowed to the dtype under
//! test on the way in, read back as f64 on the way out.

use burn::tensor::{DType, Shape, Tensor, TensorData, backend::Backend};

use crate::fixture::StoredTensor;

/// A tensor of `dtype` on `dev` from host values (f64, narrowed as `dtype` requires).
pub fn tensor<B: Backend, const D: usize>(
    v: &[f64],
    shape: impl Into<Shape>,
    dtype: DType,
    dev: &B::Device,
) -> Tensor<B, D> {
    let data = TensorData::new(v.to_vec(), shape);
    let data = match dtype {
        DType::F64 => data,
        DType::F16 => data.convert::<half::f16>(),
        DType::BF16 => data.convert::<half::bf16>(),
        _ => data.convert::<f32>(),
    };
    Tensor::from_data(data, (dev, dtype))
}

/// Builds a float tensor of `dtype` from a stored tensor.
pub fn to_tensor<B: Backend, const D: usize>(
    t: &StoredTensor,
    dtype: DType,
    device: &B::Device,
) -> Tensor<B, D> {
    tensor(&t.values, t.shape.clone(), dtype, device)
}

/// Reads a tensor back as f64 values.
pub fn to_f64<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .expect("f64 data after conversion")
}
