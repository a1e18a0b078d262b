//! Mixed precision as the official `torch.cuda.amp`: under f16 the products run in f16 while
//! parameters, gradients, optimizer state and checkpoints stay f32, and LayerNorm, softmax,
//! log-softmax and the loss run in f32. Checked against the f32 computation of the same model
//! on the CPU (Flex has f16 matrix products) and on WGPU (lavapipe in CI).
//!
//! Tolerances: f16 has an 11-bit significand (relative rounding 4.9e-4 per value). The loss, a
//! mean over tokens, must agree with f32 within 1e-3 relative (measured: ≤ 1e-5 on Flex and
//! lavapipe) and every token's NLL within 1e-2 nats (measured ≤ 5e-4), the global gradient
//! within 1e-2 relative (L2 norm of the difference over the L2
//! norm; measured 5–7e-4), and six training updates within 2e-3 of the f32 losses (measured
//! ≤ 2e-6). A wrong op in the half path (such as an f16 row pick that returned wrong values on
//! WGPU, 0.4 nats on some tokens) fails them.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::sync::atomic::AtomicBool;

use burn::backend::{Autodiff, Flex};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{DType, Int, Tensor, TensorData};
use common::{scratch, tiny_config};
use sru_kernel::RecurrenceAutodiffBackend;
use sru_model::{AdaptiveConfig, Autocast, LanguageModel, ModelConfig, SruppLmConfig, preset};
use sru_train::{Event, Precision, RunOptions, TrainingBackend, train};

/// Each parameter's gradient: (dtype, values as f64).
fn gradients<B: AutodiffBackend>(
    model: &LanguageModel<B>,
    grads: &B::Gradients,
) -> Vec<(DType, Vec<f64>)> {
    struct V<'a, B: AutodiffBackend>(&'a B::Gradients, Vec<(DType, Vec<f64>)>);
    impl<B: AutodiffBackend> ModuleVisitor<B> for V<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = param.val().grad(self.0) {
                let dtype = g.dtype();
                self.1
                    .push((dtype, g.into_data().convert::<f64>().to_vec().unwrap()));
            }
        }
    }
    let mut v = V::<B>(grads, Vec::new());
    model.visit(&mut v);
    v.1
}

fn word_model() -> ModelConfig {
    ModelConfig::from(SruppLmConfig {
        vocab_size: 60,
        n_d: 32,
        n_proj: 16,
        depth: 3,
        num_heads: 2,
        attention_every_n_layers: 2,
        layer_norm: true,
        adaptive: Some(AdaptiveConfig {
            cutoffs: vec![20, 40],
            div_val: 2,
            n_e: 32,
            tie_projections: true,
        }),
        ..Default::default()
    })
}

/// One forward and backward of `config`'s model, two segments with the state carried, in f32
/// and under f16 autocast: every gradient is f32, and loss and gradient agree within the
/// stated tolerances.
fn autocast_matches_f32<B: RecurrenceAutodiffBackend>(config: &ModelConfig, device: &B::Device) {
    let model = config.init::<B>(device).unwrap();
    let v = config.vocab_size() as i64;
    let ids: Vec<i64> = (0..64).map(|i| (i * 17 + 5) % v).collect();
    let seg = |from: usize| {
        let t = |o: usize| {
            Tensor::<B, 2, Int>::from_data(
                TensorData::new(ids[from + o..from + o + 16].to_vec(), [8, 2]),
                device,
            )
        };
        (t(0), t(1))
    };
    let run = |m: &LanguageModel<B>| {
        let (x1, y1) = seg(0);
        let (x2, y2) = seg(20);
        let (l1, state) = m.loss(x1, y1, None, None).unwrap();
        let (l2, _) = m.loss(x2, y2, Some(state.detach()), None).unwrap();
        let loss = l1 + l2;
        assert_eq!(loss.dtype(), DType::F32, "the loss is f32");
        let value = f64::from(loss.clone().into_scalar().elem::<f32>());
        let grads = loss.backward();
        (value, gradients(m, &grads))
    };
    let per_token = |m: &LanguageModel<B>| -> Vec<f64> {
        let (x, y) = seg(0);
        let out = m.forward_hidden(x, None, None).unwrap();
        let nll = m.token_nll(out.hidden, y).unwrap();
        assert_eq!(nll.dtype(), DType::F32, "the per-token loss is f32");
        nll.into_data().convert::<f64>().to_vec().unwrap()
    };
    let (l32, g32) = run(&model);
    let t32 = per_token(&model);
    let half = model.with_autocast(Autocast::Half(DType::F16));
    let (l16, g16) = run(&half);
    let worst = per_token(&half)
        .iter()
        .zip(&t32)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    eprintln!("per-token NLL: max |f16 - f32| = {worst:.2e} nats");
    assert!(worst <= 1e-2, "a token's f16 NLL is {worst} nats off");
    eprintln!("loss f32 {l32:.6}, f16 autocast {l16:.6}");
    assert!(
        (l16 - l32).abs() <= 1e-3 * l32.abs(),
        "f16 loss {l16} vs f32 {l32}"
    );
    assert_eq!(g16.len(), g32.len(), "every parameter gets a gradient");
    assert!(
        g16.iter().all(|(d, _)| *d == DType::F32),
        "gradients of the f32 parameters are f32"
    );
    let (mut diff, mut norm) = (0.0, 0.0);
    for ((_, a), (_, b)) in g16.iter().zip(&g32) {
        for (x, y) in a.iter().zip(b) {
            diff += (x - y) * (x - y);
            norm += y * y;
        }
    }
    let rel = (diff / norm).sqrt();
    eprintln!("relative gradient difference {rel:.2e}");
    assert!(rel <= 1e-2, "relative gradient difference {rel}");
}

