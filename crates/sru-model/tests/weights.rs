//! Importing what the official PyTorch code produced: a `state_dict` saved with `torch.save`
//! by `sru==3.0.0.dev6` (fixtures/weights, made by fixtures/scripts/make_weights.py) loads,
//! reproduces the official logits, round-trips through safetensors, and bad checkpoints are
//! reported by key.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};

use burn::backend::Flex;
use burn::tensor::{DType, Int, Tensor, TensorData};
use sru_model::weights::{self, StateDict};
use sru_model::{LanguageModel, ModelConfig, OutputLayer, SruppLmConfig};

type B = Flex;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/weights")
}

fn config() -> ModelConfig {
    ModelConfig::from(SruppLmConfig {
        vocab_size: 23,
        n_d: 16,
        n_proj: 8,
        depth: 3,
        num_heads: 2,
        attention_every_n_layers: 2,
        ..Default::default()
    })
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
    let OutputLayer::Dense(lin) = &model.as_srupp().unwrap().output_layer else {
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

/// A word-level model as the official WikiText-103 (`tie_projections`) or Billion Word script
/// builds it, with 40 words in clusters [0, 10), [10, 20), [20, 40).
fn word_config(tie_projections: bool) -> ModelConfig {
    ModelConfig::from(SruppLmConfig {
        vocab_size: 40,
        n_d: 16,
        n_proj: 8,
        depth: 2,
        adaptive: Some(sru_model::AdaptiveConfig {
            cutoffs: vec![10, 20],
            div_val: 2,
            n_e: 16,
            tie_projections,
        }),
        ..Default::default()
    })
}

fn word_nll(model: &LanguageModel<B>) -> Vec<f64> {
    let ids: Vec<i64> = (0..12).map(|i| (i * 7 + 3) % 40).collect();
    let t = |v: &[i64]| {
        Tensor::<B, 2, Int>::from_data(TensorData::new(v.to_vec(), [6, 2]), &Default::default())
    };
    let mut shifted = ids.clone();
    shifted.rotate_left(1);
    let out = model.forward_hidden(t(&ids), None, None).unwrap();
    model
        .token_nll(out.hidden, t(&shifted))
        .unwrap()
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .unwrap()
}

/// The official layout: the head `output_layer.out_layers.0` holds the shortlist and then one
/// row per cluster, and a tied model repeats each projection as `embedding_layer.emb_projs.<i>`.
/// Export writes exactly those keys; they load back (through a file) to the same model.
#[test]
fn word_level_models_round_trip_through_the_official_layout() {
    for tie in [true, false] {
        let model = word_config(tie).init::<B>(&Default::default()).unwrap();
        let dict = weights::state_dict(&model).unwrap();
        assert_eq!(
            dict["output_layer.out_layers.0.weight"].shape.to_vec(),
            vec![10 + 2, 16],
            "shortlist + 2 cluster rows, (out, in)"
        );
        assert_eq!(
            dict["output_layer.out_layers.0.bias"].shape.to_vec(),
            vec![12]
        );
        assert_eq!(
            dict["output_layer.out_layers.2.weight"].shape.to_vec(),
            vec![20, 4]
        );
        let mut keys: Vec<&str> = dict.keys().map(String::as_str).collect();
        keys.retain(|k| !k.starts_with("rnn."));
        assert_eq!(
            keys,
            [
                "embedding_layer.emb_projs.0",
                "embedding_layer.emb_projs.1",
                "embedding_layer.emb_projs.2",
                "output_layer.out_layers.0.bias",
                "output_layer.out_layers.0.weight",
                "output_layer.out_layers.1.bias",
                "output_layer.out_layers.1.weight",
                "output_layer.out_layers.2.bias",
                "output_layer.out_layers.2.weight",
                "output_layer.out_projs.0",
                "output_layer.out_projs.1",
                "output_layer.out_projs.2",
            ]
        );
        let same =
            |a: &str, b: &str| dict[a].clone().convert::<f32>() == dict[b].clone().convert::<f32>();
        assert_eq!(
            same("embedding_layer.emb_projs.1", "output_layer.out_projs.1"),
            tie,
            "tied projections are written twice, untied ones are separate tensors"
        );
        let path = std::env::temp_dir().join(format!(
            "sru-model-word-{tie}-{}.safetensors",
            std::process::id()
        ));
        weights::write_safetensors(&dict, &path).unwrap();
        let fresh = word_config(tie).init::<B>(&Default::default()).unwrap();
        assert_ne!(word_nll(&fresh), word_nll(&model));
        let back = weights::load_state_dict(fresh, weights::read_safetensors(&path).unwrap(), None)
            .unwrap();
        assert_eq!(word_nll(&back), word_nll(&model));
        assert_eq!(
            weights::state_dict(&back)
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            dict.keys().collect::<Vec<_>>()
        );
        std::fs::remove_file(path).ok();
    }
}

/// A tied duplicate that differs from the tensor it repeats is refused by name; a checkpoint
/// without the duplicates (each tied tensor once) loads.
#[test]
fn tied_duplicates_must_equal_their_tensor() {
    let model = word_config(true).init::<B>(&Default::default()).unwrap();
    let mut dict = weights::state_dict(&model).unwrap();
    let mut without = dict.clone();
    without.retain(|k, _| !k.starts_with("embedding_layer."));
    let fresh = || word_config(true).init::<B>(&Default::default()).unwrap();
    let back = weights::load_state_dict(fresh(), without, None).unwrap();
    assert_eq!(word_nll(&back), word_nll(&model));
    let shape = dict["embedding_layer.emb_projs.2"].shape.clone();
    let n: usize = shape.iter().product();
    dict.insert(
        "embedding_layer.emb_projs.2".into(),
        TensorData::new(vec![0.5f32; n], shape),
    );
    let e = weights::load_state_dict(fresh(), dict, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("embedding_layer.emb_projs.2") && e.contains("output_layer.out_projs.2"),
        "{e}"
    );
}
