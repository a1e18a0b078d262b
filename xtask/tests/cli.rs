//! The command line end to end, as a user runs it: training on the bundled corpus, clean
//! stops on SIGINT, resuming after SIGKILL, and train/eval/generate on WGPU.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sru_train::checkpoint;
use sru_train::metrics::{self, MetricLine};

fn xtask() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    c
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sru-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn ok(out: Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{stderr}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

fn valid_lines(run: &Path) -> Vec<MetricLine> {
    metrics::read(run)
        .expect("metrics")
        .into_iter()
        .filter(|m| m.split == "valid")
        .collect()
}

/// Waits until `cond` holds (or panics after `limit`).
fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// A `tiny` run that would go on for a long time, validating every `eval_every` updates.
fn endless_tiny_run(run: &Path, eval_every: &str, stderr: Stdio) -> Child {
    xtask()
        .args([
            "train",
            "--preset",
            "tiny",
            "--steps",
            "100000",
            "--eval-every",
            eval_every,
        ])
        .arg("--out")
        .arg(run)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn")
}

/// The README's first command, shortened with `--steps`: valid BPC falls and the run folder
/// holds the config, checkpoints, metrics and the plot.
#[test]
fn default_training_shortened_learns_and_writes_its_files() {
    let run = scratch("default");
    let err = ok(
        xtask()
            .args([
                "train",
                "--steps",
                "40",
                "--eval-every",
                "20",
                "--no-final-eval",
                "--out",
            ])
            .arg(&run)
            .output()
            .expect("spawn"),
        "train",
    );
    assert!(err.contains("unigram entropy"), "{err}");
    let v = valid_lines(&run);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[1].bpc < v[0].bpc - 0.05, "valid BPC must fall: {v:?}");
    for f in ["config.toml", "metrics.jsonl", "curves.png"] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let png = std::fs::read(run.join("curves.png")).expect("png");
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(checkpoint::list(&run.join("checkpoints")).len(), 2);
    let _ = std::fs::remove_dir_all(&run);
}

#[test]
fn sigint_saves_a_checkpoint_and_exits_cleanly() {
    let run = scratch("sigint");
    let child = endless_tiny_run(&run, "0", Stdio::piped());
    wait_for(Duration::from_secs(300), "training to start", || {
        metrics::read(&run).is_ok_and(|m| !m.is_empty())
    });
    signal(&child, "-INT");
    let err = ok(child.wait_with_output().expect("wait"), "interrupted train");
    assert!(err.contains("stop requested"), "{err}");
    assert!(
        err.contains("--resume"),
        "the user is told how to continue: {err}"
    );
    let latest = checkpoint::latest(&run.join("checkpoints")).expect("a checkpoint");
    checkpoint::read(&latest).expect("it loads");
    let _ = std::fs::remove_dir_all(&run);
}

#[test]
fn a_killed_run_resumes_from_its_last_checkpoint() {
    let run = scratch("sigkill");
    let mut child = endless_tiny_run(&run, "2", Stdio::null());
    let root = run.join("checkpoints");
    wait_for(Duration::from_secs(300), "two checkpoints", || {
        checkpoint::list(&root).len() >= 2
    });
    signal(&child, "-KILL");
    let _ = child.wait();
    let (step, dir) = checkpoint::list(&root).pop().expect("checkpoint");
    checkpoint::read(&dir).expect("the last checkpoint is complete");
    let target = step + 2;
    let err = ok(
        xtask()
            .args([
                "train",
                "--no-final-eval",
                "--steps",
                &target.to_string(),
                "--resume",
            ])
            .arg(&run)
            .output()
            .expect("spawn"),
        "resume",
    );
    assert!(err.contains("resuming from"), "{err}");
    assert!(err.contains(&format!("finished {target} updates")), "{err}");
    let _ = std::fs::remove_dir_all(&run);
}

#[test]
fn train_eval_and_generate_on_wgpu() {
    if let Some(why) = sru_parity::gate::wgpu_skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let run = scratch("wgpu");
    ok(
        xtask()
            .args([
                "train",
                "--preset",
                "tiny",
                "--backend",
                "wgpu",
                "--steps",
                "4",
                "--eval-every",
                "2",
                "--no-final-eval",
                "--out",
            ])
            .arg(&run)
            .output()
            .expect("spawn"),
        "train on wgpu",
    );
    assert_eq!(valid_lines(&run).len(), 2);
    let out = xtask()
        .args([
            "eval",
            "--backend",
            "wgpu",
            "--split",
            "valid",
            "--max-tokens",
            "2000",
            "--run",
        ])
        .arg(&run)
        .output()
        .expect("spawn");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    ok(out, "eval on wgpu");
    assert!(text.starts_with("valid: loss "), "{text}");
    let out = xtask()
        .args([
            "generate",
            "--backend",
            "wgpu",
            "--prompt",
            "The ",
            "--max-tokens",
            "30",
            "--seed",
            "3",
            "--run",
        ])
        .arg(&run)
        .output()
        .expect("spawn");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    ok(out, "generate on wgpu");
    assert!(text.starts_with("The ") && text.len() > 10, "{text:?}");
    // Errors are clear: a missing run, a prompt the vocabulary cannot encode.
    let out = xtask()
        .args(["eval", "--run", "/nonexistent/run"])
        .output()
        .expect("spawn");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no checkpoint"));
    let _ = std::fs::remove_dir_all(&run);
}