use burn::tensor::ElementConversion;

/// Burn's CPU random generator is one per process: the tests take turns, so that a run's
/// initialisation does not depend on another test's draws.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn cpu_f16_autocast_matches_f32() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dev = Default::default();
    let mut byte = preset("tiny").unwrap();
    byte.set_vocab_size(60);
    autocast_matches_f32::<Autodiff<Flex>>(&byte, &dev);
    autocast_matches_f32::<Autodiff<Flex>>(&word_model(), &dev);
}

/// Training updates in f16 against f32: the same losses within 2e-3, and checkpoints that
/// hold f32 weights.
fn f16_training_matches_f32<B: TrainingBackend>(device: B::Device, name: &str) {
    let run = |precision: Precision| {
        let mut config = tiny_config(6);
        config.model.set_dropouts(0.0, 0.0, 0.0);
        config.precision = precision;
        let dir = scratch(&format!("{name}-{precision:?}"));
        let stop = AtomicBool::new(false);
        let opts = RunOptions {
            run_dir: dir.clone(),
            resume: false,
            stop: &stop,
            link: None,
        };
        let mut losses = Vec::new();
        train::<B>(&config, std::slice::from_ref(&device), &opts, &mut |e| {
            if let Event::Step { loss, .. } = e {
                losses.push(loss);
            }
        })
        .unwrap();
        (losses, dir)
    };
    let (l32, _) = run(Precision::F32);
    let (l16, dir) = run(Precision::F16);
    eprintln!("{name}: f32 {l32:?}\n{name}: f16 {l16:?}");
    assert_eq!(l16.len(), l32.len());
    for (a, b) in l16.iter().zip(&l32) {
        assert!((a - b).abs() <= 2e-3 * b.abs(), "f16 {a} vs f32 {b}");
    }
    assert_ne!(l16, l32, "f16 products round differently from f32");
    let latest = sru_train::checkpoint::latest(&dir.join(sru_train::CHECKPOINTS_DIR)).unwrap();
    let dict =
        sru_model::weights::read_safetensors(&latest.join(sru_train::checkpoint::MODEL_FILE))
            .unwrap();
    assert!(
        dict.values().all(|t| t.dtype == DType::F32),
        "checkpoints hold f32 weights"
    );
}

#[test]
fn cpu_f16_training_matches_f32_and_saves_f32_weights() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    f16_training_matches_f32::<Autodiff<Flex>>(Default::default(), "amp-cpu");
}

/// Why WGPU cannot run here, or `None`; with `SRU_REQUIRE_WGPU` set (CI) a missing adapter is
/// a failure.
#[cfg(feature = "wgpu")]
fn wgpu_skip_reason() -> Option<String> {
    let why = sru_kernel::device::wgpu_adapter_count().err()?.to_string();
    assert!(
        std::env::var_os("SRU_REQUIRE_WGPU").is_none(),
        "SRU_REQUIRE_WGPU is set but WGPU cannot run: {why}"
    );
    Some(why)
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_f16_autocast_and_training_match_f32() {
    use burn::backend::Wgpu;
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(why) = wgpu_skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let dev = burn::backend::wgpu::WgpuDevice::default();
    autocast_matches_f32::<Autodiff<Wgpu>>(&word_model(), &dev);
    f16_training_matches_f32::<Autodiff<Wgpu>>(dev, "amp-wgpu");
}
