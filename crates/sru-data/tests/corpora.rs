//! Corpus preparation end to end: the bundled excerpt's pinned figures, enwik8's split
//! offsets, the word-level formats, subword (BPE and GPT-2) vocabularies, and the tokenizers
//! that turn text into ids and back.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;

use common::*;
use sru_data::*;

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
        [8, 4, 4],
        "one <S> at the start and one after each sentence; shards in order"
    );
    let cache = TokenCache::open(&out).unwrap();
    assert_eq!(cache.layout(), StreamLayout::Sentences { boundary: 0 });
    let mut v = vec![0u32; 8];
    cache.read(Split::Train, 0, &mut v);
    assert_eq!(cache.vocab().decode(&v), "<S> a b c <S> c d <S>");
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

// ---- tokenizers ----

/// Pushes `ids` one by one through a text stream and returns the concatenated pieces.
fn streamed(t: &dyn Tokenizer, ids: &[u32]) -> String {
    let mut s = TextStream::new(t);
    let mut out = String::new();
    for &id in ids {
        out.push_str(&s.push(id).unwrap());
    }
    out + &s.finish().unwrap()
}

#[test]
fn byte_tokenizer_round_trips_and_streams_whole_characters() {
    let text = "Ünïcödé — 日本語 and ASCII";
    let symbols: Vec<u8> = {
        let mut v: Vec<u8> = text.bytes().collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let t = ByteTokenizer::new(symbols);
    let ids = t.encode(text).unwrap();
    assert_eq!(ids.len(), text.len(), "one id per byte");
    assert_eq!(t.decode(&ids).unwrap(), text);
    // A multi-byte character is released only once complete.
    let mut s = TextStream::new(&t);
    let pieces: Vec<String> = t
        .encode("日")
        .unwrap()
        .iter()
        .map(|&i| s.push(i).unwrap())
        .collect();
    assert_eq!(pieces, ["", "", "日"]);
    assert_eq!(streamed(&t, &ids), text);
    // A byte the corpus never had is named.
    let err = t.encode("Z").unwrap_err();
    assert!(matches!(err, DataError::OutOfVocabulary { .. }), "{err}");
    assert!(err.to_string().contains("0x5a"), "{err}");
    let err = t.decode(&[999]).unwrap_err();
    assert!(
        matches!(err, DataError::IdOutOfRange { id: 999, vocab_size } if vocab_size == t.vocab_size()),
        "{err}"
    );
}

#[test]
fn word_tokenizer_maps_unknown_words_and_streams_with_spaces() {
    let words: Vec<String> = ["<unk>", "the", "cat", "sat"].map(String::from).to_vec();
    let t = WordTokenizer::new(words.clone(), Some("<unk>"));
    assert_eq!(t.encode("the  cat\nsat dog").unwrap(), [1, 2, 3, 0]);
    assert_eq!(t.decode(&[1, 2, 3]).unwrap(), "the cat sat");
    assert_eq!(streamed(&t, &[1, 2, 3]), "the cat sat");
    // After a prompt, the first word gets its space.
    let mut s = TextStream::continuing(&t, &[1]).unwrap();
    assert_eq!(s.push(2).unwrap(), " cat");
    let strict = WordTokenizer::new(words, None);
    let err = strict.encode("the dog").unwrap_err();
    assert!(err.to_string().contains("\"dog\""), "{err}");
}

#[test]
fn a_prepared_corpus_gives_its_tokenizer() {
    let cache = bundled_cache("tokenizer");
    let t = cache.tokenizer().unwrap();
    assert_eq!(t.vocab_size(), cache.vocab().len());
    let mut ids = vec![0u32; 64];
    cache.read(Split::Valid, 0, &mut ids);
    let text = t.decode(&ids).unwrap();
    assert_eq!(
        t.encode(&text).unwrap(),
        ids,
        "valid text re-encodes to the same ids"
    );

    let dir = tmp("bpe-tokenizer");
    let src = Source::new(subword_corpus(&dir)).unwrap();
    let out = dir.join("out");
    let model = Subword::train_bpe(&src, 400, 2).unwrap();
    let split = SplitPlan::ratios([0.8, 0.1, 0.1]).unwrap();
    prepare_subword(&src, &model, &out, &split, &mut |_| {}).unwrap();
    let bpe = TokenCache::open(&out).unwrap().tokenizer().unwrap();
    let text = "the quick brown fox — Ünïcödé wörds";
    let ids = bpe.encode(text).unwrap();
    assert_eq!(streamed(bpe.as_ref(), &ids), bpe.decode(&ids).unwrap());
}
