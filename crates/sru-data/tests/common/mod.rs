//! Helpers shared by the sru-data integration tests: scratch folders, the bundled excerpt
//! prepared once per test, and small corpora written on the fly.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use sru_data::*;

pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sru-data-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/enwiki-excerpt.xml.bz2")
}

/// The bundled excerpt prepared with 0.9/0.05/0.05 ratios into a fresh folder.
pub fn bundled_cache(name: &str) -> TokenCache {
    let out = tmp(name);
    prepare_bytes(
        &Source::new(bundled()).unwrap(),
        &out,
        &ratios(),
        &mut |_| {},
    )
    .unwrap();
    TokenCache::open(&out).unwrap()
}

pub fn ratios() -> ByteOptions {
    ByteOptions {
        vocab: ByteVocab::Present,
        split: SplitPlan::ratios([0.9, 0.05, 0.05]).unwrap(),
    }
}

pub fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

pub fn prepared(name: &str) -> PathBuf {
    let dir = tmp(name);
    std::fs::write(dir.join("c.txt"), "hello world, hello cache\n".repeat(50)).unwrap();
    prepare_bytes(
        &Source::new(dir.join("c.txt")).unwrap(),
        &dir,
        &ratios(),
        &mut |_| {},
    )
    .unwrap();
    dir
}

pub fn subword_corpus(dir: &Path) -> PathBuf {
    let text = "the quick brown fox jumps over the lazy dog.\nSRU++ meets attention; the recurrence is fast.\nÜnïcödé wörds stay intact — 日本語 too.\n";
    let path = dir.join("corpus.txt");
    std::fs::write(&path, text.repeat(200)).unwrap();
    path
}
