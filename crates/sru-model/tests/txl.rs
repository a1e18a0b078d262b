//! The Transformer-XL baseline as a language model: decoding equals a full forward with the
//! same window, the memories follow the original's rules, and bad input is refused by name.

use burn::backend::Flex;
use burn::tensor::{Int, Tensor, TensorData};
use sru_model::{Decoder, LmState, ModelConfig, ModelError, TxlConfig, preset};

type B = Flex;

fn config(mem_len: usize) -> ModelConfig {
    TxlConfig {
        vocab_size: 17,
        d_model: 16,
        n_layer: 3,
        n_head: 2,
        d_head: 8,
        d_inner: 24,
        mem_len,
        ..TxlConfig::default()
    }
    .into()
}

fn tokens(v: &[i64]) -> Tensor<B, 2, Int> {
    Tensor::from_data(
        TensorData::new(v.to_vec(), [v.len(), 1]),
        &Default::default(),
    )
}

fn host(t: Tensor<B, 2>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
}

fn max_err(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn token_by_token_decoding_equals_one_full_forward() {
    let dev = Default::default();
    let model = config(8).init::<B>(&dev).unwrap().materialized();
    let seq: Vec<i64> = (0..13).map(|i| (i * 5 + 3) % 17).collect();
    let window = 4;
    let full = model
        .forward_hidden(tokens(&seq), None, Some(window))
        .unwrap();
    let full = host(
        model
            .log_probs(full.hidden)
            .unwrap()
            .reshape([seq.len(), 17]),
    );
    let mut dec = Decoder::new(&model, window);
    let mut stepped = Vec::new();
    for &t in &seq {
        stepped.extend(host(dec.step(t, &dev).unwrap().reshape([1, 17])));
    }
    assert_eq!(dec.context_len(), window, "memory is bounded by the window");
    assert!(
        max_err(&full, &stepped) < 1e-5,
        "{:e}",
        max_err(&full, &stepped)
    );
    let mut dec = Decoder::new(&model, window);
    let mut chunked = host(dec.feed(&seq[..6], &dev).unwrap());
    chunked.extend(host(dec.feed(&seq[6..], &dev).unwrap()));
    assert!(
        max_err(&full, &chunked) < 1e-5,
        "{:e}",
        max_err(&full, &chunked)
    );
}

#[test]
fn memories_are_every_layer_input_cut_to_mem_len() {
    let dev = Default::default();
    let model = config(5).init::<B>(&dev).unwrap();
    let (_, s1) = model
        .loss(tokens(&[1, 2, 3]), tokens(&[2, 3, 4]), None, None)
        .unwrap();
    assert!(s1.c.is_none());
    assert_eq!(s1.memory.len(), 4, "n_layer + 1 memories");
    assert!(s1.memory.iter().all(|m| m.dims() == [3, 1, 16]));
    let (_, s2) = model
        .loss(
            tokens(&[4, 5, 6, 7]),
            tokens(&[5, 6, 7, 8]),
            Some(s1.detach()),
            None,
        )
        .unwrap();
    assert!(
        s2.memory.iter().all(|m| m.dims() == [5, 1, 16]),
        "cut to mem_len 5"
    );
    // without memory nothing is carried
    let (_, s) = config(0)
        .init::<B>(&dev)
        .unwrap()
        .loss(tokens(&[1, 2]), tokens(&[2, 3]), None, None)
        .unwrap();
    assert!(s.memory.is_empty());
}

#[test]
fn bad_input_is_refused_by_name() {
    let dev = Default::default();
    let model = config(4).init::<B>(&dev).unwrap();
    let e = model
        .loss(tokens(&[1, 17]), tokens(&[2, 3]), None, None)
        .unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::TokenOutOfRange {
                role: "input",
                id: 17,
                ..
            }
        ),
        "{e}"
    );
    let wrong = LmState {
        c: None,
        memory: vec![Tensor::zeros([2, 1, 16], &dev); 2],
    };
    let e = model
        .loss(tokens(&[1]), tokens(&[2]), Some(wrong), None)
        .unwrap_err();
    assert!(e.to_string().contains("memory"), "{e}");
    let mut odd = config(4);
    odd.as_transformer_xl_mut().unwrap().d_model = 15;
    assert!(
        odd.init::<B>(&dev)
            .unwrap_err()
            .to_string()
            .contains("even")
    );
}

#[test]
fn the_base_preset_is_the_original_41m_model() {
    let c = preset("txl-enwik8-base").unwrap();
    let t = c.as_transformer_xl().unwrap();
    assert_eq!(
        (
            t.n_layer, t.d_model, t.n_head, t.d_head, t.d_inner, t.mem_len
        ),
        (12, 512, 8, 64, 2048, 512)
    );
    // 12 × (5·512·512 + 2·512·2048 + 2048 + 5·512) + 205·512 + 205 + 2·512
    assert_eq!(
        c.num_params(),
        12 * (5 * 512 * 512 + 2 * 512 * 2048 + 2048 + 5 * 512) + 205 * 512 + 205 + 2 * 512
    );
}
