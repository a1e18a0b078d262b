//! Attention masks of the language models (spec §3.2), additive floats `(L, M + L)` with 0
//! where a query may look and -10000 where it may not. Query row i sits at absolute position
//! r = M + i; key j is visible iff j ≤ r (training mask, `same_length = false`), and with a
//! window W additionally iff j ≥ r - W (evaluation mask, `same_length = true`, W = M in the
//! official scripts).

use burn::tensor::{DType, Tensor, TensorData, backend::Backend};

/// The value the official scripts add at masked positions.
pub const MASKED: f64 = -10000.0;

/// Builds the additive mask for `l` queries over `m` memory positions plus the segment.
///
/// `window`: `None` for the causal training mask; `Some(w)` for the sliding window of w + 1
/// positions used in evaluation.
pub fn attention_mask<B: Backend>(
    l: usize,
    m: usize,
    window: Option<usize>,
    dtype: DType,
    device: &B::Device,
) -> Tensor<B, 2> {
    let s = m + l;
    let mut v = vec![0.0f64; l * s];
    for i in 0..l {
        let r = m + i;
        for j in 0..s {
            let visible = j <= r && window.is_none_or(|w| j + w >= r);
            if !visible {
                v[i * s + j] = MASKED;
            }
        }
    }
    let data = TensorData::new(v, [l, s]);
    let data = if dtype == DType::F64 {
        data
    } else {
        data.convert::<f32>()
    };
    Tensor::from_data(data, (device, dtype))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn training_mask_is_causal_over_memory_and_segment() {
        let m = attention_mask::<Flex>(2, 3, None, DType::F32, &Default::default());
        let v = m.into_data().to_vec::<f32>().unwrap();
        // row 0 (r = 3) sees keys 0..=3; row 1 (r = 4) sees 0..=4
        assert_eq!(v[..5], [0.0, 0.0, 0.0, 0.0, -10000.0]);
        assert_eq!(v[5..], [0.0; 5]);
    }

    #[test]
    fn eval_mask_is_a_sliding_window() {
        let m = attention_mask::<Flex>(2, 3, Some(2), DType::F32, &Default::default());
        let v = m.into_data().to_vec::<f32>().unwrap();
        // row 0 (r = 3) sees 1..=3; row 1 (r = 4) sees 2..=4
        assert_eq!(v[..5], [-10000.0, 0.0, 0.0, 0.0, -10000.0]);
        assert_eq!(v[5..], [-10000.0, -10000.0, 0.0, 0.0, 0.0]);
    }
}
