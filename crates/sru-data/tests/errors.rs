//! Every bad input is refused with a clear error naming the file, offset or value.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sru_data::*;

#[test]
fn missing_input_is_named() {
    let e = Source::new("/nonexistent/corpus.txt").unwrap_err();
    assert!(e.to_string().contains("/nonexistent/corpus.txt"), "{e}");
}

#[test]
fn empty_corpus_is_refused_and_leaves_no_cache() {
    let dir = tmp("empty");
    std::fs::write(dir.join("empty.txt"), b"").unwrap();
    let out = dir.join("out");
    let e = prepare_bytes(
        &Source::new(dir.join("empty.txt")).unwrap(),
        &out,
        &ratios(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(e, DataError::EmptyCorpus { .. }), "{e}");
    assert!(!out.join(TOKENS_FILE).exists(), "no cache that looks valid");
}

#[test]
fn bad_split_ratios_are_refused() {
    assert!(matches!(
        SplitPlan::ratios([0.9, 0.2, 0.05]),
        Err(DataError::BadSplit { .. })
    ));
    assert!(matches!(
        SplitPlan::ratios([1.1, -0.1, 0.0]),
        Err(DataError::BadSplit { .. })
    ));
}

#[test]
fn a_split_smaller_than_one_batch_is_refused() {
    let dir = tmp("small");
    std::fs::write(dir.join("small.txt"), b"0123456789abcdefghij").unwrap();
    let out = dir.join("out");
    prepare_bytes(
        &Source::new(dir.join("small.txt")).unwrap(),
        &out,
        &ratios(),
        &mut |_| {},
    )
    .unwrap();
    let cache = TokenCache::open(&out).unwrap();
    let e = OrderedStream::new(&cache, Split::Valid, StreamSpec::new(4, 8)).unwrap_err();
    assert!(matches!(e, DataError::SplitTooSmall { .. }), "{e}");
    assert!(e.to_string().contains("valid"), "{e}");
}

#[test]
fn a_truncated_cache_is_reported() {
    let dir = prepared("truncated");
    let f = dir.join(TOKENS_FILE);
    let len = std::fs::metadata(&f).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    let e = TokenCache::open(&dir).unwrap_err();
    assert!(
        matches!(e, DataError::CorruptCache { .. }) && e.to_string().contains("truncated"),
        "{e}"
    );
}

/// A cache of format 1 (before the stream layout was recorded, when Billion Word had `<S>`
/// twice between sentences) is refused with the command that rebuilds it.
#[test]
fn a_cache_of_the_old_format_asks_to_be_prepared_again() {
    let dir = prepared("old-format");
    let f = dir.join(TOKENS_FILE);
    let mut bytes = std::fs::read(&f).unwrap();
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    std::fs::write(&f, bytes).unwrap();
    let e = TokenCache::open(&dir).unwrap_err().to_string();
    assert!(e.contains("format 1") && e.contains("data prepare"), "{e}");
}

#[test]
fn a_corrupt_cache_fails_its_checksum() {
    let dir = prepared("corrupt");
    let f = dir.join(TOKENS_FILE);
    let mut bytes = std::fs::read(&f).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&f, bytes).unwrap();
    let e = TokenCache::open(&dir).unwrap_err();
    assert!(e.to_string().contains("checksum"), "{e}");
    std::fs::write(&f, b"garbage").unwrap();
    assert!(
        TokenCache::open(&dir)
            .unwrap_err()
            .to_string()
            .contains("bad magic")
    );
}

#[test]
fn a_cache_with_a_foreign_vocabulary_is_reported() {
    let dir = prepared("vocab");
    Vocab::Bytes {
        symbols: vec![1, 2, 3],
    }
    .save(&dir.join(VOCAB_FILE))
    .unwrap();
    let e = TokenCache::open(&dir).unwrap_err();
    assert!(matches!(e, DataError::VocabMismatch { .. }), "{e}");
}

#[test]
fn invalid_utf8_in_word_input_reports_the_byte_offset() {
    let dir = tmp("utf8");
    std::fs::write(dir.join("wiki.train.tokens"), b"good line\nbad \xff byte\n").unwrap();
    write(&dir, "wiki.valid.tokens", "x\n");
    write(&dir, "wiki.test.tokens", "x\n");
    let e = prepare_words(
        &dir,
        &dir.join("out"),
        &WordOptions::new(WordFormat::WikiText103),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(e, DataError::InvalidUtf8 { offset: 14, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("byte offset 14"), "{e}");
}
