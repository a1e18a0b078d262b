//! Training on several nodes, as processes on loopback: `cargo xtask orchestrator` and two
//! `cargo xtask train --nodes 2` processes of one CPU device each. Both hold the same weights
//! at every checkpoint, the run matches one process with the same global batch (`--devices
//! 2`), killing a node stops the other with an error naming it, and resuming both continues
//! exactly as the uninterrupted run. Every child is bounded in time and killed at the end.
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use sru_train::metrics::{self, MetricLine};

/// Updates of every run here.
const STEPS: &str = "200";
/// Validation and checkpoint period.
const EVAL_EVERY: &str = "50";
/// The longest any process of this test may run.
const LIMIT: Duration = Duration::from_secs(300);
/// `--node-timeout` of the nodes (seconds).
const NODE_TIMEOUT: u64 = 20;

fn xtask() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    // Two processes share the CI machine's two cores.
    c.env("RAYON_NUM_THREADS", "1");
    c
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sru-nodes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch");
    d
}

/// Ports free right now (the orchestrator's and each node's data service).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("port").port())
        .collect()
}

/// The children of the test, killed when it ends however it ends.
struct Children(Vec<(String, Child)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Children {
    fn spawn(&mut self, name: &str, cmd: &mut Command, log: &Path) -> usize {
        let f = std::fs::File::create(log).expect("log");
        let child = cmd.stdout(Stdio::null()).stderr(f).spawn().expect("spawn");
        self.0.push((name.to_string(), child));
        self.0.len() - 1
    }

    /// Waits for child `i` to exit, at most `limit`.
    fn wait(&mut self, i: usize, limit: Duration) -> ExitStatus {
        let t = Instant::now();
        loop {
            let (name, c) = &mut self.0[i];
            if let Some(s) = c.try_wait().expect("wait") {
                return s;
            }
            assert!(t.elapsed() < limit, "{name} still runs after {limit:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A two-node `tiny` run: each node's run folder and log, and its child.
struct Pair {
    runs: [PathBuf; 2],
    logs: [PathBuf; 2],
    kids: [usize; 2],
}

impl Pair {
    /// Starts both nodes of run `name` (`configure` adds arguments to node `rank`).
    fn start(
        kids: &mut Children,
        dir: &Path,
        name: &str,
        ports: &[u16],
        configure: impl Fn(usize, &mut Command),
    ) -> Pair {
        let runs = [0, 1].map(|r| dir.join(format!("{name}-{r}")));
        let logs = [0, 1].map(|r| dir.join(format!("{name}-{r}.log")));
        let ids = [0, 1].map(|r| {
            let mut c = tiny(&runs[r]);
            c.args(node_args(r, ports));
            configure(r, &mut c);
            kids.spawn(&format!("{name} node {r}"), &mut c, &logs[r])
        });
        Pair {
            runs,
            logs,
            kids: ids,
        }
    }

    /// Waits for node 0 to stop after node 1 was lost (at most the node timeout and some);
    /// returns the seconds it took and its log, after checking that it failed.
    fn node0_stops(&self, kids: &mut Children) -> (f64, String) {
        let t = Instant::now();
        let status = kids.wait(self.kids[0], Duration::from_secs(NODE_TIMEOUT + 30));
        let seconds = t.elapsed().as_secs_f64();
        let log = read(&self.logs[0]);
        assert!(!status.success(), "node 0 went on without node 1:\n{log}");
        (seconds, log)
    }

    /// Waits until node 0 has written the checkpoint of update 50 (node 0 still running).
    fn first_checkpoint(&self, kids: &mut Children) {
        let first = self.runs[0]
            .join(sru_train::CHECKPOINTS_DIR)
            .join(sru_train::checkpoint::folder_name(50));
        let t = Instant::now();
        while !first.is_dir() {
            assert!(
                t.elapsed() < LIMIT,
                "no checkpoint:\n{}",
                read(&self.logs[0])
            );
            assert!(
                kids.0[self.kids[0]].1.try_wait().expect("wait").is_none(),
                "node 0 ended early:\n{}",
                read(&self.logs[0])
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The arguments of node `rank` of a two-node `tiny` run.
fn node_args(rank: usize, ports: &[u16]) -> Vec<String> {
    [
        "--nodes",
        "2",
        "--node-rank",
        &rank.to_string(),
        "--orchestrator",
        &format!("ws://127.0.0.1:{}", ports[0]),
        "--node-address",
        &format!("ws://127.0.0.1:{}", ports[1 + rank]),
        "--node-timeout",
        &NODE_TIMEOUT.to_string(),
        "--join-timeout",
        "120",
    ]
    .map(String::from)
    .to_vec()
}

fn tiny(run: &Path) -> Command {
    let mut c = xtask();
    c.args([
        "train",
        "--preset",
        "tiny",
        "--steps",
        STEPS,
        "--eval-every",
        EVAL_EVERY,
        "--no-final-eval",
    ])
    .arg("--out")
    .arg(run);
    c
}

fn read(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// The `update S: weights agree on all N replicas (crc32 X)` lines of a log: S → X.
fn agreements(log: &str) -> BTreeMap<u64, String> {
    log.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("update ")?;
            let (step, rest) = rest.split_once(": weights agree on all 2 replicas (crc32 ")?;
            Some((step.parse().ok()?, rest.trim_end_matches(')').to_string()))
        })
        .collect()
}

fn lines(run: &Path) -> Vec<MetricLine> {
    metrics::read(run).expect("metrics")
}

/// The final weights of a run (its checkpoint of the last update).
fn weights(run: &Path) -> sru_model::weights::StateDict {
    let dir = run
        .join(sru_train::CHECKPOINTS_DIR)
        .join(sru_train::checkpoint::folder_name(
            STEPS.parse().expect("steps"),
        ));
    sru_model::weights::read_safetensors(&dir.join(sru_train::checkpoint::MODEL_FILE))
        .expect("final weights")
}

fn max_difference(a: &sru_model::weights::StateDict, b: &sru_model::weights::StateDict) -> f32 {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    a.iter()
        .map(|(k, x)| {
            let x = x.to_vec::<f32>().expect("f32");
            let y = b[k].to_vec::<f32>().expect("f32");
            x.iter()
                .zip(&y)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f32::max)
        })
        .fold(0.0, f32::max)
}

#[test]
fn two_nodes_on_loopback_agree_match_one_process_stop_on_a_kill_and_resume() {
    let dir = scratch("loopback");
    let ports = free_ports(3);
    let mut kids = Children(Vec::new());
    let orch = kids.spawn(
        "orchestrator",
        xtask().args(["orchestrator", "--port", &ports[0].to_string()]),
        &dir.join("orchestrator.log"),
    );

    // One process, two devices: the same global batch (2 × 16 streams).
    let one = dir.join("one");
    let i = kids.spawn(
        "one process",
        tiny(&one).args(["--devices", "2"]),
        &dir.join("one.log"),
    );
    let t = Instant::now();
    assert!(
        kids.wait(i, LIMIT).success(),
        "{}",
        read(&dir.join("one.log"))
    );
    let one_s = t.elapsed().as_secs_f64();

    // Two nodes of one device each.
    let t = Instant::now();
    let pair = Pair::start(&mut kids, &dir, "two", &ports, |_, _| {});
    for r in 0..2 {
        let status = kids.wait(pair.kids[r], LIMIT);
        assert!(status.success(), "node {r}:\n{}", read(&pair.logs[r]));
    }
    let (two, logs) = (&pair.runs, &pair.logs);
    let two_s = t.elapsed().as_secs_f64();
    eprintln!(
        "200 updates of tiny: one process with 2 devices {one_s:.1} s, two nodes {two_s:.1} s"
    );

    // Both nodes hold the same weights after every checkpoint (each checks all replicas and
    // prints the checksum; node 1's own copy is compared here too).
    let (a0, a1) = (agreements(&read(&logs[0])), agreements(&read(&logs[1])));
    assert_eq!(
        a0.keys().copied().collect::<Vec<_>>(),
        vec![50, 100, 150, 200]
    );
    assert_eq!(a0, a1, "the nodes report different weights");
    // Node 1 keeps nothing but its config.
    let kept: Vec<_> = std::fs::read_dir(&two[1])
        .expect("node 1's folder")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(kept, vec![std::ffi::OsString::from("config-node-1.toml")]);

    // The same run as one process with the same global batch.
    let (m1, m2) = (lines(&one), lines(&two[0]));
    assert_eq!(m1.len(), m2.len());
    for (x, y) in m1.iter().zip(&m2) {
        assert_eq!((x.step, &x.split), (y.step, &y.split));
        assert!(
            (x.loss - y.loss).abs() <= 1e-4,
            "{} loss at update {}: {} (one process) vs {} (two nodes)",
            x.split,
            x.step,
            x.loss,
            y.loss
        );
    }
    let d = max_difference(&weights(&one), &weights(&two[0]));
    assert!(d <= 1e-4, "final weights differ by {d}");

    // Killing node 1 stops node 0 within the timeout, with an error naming node 1.
    let kill = Pair::start(&mut kids, &dir, "kill", &ports, |_, _| {});
    kill.first_checkpoint(&mut kids);
    let (k, kn) = (&kill.runs, kill.kids);
    kids.0[kn[1]].1.kill().expect("kill node 1");
    let (stopped_s, log0) = kill.node0_stops(&mut kids);
    assert!(
        log0.contains("node 1"),
        "the error does not name node 1:\n{log0}"
    );
    eprintln!(
        "node 0 stopped {stopped_s:.1} s after node 1 was killed: {}",
        log0.lines()
            .rev()
            .find(|l| l.contains("node 1"))
            .unwrap_or_default()
    );
    let _ = kids.wait(kn[1], LIMIT);

    // Resuming both continues exactly as the uninterrupted two-node run.
    let rlogs = [dir.join("resume-0.log"), dir.join("resume-1.log")];
    let rn: Vec<usize> = (0..2)
        .map(|r| {
            let mut c = xtask();
            c.args(["train", "--resume"])
                .arg(&k[r])
                .args(node_args(r, &ports));
            kids.spawn(&format!("resumed node {r}"), &mut c, &rlogs[r])
        })
        .collect();
    for (r, &i) in rn.iter().enumerate() {
        assert!(
            kids.wait(i, LIMIT).success(),
            "resumed node {r}:\n{}",
            read(&rlogs[r])
        );
    }
    let d = max_difference(&weights(&k[0]), &weights(&two[0]));
    assert_eq!(
        d, 0.0,
        "the resumed run's weights are not the uninterrupted run's"
    );
    let losses = |run: &Path| -> Vec<(u64, String, f64)> {
        lines(run)
            .into_iter()
            .map(|m| (m.step, m.split, m.loss))
            .collect()
    };
    assert_eq!(
        losses(&two[0]),
        losses(&k[0]),
        "the resumed run's losses are not the uninterrupted run's"
    );
    let r1 = agreements(&read(&rlogs[1]));
    assert_eq!(
        r1.get(&200),
        a0.get(&200),
        "node 1 resumed to other weights"
    );
    assert!(
        !k[1].join(".resume-node-1").exists(),
        "node 1 kept its copy of the checkpoint"
    );

    // A node that stops answering (SIGSTOP) stops the other after --node-timeout.
    let stuck = Pair::start(&mut kids, &dir, "stuck", &ports, |_, _| {});
    stuck.first_checkpoint(&mut kids);
    let sn = stuck.kids;
    let pid = kids.0[sn[1]].1.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let (waited, log0) = stuck.node0_stops(&mut kids);
    assert!(
        log0.contains("(node 1)") && log0.contains("stuck"),
        "{log0}"
    );
    assert!(
        waited >= NODE_TIMEOUT as f64 - 1.0,
        "node 0 gave up after {waited:.1} s"
    );
    eprintln!("node 0 stopped {waited:.1} s after node 1 was suspended");
    // Gone for good (its data port free again) before the next pair starts.
    let _ = kids.0[sn[1]].1.kill();
    let _ = kids.wait(sn[1], LIMIT);

    // A node started with another config is refused by both, with the setting named.
    let mismatch = Pair::start(&mut kids, &dir, "mismatch", &ports, |r, c| {
        if r == 1 {
            c.args(["--lr", "0.02"]);
        }
    });
    let (mlogs, mn) = (&mismatch.logs, mismatch.kids);
    for (r, &i) in mn.iter().enumerate() {
        let status = kids.wait(i, LIMIT);
        let log = read(&mlogs[r]);
        assert!(
            !status.success(),
            "node {r} accepted a different config:\n{log}"
        );
        assert!(
            log.contains("(node 1)")
                && log.contains("different config")
                && log.contains("lr = 0.02"),
            "node {r}:\n{log}"
        );
    }
    assert!(
        !dir.join("mismatch-0")
            .join(sru_train::CHECKPOINTS_DIR)
            .exists()
    );

    // Nodes that disagree on the device count are refused too (before any exchange whose
    // shape depends on it).
    let devices = Pair::start(&mut kids, &dir, "devices", &ports, |r, c| {
        if r == 1 {
            c.args(["--devices", "2"]);
        }
    });
    for r in 0..2 {
        let status = kids.wait(devices.kids[r], LIMIT);
        let log = read(&devices.logs[r]);
        assert!(
            !status.success(),
            "node {r} accepted other device counts:\n{log}"
        );
        assert!(log.contains("disagree on --devices"), "node {r}:\n{log}");
    }

    // The orchestrator served every run and is still up.
    assert!(
        kids.0[orch].1.try_wait().expect("wait").is_none(),
        "{}",
        read(&dir.join("orchestrator.log"))
    );
    drop(kids);
    let _ = std::fs::remove_dir_all(&dir);
}
