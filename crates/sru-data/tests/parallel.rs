//! Translation corpora end to end on Multi30k De→En (read from `../shared/data/multi30k`, or
//! `SRU_MULTI30K`; never copied into the repository): prepare, checksums, cleaning, lossless
//! joint BPE, token batches; and the errors for misaligned, empty and non-UTF-8 inputs, with
//! the inputs left untouched.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};

use sru_data::parallel::{
    PAD, ParallelCorpus, ParallelOptions, TokenBatchSpec, TokenBatches, sha256_file,
};
use sru_data::{Cursor, DataError, prepare_parallel};

fn multi30k() -> Option<PathBuf> {
    let dir = std::env::var_os("SRU_MULTI30K")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/multi30k")
        });
    if dir.join("train.de.gz").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "Multi30k is not at {} (set SRU_MULTI30K); CI must have it",
        dir.display()
    );
    eprintln!("Multi30k not found at {}: test skipped", dir.display());
    None
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sru-parallel-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn multi30k_prepares_checked_cleaned_and_lossless() {
    let Some(input) = multi30k() else { return };
    let before: Vec<String> = std::fs::read_dir(&input)
        .unwrap()
        .map(|e| sha256_file(&e.unwrap().path()).unwrap())
        .collect();
    let out = scratch("m30k");
    let m = prepare_parallel(&input, &out, &ParallelOptions::default(), &mut |_| {}).unwrap();
    let names: Vec<&str> = m.splits.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["train", "valid", "test_2016_flickr", "test_2017_flickr"]
    );
    assert_eq!(m.splits[0].pairs + m.train_dropped, 29_000);
    assert!(
        m.train_dropped > 0 && m.train_dropped < 2_000,
        "{} dropped",
        m.train_dropped
    );
    assert_eq!(
        [m.splits[1].pairs, m.splits[2].pairs, m.splits[3].pairs],
        [1014, 1000, 1000]
    );
    assert_eq!(m.vocab_size, 8000);
    assert_eq!(m.inputs.len(), 8);

    let c = ParallelCorpus::open(&out).unwrap();
    let v = c.vocab();
    for split in ["valid", "test_2016_flickr", "test_2017_flickr"] {
        let (src, refs) = c.texts(split).unwrap();
        let pairs = c.pairs(split).unwrap();
        assert_eq!((src.len(), refs.len()), (pairs.len(), pairs.len()));
        for (i, (s, r)) in src.iter().zip(&refs).enumerate() {
            assert_eq!(&v.encode(s).unwrap(), pairs.src(i), "{split}:{i}");
            assert_eq!(
                &v.decode(pairs.tgt(i)).unwrap(),
                r,
                "{split}:{i}: BPE must be lossless"
            );
        }
    }
    // Characters never seen in training still round-trip (bytes).
    let odd = "Ein Schneemann ☃ und 日本語 — «ok»";
    assert_eq!(v.decode(&v.encode(odd).unwrap()).unwrap(), odd);
    assert_eq!(c.split("test").unwrap().name, "test_2016_flickr");
    assert!(
        c.split("nope")
            .unwrap_err()
            .to_string()
            .contains("test_2017_flickr")
    );

    // Token batches of train stay within the cap and cover it once per epoch.
    let train = c.pairs("train").unwrap();
    let tb = TokenBatches::new(&train, TokenBatchSpec::new(2048, 1)).unwrap();
    let mut cur = Cursor::default();
    let (mut pairs, mut pad) = (0, 0);
    for _ in 0..tb.per_epoch() {
        let (b, next) = tb.next(&train, cur);
        assert!(b.batch * b.src_len.max(b.tgt_len) <= 2048);
        pairs += b.batch;
        pad += b.src.iter().filter(|&&t| t == PAD).count();
        cur = next;
    }
    assert_eq!(pairs, train.len());
    let src_tokens = m.splits[0].src_tokens as usize + train.len();
    assert!(
        pad * 10 < src_tokens,
        "length bucketing keeps padding small: {pad} of {src_tokens}"
    );

    let after: Vec<String> = std::fs::read_dir(&input)
        .unwrap()
        .map(|e| sha256_file(&e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(before, after, "the inputs must not change");

    // A corrupted pair file is refused.
    let p = out.join("valid.pairs");
    let mut b = std::fs::read(&p).unwrap();
    let n = b.len();
    b[n / 2] ^= 0x40;
    std::fs::write(&p, b).unwrap();
    assert!(matches!(
        c.pairs("valid"),
        Err(DataError::CorruptCache { .. })
    ));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bad_inputs_get_errors_naming_the_file() {
    let dir = scratch("bad");
    let out = dir.join("out");
    let write = |name: &str, text: &[u8]| std::fs::write(dir.join(name), text).unwrap();
    let prep = || prepare_parallel(&dir, &out, &ParallelOptions::default(), &mut |_| {});
    write("train.de", b"ein Haus\nzwei H\xc3\xa4user\n");
    write("train.en", b"a house\n");
    write("val.de", b"ein Haus\n");
    write("val.en", b"a house\n");
    let e = prep().unwrap_err().to_string();
    assert!(
        e.contains("train.de has 2 lines") && e.contains("train.en has 1"),
        "{e}"
    );
    write("train.en", b"a house\ntwo houses\n");
    write("val.en", b"");
    let e = prep().unwrap_err().to_string();
    assert!(e.contains("val.en") && e.contains("empty"), "{e}");
    write("val.en", b"fine\n\xff bad\n");
    write("val.de", b"gut\nschlecht\n");
    let e = prep().unwrap_err().to_string();
    assert!(e.contains("val.en: line 2"), "{e}");
    std::fs::remove_file(dir.join("val.en")).unwrap();
    let e = prep().unwrap_err().to_string();
    assert!(e.contains("no .en file"), "{e}");
    // A file named as a Multi30k file but with other bytes is not that release.
    write("val.en", b"fine\nbad\n");
    std::fs::rename(dir.join("val.de"), dir.join("val.de.gz")).unwrap();
    assert!(matches!(prep(), Err(DataError::ChecksumMismatch { .. })));
    let e = prepare_parallel(&dir, &dir, &ParallelOptions::default(), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("input folder"), "{e}");
    assert!(!out.join("parallel.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
