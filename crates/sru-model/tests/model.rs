//! Behaviour of the model beyond parity: incremental decoding equals a full forward, the
//! official initialisation statistics, the adaptive softmax is a distribution, configs are
//! validated.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use burn::backend::{Autodiff, Flex};
use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use sru_model::{
    AdaptiveConfig, Decoder, InputLayer, ModelConfig, ModelError, SruppConfig, SruppLmConfig,
    TransformModule, preset,
};

type B = Flex;

/// The `tiny` preset's SRU++ settings, to vary.
fn tiny() -> SruppLmConfig {
    preset("tiny").unwrap().as_srupp().unwrap().clone()
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

#[test]
fn token_by_token_decoding_equals_one_full_forward() {
    let dev = Default::default();
    let cfg = ModelConfig::from(SruppLmConfig {
        vocab_size: 17,
        n_d: 24,
        n_proj: 8,
        depth: 3,
        num_heads: 2,
        ..Default::default()
    });
    let model = cfg.init::<B>(&dev).unwrap();
    // alpha = 0 would switch attention off: make it matter.
    let model = {
        let mut m = model;
        for cell in &mut m.as_srupp_mut().unwrap().rnn.rnn_lst {
            if let TransformModule::Attention(a) = &mut cell.transform_module {
                a.alpha = a.alpha.clone().map(|t| t.add_scalar(0.8));
            }
        }
        m
    };
    let seq: Vec<i64> = (0..14).map(|i| (i * 7 + 3) % 17).collect();
    let window = 5;
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
    let err = full
        .iter()
        .zip(&stepped)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(err < 1e-5, "token-by-token vs full forward: {err:e}");

    let mut dec = Decoder::new(&model, window);
    let mut chunked = host(dec.feed(&seq[..6], &dev).unwrap());
    chunked.extend(host(dec.feed(&seq[6..], &dev).unwrap()));
    let err = full
        .iter()
        .zip(&chunked)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(err < 1e-5, "chunked vs full forward: {err:e}");
}

#[test]
fn fresh_model_has_the_official_initialisation() {
    let cfg = ModelConfig::from(SruppLmConfig {
        vocab_size: 50,
        n_d: 64,
        n_proj: 16,
        depth: 3,
        dropout: 0.2,
        ..Default::default()
    });
    let model = cfg.init::<B>(&Default::default()).unwrap();
    let v = |t: Tensor<B, 1>| t.into_data().convert::<f32>().to_vec::<f32>().unwrap();
    for (i, cell) in model.as_srupp().unwrap().rnn.rnn_lst.iter().enumerate() {
        let wc = v(cell.weight_c.val());
        assert!(
            wc.iter().all(|x| x.abs() <= 1.0) && wc.iter().any(|x| x.abs() > 0.5),
            "weight_c ~ U(-1, 1)"
        );
        let b = v(cell.bias.val());
        assert!(b[..64].iter().all(|&x| x == 0.0), "forget bias 0");
        assert!(
            b[64..].iter().all(|&x| x == -2.0),
            "reset bias = highway_bias"
        );
        let expected_dropout = if i + 1 == 3 { 0.0 } else { 0.2 };
        assert_eq!(
            cell.recurrence_dropout, expected_dropout,
            "no recurrence dropout in the last layer"
        );
        let TransformModule::Attention(a) = &cell.transform_module else {
            panic!("attention everywhere")
        };
        assert_eq!(v(a.alpha.val()), vec![0.0], "alpha starts at 0");
        // Xavier bound of W3 (16 -> 192), scaled by sqrt(1 - 0.2).
        let bound = (6.0f32 / (16.0 + 192.0)).sqrt() * 0.8f32.sqrt();
        let w3 = a
            .linear3
            .weight
            .val()
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .unwrap();
        let max = w3.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(
            max <= bound && max > 0.8 * bound,
            "W3 max {max} vs bound {bound}"
        );
    }
    let InputLayer::Dense(emb) = &model.as_srupp().unwrap().embedding_layer else {
        panic!()
    };
    let e = emb
        .weight
        .val()
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .unwrap();
    let bound = (3.0f32 / 64.0).sqrt();
    assert!(
        e.iter().all(|x| x.abs() <= bound),
        "embedding ~ U(±sqrt(3/d))"
    );
}

#[test]
fn parameter_count_formula_matches_the_built_model() {
    for cfg in [
        preset("tiny").unwrap(),
        ModelConfig::from(SruppLmConfig {
            attention_every_n_layers: 2,
            depth: 4,
            layer_norm: true,
            ..tiny()
        }),
        ModelConfig::from(SruppLmConfig {
            vocab_size: 100,
            adaptive: Some(AdaptiveConfig {
                cutoffs: vec![20, 60],
                div_val: 2,
                n_e: 16,
                tie_projections: false,
            }),
            ..tiny()
        }),
        ModelConfig::from(SruppLmConfig {
            vocab_size: 100,
            adaptive: Some(AdaptiveConfig {
                cutoffs: vec![20, 60],
                div_val: 2,
                n_e: 16,
                tie_projections: true,
            }),
            ..tiny()
        }),
    ] {
        let model = cfg.init::<B>(&Default::default()).unwrap();
        assert_eq!(model.num_params(), cfg.num_params(), "{cfg:?}");
    }
}

#[test]
fn adaptive_softmax_is_a_distribution_and_nll_agrees_with_it() {
    let cfg = ModelConfig::from(SruppLmConfig {
        vocab_size: 40,
        n_d: 16,
        n_proj: 8,
        depth: 2,
        adaptive: Some(AdaptiveConfig {
            cutoffs: vec![10, 25],
            div_val: 2,
            n_e: 8,
            tie_projections: true,
        }),
        ..Default::default()
    });
    let dev = Default::default();
    let model = cfg.init::<Autodiff<B>>(&dev).unwrap();
    let ids: Vec<i64> = (0..12).map(|i| (i * 11) % 40).collect();
    let x =
        Tensor::<Autodiff<B>, 2, Int>::from_data(TensorData::new(ids[..6].to_vec(), [3, 2]), &dev);
    let y =
        Tensor::<Autodiff<B>, 2, Int>::from_data(TensorData::new(ids[6..].to_vec(), [3, 2]), &dev);
    let out = model.forward_hidden(x, None, None).unwrap();
    let lp = model.log_probs(out.hidden.clone()).unwrap(); // (3, 2, 40)
    let sums = lp
        .clone()
        .exp()
        .sum_dim(2)
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .unwrap();
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{sums:?}");
    let nll = model.token_nll(out.hidden, y.clone()).unwrap();
    let via_full = lp.gather(2, y.reshape([3, 2, 1])).reshape([3, 2]).neg();
    let d = (nll.clone() - via_full).abs().max().into_scalar();
    assert!(d < 1e-5, "cluster-wise NLL vs full log-softmax: {d}");
    // Gradients reach the tied tables through both the input and the softmax.
    let grads = nll.mean().backward();
    let sru_model::OutputLayer::Adaptive(s) = &model.as_srupp().unwrap().output_layer else {
        panic!()
    };
    assert!(s.out_layers[1].weight.grad(&grads).is_some());
}

#[test]
fn inconsistent_configs_are_refused() {
    let both = SruppConfig {
        input_size: 8,
        hidden_size: 8,
        proj_size: 4,
        attention_every_n_layers: 2,
        attention_last_n_layers: Some(1),
        ..Default::default()
    };
    let e = both.init::<B>(&Default::default()).unwrap_err().to_string();
    assert!(e.contains("cannot both be set"), "{e}");
    let heads = ModelConfig::from(SruppLmConfig {
        n_proj: 10,
        num_heads: 3,
        ..tiny()
    });
    assert!(
        heads
            .init::<B>(&Default::default())
            .unwrap_err()
            .to_string()
            .contains("divisible")
    );
    let cut = ModelConfig::from(SruppLmConfig {
        adaptive: Some(AdaptiveConfig {
            cutoffs: vec![300],
            div_val: 4,
            n_e: 64,
            tie_projections: true,
        }),
        ..tiny()
    });
    assert!(
        cut.init::<B>(&Default::default())
            .unwrap_err()
            .to_string()
            .contains("cutoffs")
    );
}

#[test]
fn wrong_state_shape_is_an_error_not_a_panic() {
    let dev = Default::default();
    let model = preset("tiny").unwrap().init::<B>(&dev).unwrap();
    let mut state = model.zero_state(3, &dev);
    state.c = Some(Tensor::zeros([2, 2, 64], &dev)); // batch 2, tokens have batch 1
    let e = model
        .forward_hidden(tokens(&[1, 2, 3]), Some(state), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("c0"), "{e}");
}

/// Ids outside the vocabulary are refused with the id and the vocabulary size, for dense and
/// adaptive layers alike, as inputs and as targets (an adaptive softmax used to put an
/// out-of-range id into its last cluster and clamp a negative one to 0).
#[test]
fn token_ids_outside_the_vocabulary_are_errors_naming_the_id() {
    let dev = Default::default();
    let adaptive = ModelConfig::from(SruppLmConfig {
        vocab_size: 40,
        adaptive: Some(AdaptiveConfig {
            cutoffs: vec![10, 20],
            div_val: 2,
            n_e: 16,
            tie_projections: true,
        }),
        ..tiny()
    });
    for cfg in [preset("tiny").unwrap(), adaptive] {
        let v = cfg.vocab_size() as i64;
        let model = cfg.init::<B>(&dev).unwrap();
        for (x, y, role, id) in [
            (vec![1, 2, 3], vec![2, 3, v], "target", v),
            (vec![1, 2, 3], vec![2, 3, -1], "target", -1),
            (vec![1, v + 5, 3], vec![2, 3, 4], "input", v + 5),
        ] {
            let e = model.loss(tokens(&x), tokens(&y), None, None).unwrap_err();
            assert!(
                matches!(&e, ModelError::TokenOutOfRange { role: r, id: i, vocab_size }
                    if *r == role && *i == id && *vocab_size == cfg.vocab_size()),
                "{e}"
            );
            assert!(e.to_string().contains(&id.to_string()), "{e}");
        }
        let out = model
            .forward_hidden(tokens(&[1, 2, 3]), None, None)
            .unwrap();
        assert!(model.token_nll(out.hidden, tokens(&[1, 2, v])).is_err());
        assert!(model.forward_hidden(tokens(&[v]), None, None).is_err());
    }
}
