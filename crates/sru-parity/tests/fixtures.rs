//! Parity with the original implementations: every fixture (kinds `recurrence`, `srupp`, `lm`, `lm_adaptive`, `txl`)
//! in the repository's fixture folders (the public suite of shared/reference, and `extra`, made
//! by the same tool with another seed and other shapes and options) on the CPU in float64 and
//! float32, and on WGPU in f32 — forward, losses and every gradient.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};

use burn::backend::{Autodiff, Flex};
use burn::tensor::DType;
use sru_parity::{Fixture, ParityError, run_fixture, run_recurrence};

fn fixture_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/reference");
    let mut files = Vec::new();
    for suite in ["public", "extra"] {
        let Ok(dir) = std::fs::read_dir(root.join(suite)) else {
            continue;
        };
        for e in dir.flatten() {
            let p = e.path();
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if name.ends_with(".safetensors") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 16,
        "expected at least the public fixtures, found {files:?}"
    );
    files
}

fn check_all(run: impl Fn(&Fixture) -> Result<sru_parity::CaseReport, ParityError>) {
    let mut failed = Vec::new();
    for f in fixture_files() {
        let fx = Fixture::load(&f).unwrap();
        let report = run(&fx).unwrap();
        if !report.passed() {
            let why: Vec<String> = report
                .failures()
                .map(|c| format!("{} {:.3e} > {:.1e}", c.tensor, c.max_abs_err, c.limit))
                .collect();
            failed.push(format!("{}: {}", report.case, why.join(", ")));
        }
    }
    assert!(failed.is_empty(), "parity failures:\n{}", failed.join("\n"));
}

#[test]
fn cpu_f64_matches_official() {
    check_all(|fx| run_fixture::<Autodiff<Flex>>(fx, &Default::default(), DType::F64));
}

#[test]
fn cpu_f32_matches_official_within_1e4() {
    check_all(|fx| run_fixture::<Autodiff<Flex>>(fx, &Default::default(), DType::F32));
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_f32_matches_official_within_1e4() {
    if let Some(why) = sru_parity::gate::wgpu_skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let dev = burn::backend::wgpu::WgpuDevice::default();
    check_all(|fx| run_fixture::<Autodiff<burn::backend::Wgpu>>(fx, &dev, DType::F32));
}

#[test]
fn a_corrupt_fixture_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("sru-parity-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read(&fixture_files()[0]).unwrap();
    assert!(good.len() > 100);
    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    let err = Fixture::load(&truncated).unwrap_err();
    assert!(matches!(err, ParityError::Format { .. }), "{err}");
    assert!(err.to_string().contains("truncated.safetensors"), "{err}");
    let missing = Fixture::load(dir.join("absent.safetensors")).unwrap_err();
    assert!(matches!(missing, ParityError::Io { .. }), "{missing}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_wrong_kernel_fails_parity() {
    // The comparison must be able to fail: perturb a reference tensor and expect FAIL.
    let first_recurrence = fixture_files()
        .into_iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("recurrence_")
        })
        .unwrap();
    let mut fx = Fixture::load(&first_recurrence).unwrap();
    fx.tensors.get_mut("h").unwrap().values[0] += 1e-3;
    let report = run_recurrence::<Autodiff<Flex>>(&fx, &Default::default(), DType::F64).unwrap();
    assert!(!report.passed());
    assert_eq!(report.failures().next().unwrap().tensor, "h");
}

#[test]
fn every_kind_is_covered() {
    let kinds: std::collections::BTreeSet<String> = fixture_files()
        .iter()
        .map(|f| Fixture::load(f).unwrap().kind)
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["lm", "lm_adaptive", "recurrence", "srupp", "txl"]
    );
}

#[test]
fn a_wrong_model_parameter_fails_parity() {
    let file = fixture_files()
        .into_iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("srupp_")
        })
        .unwrap();
    let mut fx = Fixture::load(&file).unwrap();
    let key = fx
        .tensors
        .keys()
        .find(|k| k.ends_with("linear1.weight") && k.starts_with("param."))
        .unwrap()
        .clone();
    fx.tensors.get_mut(&key).unwrap().values[0] += 1e-3;
    let report = run_fixture::<Autodiff<Flex>>(&fx, &Default::default(), DType::F64).unwrap();
    assert!(!report.passed(), "a perturbed weight must break parity");
}
