//! The official initialisation of the bias-free projections in SRU++ layers (spec §2.1-2.2):
//! Xavier-uniform weights; the projection that produces U is scaled by sqrt(1 - dropout).

use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::backend::Backend;

/// `nn.Linear(i, o, bias=False)` with `xavier_uniform_`.
pub(crate) fn xavier_linear<B: Backend>(i: usize, o: usize, device: &B::Device) -> Linear<B> {
    LinearConfig::new(i, o)
        .with_bias(false)
        .with_initializer(Initializer::XavierUniform { gain: 1.0 })
        .init(device)
}

/// The last projection (d' → k·D): Xavier-uniform, then `weight *= sqrt(1 - dropout)`.
pub(crate) fn output_projection<B: Backend>(
    i: usize,
    o: usize,
    dropout: f64,
    device: &B::Device,
) -> Linear<B> {
    let mut lin = xavier_linear::<B>(i, o, device);
    if dropout > 0.0 {
        let scale = (1.0 - dropout).sqrt();
        lin.weight = lin.weight.map(|w| w.mul_scalar(scale));
    }
    lin
}
