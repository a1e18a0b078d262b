//! Batching: ordered contiguous streams with shifted targets, resumable cursors, rank
//! sharding, Billion Word's shuffled sentences, and the tensor adapter.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sru_data::*;

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

/// A small One Billion Word layout: 40 training sentences of three words, and held-out
/// sentences `w1 w2 w3 | w4 | w5 w6 | w0 w1 w2 w3 | w4 w5`; `<S>` = 0, `<UNK>` = 1, `wi` = i + 2.
fn billion_word(name: &str) -> TokenCache {
    let dir = tmp(name);
    let train = dir.join("training-monolingual.tokenized.shuffled");
    let held = dir.join("heldout-monolingual.tokenized.shuffled");
    std::fs::create_dir_all(&train).unwrap();
    std::fs::create_dir_all(&held).unwrap();
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!("w{} w{} w{}\n", i % 7, (i * 3) % 7, (i * 5) % 7));
    }
    write(&train, "news.en-00001-of-00100", &text);
    write(
        &held,
        "news.en.heldout-00000-of-00050",
        "w1 w2 w3\nw4\nw5 w6\nw0 w1 w2 w3\nw4 w5\n",
    );
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
    TokenCache::open(&out).unwrap()
}

/// The held-out sentences in order, B = 2, L = 3, against the official
/// `LMShuffledIterator(sents, 2, 3)` run on the same sentences (`[[0,3,4,5,0], [0,6,0],
/// [0,7,8,0], [0,2,3,4,5,0], [0,6,7,0]]`): two batches, the third cannot be filled and is
/// dropped. Printed by the official code as (B, L):
/// `[[0,3,4],[0,6,0]] → [[3,4,5],[6,0,7]]` and `[[5,0,2],[7,8,0]] → [[0,2,3],[8,0,6]]`.
#[test]
fn sentence_batches_match_the_official_iterator() {
    let cache = billion_word("bwb-official");
    assert_eq!(cache.layout(), StreamLayout::Sentences { boundary: 0 });
    let s = Batches::eval(&cache, Split::Valid, StreamSpec::new(2, 3)).unwrap();
    assert!(!s.restarts_state_each_pass());
    let got: Vec<Batch> = s.pass().collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].inputs, [0, 0, 3, 6, 4, 0], "time-major (t, b)");
    assert_eq!(got[0].targets, [3, 6, 4, 0, 5, 7]);
    assert_eq!(got[1].inputs, [5, 7, 0, 8, 2, 0]);
    assert_eq!(got[1].targets, [0, 8, 2, 0, 3, 6]);
    assert_eq!(s.tokens_per_pass(0), 12);
}

/// Every word and every sentence end is a target exactly once: with one stream and one step
/// per batch nothing is dropped, so the scored targets are words + sentences.
#[test]
fn scored_targets_are_words_plus_sentences() {
    let cache = billion_word("bwb-count");
    let words = 3 + 1 + 2 + 4 + 2;
    let sentences = 5;
    let s = Batches::eval(&cache, Split::Valid, StreamSpec::new(1, 1)).unwrap();
    let targets: Vec<u32> = s.pass().flat_map(|b| b.targets).collect();
    assert_eq!(targets.len(), words + sentences);
    assert_eq!(targets.iter().filter(|&&t| t == 0).count(), sentences);
    let train = Batches::train(&cache, StreamSpec::new(1, 1), 3).unwrap();
    assert_eq!(train.tokens_per_pass(0), 40 * (3 + 1));
}

#[test]
fn shuffled_sentences_are_seeded_reshuffled_each_pass_and_resumable() {
    let cache = billion_word("bwb-shuffled");
    let spec = StreamSpec::new(3, 4);
    let reader = |seed| {
        ShuffledSentences::new(&cache, Split::Train, spec, SentenceOrder::Shuffled { seed })
            .unwrap()
    };
    let s = reader(7);
    assert_eq!(s.num_sentences(), 40);
    let run = |seed, passes| {
        let s = reader(seed);
        let mut c = Cursor::default();
        let mut v = vec![Vec::new(); passes];
        while (c.epoch as usize) < passes {
            let (b, n) = s.next(c);
            v[c.epoch as usize].push(b);
            c = n;
        }
        v
    };
    let a = run(7, 2);
    assert_eq!(a, run(7, 2), "same seed, same batches");
    assert_ne!(a[0], run(8, 1)[0], "another seed shuffles differently");
    assert_ne!(a[0], a[1], "every pass draws a new order");
    for pass in &a {
        assert_eq!(pass.len() as u64, s.num_segments(0).min(pass.len() as u64));
        // Every stream starts a pass with a whole sentence, and targets are inputs shifted.
        assert!((0..3).all(|b| pass[0].inputs[b] == 0));
        for seg in pass {
            for t in 0..seg.len - 1 {
                assert_eq!(
                    seg.targets[t * 3..t * 3 + 3],
                    seg.inputs[(t + 1) * 3..(t + 1) * 3 + 3]
                );
            }
        }
    }
    // Resume from saved cursors, in a fresh reader (the streams are rebuilt by replay).
    for (epoch, segment) in [(0, 3), (1, 2), (1, 0)] {
        let fresh = reader(7);
        let (b, c) = fresh.next(Cursor { segment, epoch });
        assert_eq!(b, a[epoch as usize][segment as usize]);
        if (segment as usize + 1) < a[epoch as usize].len() {
            assert_eq!(fresh.next(c).0, a[epoch as usize][segment as usize + 1]);
        }
    }
    // Two ranks read disjoint sentences and the same number of batches.
    let rank = |r| {
        let spec = StreamSpec {
            rank: r,
            world: 2,
            ..StreamSpec::new(2, 4)
        };
        ShuffledSentences::new(
            &cache,
            Split::Train,
            spec,
            SentenceOrder::Shuffled { seed: 7 },
        )
        .unwrap()
    };
    let (r0, r1) = (rank(0), rank(1));
    assert_eq!(r0.num_segments(0), r1.num_segments(0));
    assert_ne!(r0.next(Cursor::default()).0, r1.next(Cursor::default()).0);
}

#[test]
fn a_corpus_too_small_for_a_sentence_batch_is_named() {
    let cache = billion_word("bwb-small");
    let e = Batches::eval(&cache, Split::Valid, StreamSpec::new(8, 64))
        .unwrap_err()
        .to_string();
    assert!(e.contains("valid") && e.contains("sentences"), "{e}");
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
