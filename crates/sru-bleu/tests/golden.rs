//! sru-bleu against sacreBLEU 2.6.0: every golden case in `fixtures/reference/bleu/*.json`
//! (made by `fixtures/scripts/make_bleu.py`), and, where Python has sacreBLEU 2.6.0, a fresh
//! seed made now (`SRU_BLEU_SEED` picks it; otherwise it changes every run). Counts, totals
//! and lengths must be identical, the score and precisions equal to 1e-9, the text line the
//! same as sacreBLEU's.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sru_bleu::{BleuOptions, corpus_bleu};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn check_file(path: &Path) -> usize {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(!cases.is_empty(), "{}: no cases", path.display());
    for c in cases {
        let name = format!("{}:{}", path.display(), c["name"].as_str().unwrap());
        let opts = BleuOptions {
            tokenize: c["tokenize"].as_str().unwrap().parse().unwrap(),
            lowercase: c["lowercase"].as_bool().unwrap(),
        };
        let hyps = strings(&c["hyps"]);
        let refs: Vec<Vec<String>> = c["refs"].as_array().unwrap().iter().map(strings).collect();
        let s = corpus_bleu(&hyps, &refs, &opts).unwrap();
        let ints = |k: &str| -> Vec<u64> {
            c[k].as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect()
        };
        assert_eq!(s.stats.counts.to_vec(), ints("counts"), "{name}: counts");
        assert_eq!(s.stats.totals.to_vec(), ints("totals"), "{name}: totals");
        assert_eq!(
            s.stats.sys_len,
            c["sys_len"].as_u64().unwrap(),
            "{name}: sys_len"
        );
        assert_eq!(
            s.stats.ref_len,
            c["ref_len"].as_u64().unwrap(),
            "{name}: ref_len"
        );
        let want = c["score"].as_f64().unwrap();
        assert!(
            (s.score - want).abs() <= 1e-9,
            "{name}: score {} vs sacreBLEU {want}",
            s.score
        );
        assert!(
            (s.bp - c["bp"].as_f64().unwrap()).abs() <= 1e-12,
            "{name}: bp"
        );
        for (p, q) in s.precisions.iter().zip(c["precisions"].as_array().unwrap()) {
            assert!(
                (p - q.as_f64().unwrap()).abs() <= 1e-9,
                "{name}: precisions"
            );
        }
        let sig = opts.signature(refs.len());
        assert_eq!(sig, c["signature"].as_str().unwrap(), "{name}: signature");
        assert_eq!(
            s.format(&sig, 2),
            c["text"].as_str().unwrap(),
            "{name}: text"
        );
    }
    cases.len()
}

#[test]
fn committed_golden_cases_match_sacrebleu() {
    let dir = repo().join("fixtures/reference/bleu");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            n += check_file(&p);
        }
    }
    assert!(n >= 10, "only {n} golden cases in {}", dir.display());
}

#[test]
fn a_fresh_seed_matches_sacrebleu_where_it_is_installed() {
    let probe = Command::new("python3")
        .args([
            "-c",
            "import sacrebleu,sys; sys.exit(sacrebleu.__version__ != '2.6.0')",
        ])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("sacreBLEU 2.6.0 is not installed for python3: fresh-seed check skipped");
        return;
    }
    let seed = std::env::var("SRU_BLEU_SEED").unwrap_or_else(|_| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        (t.as_nanos() % 1_000_000_007).to_string()
    });
    let out = std::env::temp_dir().join(format!("sru-bleu-golden-{seed}.json"));
    let ok = Command::new("python3")
        .arg(repo().join("fixtures/scripts/make_bleu.py"))
        .args(["--seed", &seed, "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(ok.success(), "make_bleu.py --seed {seed} failed");
    eprintln!("fresh golden seed {seed}: {} cases", check_file(&out));
    std::fs::remove_file(&out).unwrap();
}
