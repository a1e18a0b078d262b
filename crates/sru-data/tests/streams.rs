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
