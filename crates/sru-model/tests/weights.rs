//! Importing what the official PyTorch code produced: a `state_dict` saved with `torch.save`
//! by `sru==3.0.0.dev6` (fixtures/weights, made by fixtures/scripts/make_weights.py) loads,
//! reproduces the official logits, round-trips through safetensors, and bad checkpoints are
//! reported by key.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};

use burn::backend::Flex;
use burn::tensor::{DType, Int, Tensor, TensorData};
use sru_model::weights::{self, StateDict};
use sru_model::{LanguageModel, LmConfig, OutputLayer};

type B = Flex;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/weights")
}

fn config() -> LmConfig {
    LmConfig {
        vocab_size: 23,
        n_d: 16,
        n_proj: 8,
        depth: 3,
        num_heads: 2,
        attention_every_n_layers: 2,
        ..Default::default()
    }
}

fn io() -> (Tensor<B, 2, Int>, Vec<f64>) {
    let st = weights::read_safetensors(&dir().join("tiny_lm_io.safetensors")).unwrap();
    let t = st["tokens"].clone();
    let tokens = Tensor::from_data(
        TensorData::new(t.convert::<i64>().to_vec::<i64>().unwrap(), [6, 2]),
        &Default::default(),
    );
    (
        tokens,
        st["logits"]
            .clone()
            .convert::<f64>()
            .to_vec::<f64>()
            .unwrap(),
    )
}

fn logits(model: &LanguageModel<B>, tokens: Tensor<B, 2, Int>) -> Vec<f64> {
    let out = model.forward_hidden(tokens, None, None).unwrap();
    let OutputLayer::Dense(lin) = &model.output_layer else {
        panic!("byte model")
    };
    lin.forward(out.hidden)
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .unwrap()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn load_pt() -> LanguageModel<B> {
    let dict = weights::read_pytorch(&dir().join("tiny_lm.pt"), None).unwrap();
    let model = config().init::<B>(&Default::default()).unwrap();
    weights::load_state_dict(model, dict, Some(DType::F32)).unwrap()
}

#[test]
fn official_pt_checkpoint_reproduces_official_logits() {
    let model = load_pt();
    let (tokens, want) = io();
    let got = logits(&model, tokens);
    let err = max_diff(&got, &want);
    assert!(err < 1e-4, "max |logit - official| = {err:e}");
}

#[test]
fn safetensors_export_round_trips() {
    let model = load_pt();
    let path = std::env::temp_dir().join(format!(
        "sru-model-export-{}.safetensors",
        std::process::id()
    ));
    let dict = weights::state_dict(&model).unwrap();
    assert!(dict.contains_key("rnn.rnn_lst.1.transform_module.linear3.weight"));
    assert!(dict.contains_key("rnn.rnn_lst.0.scale_x"));
    assert_eq!(
        dict["output_layer.weight"].shape.to_vec(),
        vec![23, 16],
        "PyTorch layout (out, in)"
    );
    weights::write_safetensors(&dict, &path).unwrap();
    let back = weights::load_state_dict(
        config().init::<B>(&Default::default()).unwrap(),
        weights::read_safetensors(&path).unwrap(),
        None,
    )
    .unwrap();
    let (tokens, _) = io();
    assert_eq!(
        max_diff(&logits(&model, tokens.clone()), &logits(&back, tokens)),
        0.0
    );
    std::fs::remove_file(path).ok();
}

fn load_err(edit: impl FnOnce(&mut StateDict)) -> String {
    let mut dict = weights::read_pytorch(&dir().join("tiny_lm.pt"), None).unwrap();
    edit(&mut dict);
    let model = config().init::<B>(&Default::default()).unwrap();
    weights::load_state_dict(model, dict, None)
        .unwrap_err()
        .to_string()
}

#[test]
fn a_missing_key_is_named() {
    let e = load_err(|d| {
        d.remove("rnn.rnn_lst.1.weight_c");
    });
    assert!(
        e.contains("missing") && e.contains("rnn.rnn_lst.1.weight_c"),
        "{e}"
    );
}

#[test]
fn a_misshapen_key_is_named() {
    let e = load_err(|d| {
        d.insert(
            "output_layer.bias".into(),
            TensorData::new(vec![0.0f32; 5], [5]),
        );
    });
    assert!(e.contains("output_layer.bias"), "{e}");
}

#[test]
fn an_unexpected_key_is_named() {
    let e = load_err(|d| {
        d.insert(
            "decoder.extra.weight".into(),
            TensorData::new(vec![0.0f32; 2], [2]),
        );
    });
    assert!(
        e.contains("unexpected") && e.contains("decoder.extra.weight"),
        "{e}"
    );
}

#[test]
fn a_scale_x_buffer_that_disagrees_with_the_config_is_named() {
    let e = load_err(|d| {
        d.insert(
            "rnn.rnn_lst.0.scale_x".into(),
            TensorData::new(vec![3.0f32], [1]),
        );
    });
    assert!(e.contains("rnn.rnn_lst.0.scale_x"), "{e}");
}

#[test]
fn a_corrupt_file_is_a_clear_error() {
    let path = std::env::temp_dir().join(format!(
        "sru-model-corrupt-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&path, b"not a safetensors file").unwrap();
    let e = weights::read_safetensors(&path).unwrap_err().to_string();
    assert!(e.contains("not a valid safetensors"), "{e}");
    let e = weights::read_pytorch(&path, None).unwrap_err().to_string();
    assert!(e.contains("cannot read PyTorch file"), "{e}");
    std::fs::remove_file(path).ok();
}
