//! For downstream users: build the paper's enwik8-base SRU++ (108M parameters) on the CPU,
//! count its parameters, run a forward pass over a short byte sequence, and generate a few
//! bytes with the stateful decoder.
//!
//! Run: `cargo run --release -p sru-model --example enwik8_base`
//! (an untrained model: the bytes are random, the point is the API).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use burn::backend::Flex;
use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use sru_model::{Decoder, preset};

fn main() -> Result<(), sru_model::ModelError> {
    let device = Default::default();
    let config = preset("enwik8-base")?;
    let model = config.init::<Flex>(&device)?;
    println!(
        "enwik8-base: {} parameters ({} by the formula)",
        model.num_params(),
        config.num_params()
    );

    // A forward pass over 16 bytes, one stream: tokens are time-major (L, B).
    let text: Vec<i64> = b"SRU++ in Rust..."
        .iter()
        .map(|&b| i64::from(b) % config.vocab_size() as i64)
        .collect();
    let tokens =
        Tensor::<Flex, 2, Int>::from_data(TensorData::new(text.clone(), [text.len(), 1]), &device);
    let (loss, state) = model.loss(tokens.clone(), tokens, None, None)?;
    println!(
        "mean NLL on the prompt (untrained): {:.3} nats; state c: {:?}",
        loss.into_scalar(),
        state.c.as_ref().map(|c| c.dims())
    );

    // Generate 8 bytes greedily, feeding one token at a time with a bounded attention window.
    let mut decoder = Decoder::new(&model, 64);
    let mut next = decoder
        .feed(&text, &device)?
        .argmax(1)
        .into_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .unwrap()[text.len() - 1];
    let mut generated = Vec::new();
    for _ in 0..8 {
        generated.push(next);
        next = decoder
            .step(next, &device)?
            .argmax(0)
            .into_data()
            .convert::<i64>()
            .to_vec::<i64>()
            .unwrap()[0];
    }
    println!("generated token ids: {generated:?}");
    Ok(())
}