/// f16 compute on a GPU backend (lavapipe here): weights and activations in f16, the loss,
/// moments and master weights in f32, dynamic loss scaling; the loss stays finite and the
/// checkpoint loads for evaluation. The CPU refuses half precision with a clear message.
#[test]
fn half_precision_trains_on_wgpu_and_is_refused_on_cpu() {
    let run = scratch("f16");
    let out = xtask()
        .args(["train", "--preset", "tiny", "--precision", "bf16", "--out"])
        .arg(run.join("cpu"))
        .output()
        .expect("spawn");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a GPU backend"));
    if let Some(why) = sru_parity::gate::wgpu_skip_reason() {
        eprintln!("skipped the WGPU part: {why}");
        return;
    }
    ok(
        xtask()
            .args([
                "train",
                "--preset",
                "tiny",
                "--backend",
                "wgpu",
                "--precision",
                "f16",
                "--steps",
                "7",
                "--eval-every",
                "0",
                "--no-final-eval",
                "--out",
            ])
            .arg(&run)
            .output()
            .expect("spawn"),
        "f16 train on wgpu",
    );
    let m = metrics::read(&run).expect("metrics");
    let last = m.iter().rfind(|l| l.split == "valid").expect("valid line");
    assert!(last.loss.is_finite() && last.loss < 5.6, "{m:?}");
    let train = m.iter().rfind(|l| l.split == "train").expect("train line");
    assert!(
        train.grad_norm.is_some_and(|g| g.is_finite() && g > 0.0),
        "{train:?}"
    );
    let _ = std::fs::remove_dir_all(&run);
}

/// Without a Vulkan driver (here: the loader pointed at none), `--backend wgpu` says what is
/// missing and how to install it instead of panicking inside the GPU runtime.
#[test]
fn wgpu_without_a_driver_is_a_clear_error() {
    let out = xtask()
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .args([
            "train",
            "--preset",
            "tiny",
            "--backend",
            "wgpu",
            "--steps",
            "1",
            "--out",
        ])
        .arg(scratch("no-driver"))
        .output()
        .expect("spawn");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("mesa-vulkan-drivers"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The Transformer-XL baseline through every command a run has: train, resume, eval,
/// generate.
#[test]
fn transformer_xl_trains_resumes_evaluates_and_generates() {
    let run = scratch("txl");
    let err = ok(
        xtask()
            .args([
                "train",
                "--preset",
                "txl-tiny",
                "--steps",
                "6",
                "--eval-every",
                "3",
            ])
            .args(["--no-final-eval", "--curves-x", "flops", "--out"])
            .arg(&run)
            .output()
            .expect("spawn"),
        "train txl-tiny",
    );
    assert!(err.contains("finished 6 updates"), "{err}");
    let lines = metrics::read(&run).expect("metrics");
    let flops: Vec<f64> = lines.iter().filter_map(|m| m.train_flops).collect();
    assert!(
        !flops.is_empty() && flops.windows(2).all(|w| w[1] >= w[0]),
        "{lines:?}"
    );
    let err = ok(
        xtask()
            .args(["train", "--no-final-eval", "--steps", "8", "--resume"])
            .arg(&run)
            .output()
            .expect("spawn"),
        "resume txl-tiny",
    );
    assert!(
        err.contains("resuming from") && err.contains("finished 8 updates"),
        "{err}"
    );
    let out = xtask()
        .args(["eval", "--split", "valid", "--max-tokens", "2048", "--run"])
        .arg(&run)
        .output()
        .expect("spawn");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = ok(out, "eval txl-tiny") + &stdout;
    assert!(text.contains("bits"), "{text}");
    let out = xtask()
        .args([
            "generate",
            "--prompt",
            "The ",
            "--max-tokens",
            "16",
            "--run",
        ])
        .arg(&run)
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.len() >= "The ".len() + 8,
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&run);
}

/// `cargo xtask experiment` end to end with a tiny budget: four runs, the report's rows and
/// the figure; a second invocation reuses the finished runs.
#[test]
fn experiment_with_a_tiny_budget_writes_its_report() {
    let out = scratch("experiment");
    let args = ["experiment", "--budget", "1e11", "--no-final-eval", "--out"];
    let err = ok(
        xtask().args(args).arg(&out).output().expect("spawn"),
        "experiment",
    );
    assert!(err.contains("[4/4] txl"), "{err}");
    let report = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    for name in ["srupp-all", "srupp-last1", "srupp-none", "txl"] {
        let row = report
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{report}"));
        assert_eq!(row.matches('|').count(), 12, "{row}");
        assert!(out.join(name).join("metrics.jsonl").is_file());
    }
    let txl = report.lines().find(|l| l.starts_with("| txl |")).unwrap();
    assert!(
        txl.ends_with("| 1.00 | 1.00 |"),
        "the baseline's ratios are 1: {txl}"
    );
    let png = std::fs::read(out.join("report.png")).expect("report.png");
    assert_eq!(&png[1..4], b"PNG");
    let again = ok(
        xtask().args(args).arg(&out).output().expect("spawn"),
        "experiment again",
    );
    assert_eq!(again.matches("reused").count(), 4, "{again}");
    let _ = std::fs::remove_dir_all(&out);
}
