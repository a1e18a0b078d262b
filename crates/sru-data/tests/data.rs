//! sru-data end to end: the bundled corpus's figures, enwik8's split offsets, the word-level
//! formats, batching and resumption, and every bad input named in a clear error.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

use sru_data::*;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sru-data-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/enwiki-excerpt.xml.bz2")
}

/// The bundled excerpt prepared with 0.9/0.05/0.05 ratios into a fresh folder.
fn bundled_cache(name: &str) -> TokenCache {
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

fn ratios() -> ByteOptions {
    ByteOptions {
        vocab: ByteVocab::Present,
        split: SplitPlan::ratios([0.9, 0.05, 0.05]).unwrap(),
    }
}

#[test]
fn bundled_wikipedia_excerpt_has_the_pinned_figures() {
    let out = tmp("bundled");
    let mut reports = 0;
    let info = prepare_bytes(
        &Source::new(bundled()).unwrap(),
        &out,
        &ratios(),
        &mut |_| reports += 1,
    )
    .unwrap();
    assert!(reports > 1, "progress is reported");
    assert_eq!(info.vocab_size, 201);
    assert_eq!(info.counts, [5_480_772, 304_487, 304_487]);
    assert_eq!(
        info.counts.iter().sum::<u64>(),
        6_089_746,
        "the whole decompressed excerpt"
    );
    let cache = TokenCache::open(&out).unwrap();
    assert_eq!(cache.info(), info);
    // The excerpt starts like enwik8: an XML <mediawiki> header.
    let mut head = vec![0u32; 10];
    cache.read(Split::Train, 0, &mut head);
    assert_eq!(cache.vocab().decode(&head), "<mediawiki");
    // The context-free baseline a trained model must beat (README): 5.19 bits per byte.
    let h = cache.unigram_entropy(Split::Train);
    assert!((h - 5.1936).abs() < 1e-4, "unigram entropy {h}");
}

#[test]
fn unigram_entropy_is_the_entropy_of_the_token_frequencies() {
    // Two symbols at 3:1 → H = −(¾ log2 ¾ + ¼ log2 ¼) = 0.811278…
    let dir = tmp("entropy");
    let raw = dir.join("text");
    std::fs::write(&raw, b"aaab".repeat(1000)).unwrap();
    let out = dir.join("prepared");
    prepare_bytes(&Source::new(&raw).unwrap(), &out, &ratios(), &mut |_| {}).unwrap();
    let cache = TokenCache::open(&out).unwrap();
    let h = cache.unigram_entropy(Split::Train);
    assert!((h - 0.811_278_124_459_132_8).abs() < 1e-3, "{h}");
}

#[test]
fn enwik8_split_takes_the_first_1e8_bytes_and_holds_out_the_last_10m() {
    let dir = tmp("enwik8");
    let path = dir.join("enwik8");
    let n = ENWIK8_BYTES as usize + 12_345; // bytes past 10^8 must be ignored
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let block: Vec<u8> = (0..1_000_000u32).map(|i| b'a' + (i % 7) as u8).collect();
    for _ in 0..(n / block.len()) {
        f.write_all(&block).unwrap();
    }
    f.write_all(&vec![b'Z'; n % block.len()]).unwrap(); // only past 10^8: not in the vocabulary
    drop(f);
    let out = dir.join("prepared");
    let opts = ByteOptions {
        vocab: ByteVocab::Present,
        split: SplitPlan::Enwik8,
    };
    let info = prepare_bytes(&Source::new(&path).unwrap(), &out, &opts, &mut |_| {}).unwrap();
    assert_eq!(info.counts, [90_000_000, 5_000_000, 5_000_000]);
    assert_eq!(info.vocab_size, 7, "'Z' lies after the first 10^8 bytes");
    let cache = TokenCache::open(&out).unwrap();
    // Position p of the file has byte 'a' + (p mod 10^6 mod 7).
    let id_at = |p: u64| ((p % 1_000_000) % 7) as u32;
    assert_eq!(cache.token(Split::Valid, 0), id_at(90_000_000));
    assert_eq!(cache.token(Split::Test, 0), id_at(95_000_000));
    assert_eq!(cache.token(Split::Test, 4_999_999), id_at(99_999_999));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn full_byte_vocabulary_option() {
    let out = tmp("full");
    let opts = ByteOptions {
        vocab: ByteVocab::Full,
        ..ratios()
    };
    let info = prepare_bytes(&Source::new(bundled()).unwrap(), &out, &opts, &mut |_| {}).unwrap();
    assert_eq!(info.vocab_size, 256);
    assert_eq!(
        TokenCache::open(&out).unwrap().token(Split::Train, 0),
        b'<' as u32
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn wikitext103_format() {
    let dir = tmp("wt103");
    write(
        &dir,
        "wiki.train.tokens",
        " = Title = \n\n the cat sat on the mat \n the <unk> \n",
    );
    write(&dir, "wiki.valid.tokens", " the dog \n");
    write(&dir, "wiki.test.tokens", "\n Cat \n");
    let out = dir.join("out");
    let info = prepare_words(
        &dir,
        &out,
        &WordOptions::new(WordFormat::WikiText103),
        &mut |_| {},
    )
    .unwrap();
    let cache = TokenCache::open(&out).unwrap();
    let Vocab::Words { words, unk } = cache.vocab() else {
        panic!()
    };
    // <eos> first, then by frequency (the: 3, =: 2), ties in order of first appearance.
    assert_eq!(words[..4], ["<eos>", "the", "=", "Title"]);
    assert_eq!(unk.as_deref(), Some("<unk>"));
    // 4 lines in train (the blank one too): 3 + 0 + 6 + 2 words + 4 <eos>.
    assert_eq!(info.counts, [15, 3, 3]);
    let mut valid = vec![0u32; 3];
    cache.read(Split::Valid, 0, &mut valid);
    assert_eq!(
        cache.vocab().decode(&valid),
        "the <unk> <eos>",
        "unknown word `dog`"
    );
    let mut test = vec![0u32; 3];
    cache.read(Split::Test, 0, &mut test);
    assert_eq!(
        cache.vocab().decode(&test),
        "<eos> <unk> <eos>",
        "case is kept: `Cat` is unknown"
    );
    let lower = prepare_words(
        &dir,
        &dir.join("lower"),
        &WordOptions {
            lowercase: true,
            min_freq: 2,
            ..WordOptions::new(WordFormat::WikiText103)
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        lower.vocab_size, 4,
        "<eos>, <unk> (added by the cut), the, = (min_freq 2)"
    );
}

#[test]
fn billion_word_format() {
    let dir = tmp("bwb");
    let train = dir.join("training-monolingual.tokenized.shuffled");
    let held = dir.join("heldout-monolingual.tokenized.shuffled");
    std::fs::create_dir_all(&train).unwrap();
    std::fs::create_dir_all(&held).unwrap();
    write(&train, "news.en-00001-of-00100", "a b c\n");
    write(&train, "news.en-00002-of-00100", "c d\n");
    write(&held, "news.en.heldout-00000-of-00050", "d e\n");
    write(
        &dir,
        "1b_word_vocab.txt",
        "<S> 0\n<UNK> 0\nc 5\na 3\nb 2\nd 1\n",
    );
    let out = dir.join("out");
    let info = prepare_words(
        &dir,
        &out,
        &WordOptions::new(WordFormat::BillionWord),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(info.vocab_size, 6, "vocabulary file order");
    assert_eq!(
        info.counts,
        [9, 4, 4],
        "<S> before and after each sentence; shards in order"
    );
    let cache = TokenCache::open(&out).unwrap();
    let mut v = vec![0u32; 9];
    cache.read(Split::Train, 0, &mut v);
    assert_eq!(cache.vocab().decode(&v), "<S> a b c <S> <S> c d <S>");
    let mut h = vec![0u32; 4];
    cache.read(Split::Valid, 0, &mut h);
    assert_eq!(cache.vocab().decode(&h), "<S> d <UNK> <S>");
}

#[test]
fn ptb_format_and_missing_files() {
    let dir = tmp("ptb");
    write(&dir, "ptb.train.txt", " a b \n b \n");
    write(&dir, "ptb.valid.txt", " b \n");
    let e = prepare_words(
        &dir,
        &dir.join("out"),
        &WordOptions::new(WordFormat::Ptb),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("ptb.test.txt"), "{e}");
    write(&dir, "ptb.test.txt", " a \n");
    let info = prepare_words(
        &dir,
        &dir.join("out"),
        &WordOptions::new(WordFormat::Ptb),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(info.counts, [5, 2, 2]);
}

#[test]
fn ordered_batches_are_contiguous_streams_with_shifted_targets() {
    let cache = bundled_cache("batches");
    let stream = OrderedStream::new(&cache, Split::Valid, StreamSpec::new(4, 100)).unwrap();
    let n = cache.len(Split::Valid);
    assert_eq!(stream.stream_len(), n / 4);
    let segs: Vec<Batch> = stream.iter().collect();
    assert_eq!(segs.len() as u64, stream.num_segments());
    let last = segs.last().unwrap();
    assert_eq!(
        last.len as u64,
        (stream.stream_len() - 1) - (stream.num_segments() - 1) * 100,
        "shorter last segment"
    );
    // Stream b is tokens [b·len, (b+1)·len) of the split; targets are inputs shifted by one.
    let b = 2;
    for (i, s) in segs.iter().take(3).enumerate() {
        for t in 0..s.len {
            let pos = b as u64 * stream.stream_len() + (i * 100 + t) as u64;
            assert_eq!(s.inputs[t * 4 + b], cache.token(Split::Valid, pos));
            assert_eq!(s.targets[t * 4 + b], cache.token(Split::Valid, pos + 1));
        }
    }
}

#[test]
fn a_resumed_cursor_yields_identical_batches() {
    let cache = bundled_cache("resume");
    let stream = OrderedStream::new(&cache, Split::Test, StreamSpec::new(8, 512)).unwrap();
    let mut cursor = Cursor::default();
    let mut straight = Vec::new();
    for _ in 0..(stream.num_segments() + 5) {
        let (b, next) = stream.next(cursor);
        straight.push(b);
        cursor = next;
    }
    assert_eq!(cursor.epoch, 1, "wrapped into the next epoch");
    // Stop after 7 batches, save the cursor as JSON, resume in a fresh stream.
    let mut c = Cursor::default();
    for _ in 0..7 {
        c = stream.next(c).1;
    }
    let saved = serde_json::to_string(&c).unwrap();
    let stream2 = OrderedStream::new(&cache, Split::Test, StreamSpec::new(8, 512)).unwrap();
    let mut c: Cursor = serde_json::from_str(&saved).unwrap();
    for expected in &straight[7..] {
        let (b, next) = stream2.next(c);
        assert_eq!(&b, expected);
        c = next;
    }
}

#[test]
fn ranks_read_disjoint_streams_of_the_global_batch() {
    let cache = bundled_cache("ranks");
    let global = OrderedStream::new(&cache, Split::Valid, StreamSpec::new(4, 64))
        .unwrap()
        .segment(3);
    for rank in 0..2 {
        let spec = StreamSpec {
            batch: 2,
            unroll: 64,
            rank,
            world: 2,
        };
        let part = OrderedStream::new(&cache, Split::Valid, spec)
            .unwrap()
            .segment(3);
        for t in 0..part.len {
            for b in 0..2 {
                assert_eq!(part.inputs[t * 2 + b], global.inputs[t * 4 + rank * 2 + b]);
            }
        }
    }
    let e = OrderedStream::new(
        &cache,
        Split::Valid,
        StreamSpec {
            batch: 2,
            unroll: 64,
            rank: 2,
            world: 2,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("rank 2"), "{e}");
}

// ---- bad input ----

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
        Err(DataError::BadSplit(_))
    ));
    assert!(matches!(
        SplitPlan::ratios([1.1, -0.1, 0.0]),
        Err(DataError::BadSplit(_))
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

fn prepared(name: &str) -> PathBuf {
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

// ---- subword ----

fn subword_corpus(dir: &Path) -> PathBuf {
    let text = "the quick brown fox jumps over the lazy dog.\nSRU++ meets attention; the recurrence is fast.\nÜnïcödé wörds stay intact — 日本語 too.\n";
    let path = dir.join("corpus.txt");
    std::fs::write(&path, text.repeat(200)).unwrap();
    path
}

#[test]
fn bpe_trains_round_trips_and_prepares_a_cache() {
    let dir = tmp("bpe");
    let src = Source::new(subword_corpus(&dir)).unwrap();
    let bpe = Subword::train_bpe(&src, 400, 2).unwrap();
    assert!(
        bpe.vocab_size() > 256 && bpe.vocab_size() <= 400,
        "{}",
        bpe.vocab_size()
    );
    let text = "the lazy fox — Ünïcödé 日本語\n";
    let ids = bpe.encode(text).unwrap();
    assert!(ids.len() < text.len(), "merges compress the text");
    assert_eq!(bpe.decode(&ids).unwrap(), text, "lossless round trip");
    let out = dir.join("out");
    let info = prepare_subword(
        &src,
        &bpe,
        &out,
        &SplitPlan::ratios([0.8, 0.1, 0.1]).unwrap(),
        &mut |_| {},
    )
    .unwrap();
    assert!(info.counts.iter().all(|&c| c > 0), "{info:?}");
    let cache = TokenCache::open(&out).unwrap();
    let back = Subword::load(&out.join(TOKENIZER_FILE)).unwrap();
    let mut first = vec![0u32; 20];
    cache.read(Split::Train, 0, &mut first);
    assert!(
        back.decode(&first)
            .unwrap()
            .starts_with("the quick brown fox")
    );
}

#[test]
fn gpt2_files_load_and_encode_like_the_model_they_describe() {
    let dir = tmp("gpt2");
    let src = Source::new(subword_corpus(&dir)).unwrap();
    let bpe = Subword::train_bpe(&src, 350, 2).unwrap();
    let (encoder_json, vocab_bpe) = bpe.export_gpt2(&dir).unwrap();
    let gpt2 = Subword::gpt2(&encoder_json, &vocab_bpe).unwrap();
    let text = "the recurrence meets the quick dog";
    assert_eq!(gpt2.encode(text).unwrap(), bpe.encode(text).unwrap());
    let e = Subword::gpt2(&dir.join("missing.json"), &vocab_bpe).unwrap_err();
    assert!(
        e.to_string().contains("missing.json") || e.to_string().contains("No such file"),
        "{e}"
    );
}

#[test]
fn shuffled_sentences_are_seeded_whole_and_resumable() {
    let dir = tmp("shuffled");
    let train = dir.join("training-monolingual.tokenized.shuffled");
    let held = dir.join("heldout-monolingual.tokenized.shuffled");
    std::fs::create_dir_all(&train).unwrap();
    std::fs::create_dir_all(&held).unwrap();
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!("w{} w{} w{}\n", i % 7, (i * 3) % 7, (i * 5) % 7));
    }
    write(&train, "news.en-00001-of-00100", &text);
    write(&held, "news.en.heldout-00000-of-00050", "w1 w2\n");
    let vocab: String = ["<S>", "<UNK>"]
        .iter()
        .map(|s| format!("{s}\n"))
        .chain((0..7).map(|i| format!("w{i}\n")))
        .collect();
    write(&dir, "1b_word_vocab.txt", &vocab);
    let out = dir.join("out");
    prepare_words(
        &dir,
        &out,
        &WordOptions::new(WordFormat::BillionWord),
        &mut |_| {},
    )
    .unwrap();
    let cache = TokenCache::open(&out).unwrap();
    let s = ShuffledSentences::new(&cache, Split::Train, StreamSpec::new(3, 4), 0, 7).unwrap();
    assert_eq!(s.num_sentences(), 40);
    let run = |seed| {
        let s =
            ShuffledSentences::new(&cache, Split::Train, StreamSpec::new(3, 4), 0, seed).unwrap();
        let mut c = Cursor::default();
        let mut v = Vec::new();
        while c.epoch == 0 {
            let (b, n) = s.next(c);
            v.push(b);
            c = n;
        }
        v
    };
    let a = run(7);
    assert_eq!(a, run(7), "same seed, same batches");
    assert_ne!(a, run(8), "another seed shuffles differently");
    // Every stream starts with a whole sentence: <S> (id 0) first, and targets are shifted inputs.
    assert!((0..3).all(|b| a[0].inputs[b] == 0));
    for seg in &a {
        for t in 0..seg.len - 1 {
            assert_eq!(
                seg.targets[t * 3..t * 3 + 3],
                seg.inputs[(t + 1) * 3..(t + 1) * 3 + 3]
            );
        }
    }
    // Resume from a saved cursor.
    let (_, c2) = s.next(Cursor {
        segment: 2,
        epoch: 0,
    });
    assert_eq!(s.next(c2).0, a[3]);
}

#[cfg(feature = "burn")]
#[test]
fn batches_become_time_major_int_tensors() {
    let cache = bundled_cache("tensors");
    let batch = OrderedStream::new(&cache, Split::Valid, StreamSpec::new(3, 5))
        .unwrap()
        .segment(0);
    let (x, y) = batch.to_tensors::<burn::backend::Flex>(&Default::default());
    assert_eq!(x.dims(), [5, 3]);
    let xs = x.into_data().convert::<i64>().to_vec::<i64>().unwrap();
    assert_eq!(
        xs,
        batch.inputs.iter().map(|&v| v as i64).collect::<Vec<_>>()
    );
    assert_eq!(y.dims(), [5, 3]);
}
