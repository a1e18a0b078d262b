//! The token file of one split of a translation corpus, `<split>.pairs` (little-endian):
//!
//! | offset | field |
//! |---|---|
//! | 0 | magic `SRUPAIRS` |
//! | 8 | format version (u32, = 1), 4 bytes padding |
//! | 16 | pairs n, source tokens S, target tokens T (3 × u64) |
//! | 40 | source lengths (n × u32), target lengths (n × u32) |
//! | … | source tokens (S × u32), target tokens (T × u32) |
//! | end − 4 | CRC-32 of every byte before it |
//!
//! Tokens are the sentences' ids without `</s>`. Written to a temporary file, synced and
//! renamed; read whole and checked (corpora of a few million tokens).

use std::io::Write;
use std::path::Path;

use crate::error::DataError;

const MAGIC: &[u8; 8] = b"SRUPAIRS";
const VERSION: u32 = 1;
const HEADER: usize = 40;

/// The sentence pairs of one split, as token ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairSet {
    src: Vec<u32>,
    tgt: Vec<u32>,
    /// Start of pair i's source in `src` (n + 1 entries).
    src_at: Vec<usize>,
    /// Start of pair i's target in `tgt` (n + 1 entries).
    tgt_at: Vec<usize>,
}

impl PairSet {
    /// An empty set.
    pub fn new() -> Self {
        Self {
            src_at: vec![0],
            tgt_at: vec![0],
            ..Self::default()
        }
    }

    /// Adds a pair.
    pub fn push(&mut self, src: &[u32], tgt: &[u32]) {
        self.src.extend_from_slice(src);
        self.tgt.extend_from_slice(tgt);
        self.src_at.push(self.src.len());
        self.tgt_at.push(self.tgt.len());
    }

    /// Pairs in the set.
    pub fn len(&self) -> usize {
        self.src_at.len() - 1
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Source ids of pair `i`.
    pub fn src(&self, i: usize) -> &[u32] {
        &self.src[self.src_at[i]..self.src_at[i + 1]]
    }

    /// Target ids of pair `i`.
    pub fn tgt(&self, i: usize) -> &[u32] {
        &self.tgt[self.tgt_at[i]..self.tgt_at[i + 1]]
    }

    /// Source and target tokens in all (no `</s>`).
    pub fn tokens(&self) -> (u64, u64) {
        (self.src.len() as u64, self.tgt.len() as u64)
    }

    fn bytes(&self) -> Vec<u8> {
        let n = self.len();
        let mut b = Vec::with_capacity(HEADER + 8 * n + 4 * (self.src.len() + self.tgt.len()) + 4);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        for x in [n, self.src.len(), self.tgt.len()] {
            b.extend_from_slice(&(x as u64).to_le_bytes());
        }
        for at in [&self.src_at, &self.tgt_at] {
            for w in at.windows(2) {
                b.extend_from_slice(&((w[1] - w[0]) as u32).to_le_bytes());
            }
        }
        for t in self.src.iter().chain(&self.tgt) {
            b.extend_from_slice(&t.to_le_bytes());
        }
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Writes the set to `path` (atomically); returns its CRC-32.
    ///
    /// # Errors
    /// I/O failures.
    pub fn write(&self, path: &Path) -> Result<u32, DataError> {
        let bytes = self.bytes();
        let tmp = path.with_extension("pairs.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(DataError::io(&tmp))?;
        f.write_all(&bytes).map_err(DataError::io(&tmp))?;
        f.sync_all().map_err(DataError::io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(DataError::io(path))?;
        let crc: [u8; 4] = bytes[bytes.len() - 4..].try_into().unwrap_or_default();
        Ok(u32::from_le_bytes(crc))
    }

    /// Reads a set written by [`PairSet::write`], checking its structure and checksum.
    ///
    /// # Errors
    /// A missing, truncated or corrupt file.
    pub fn read(path: &Path) -> Result<Self, DataError> {
        let b = std::fs::read(path).map_err(DataError::io(path))?;
        let bad = |why: &str| DataError::CorruptCache {
            path: path.to_path_buf(),
            why: why.to_owned(),
        };
        if b.len() < HEADER + 4 || &b[..8] != MAGIC {
            return Err(bad("not a sentence-pair file (bad magic or too short)"));
        }
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(a) as usize
        };
        if u32_at(8) != VERSION {
            return Err(bad(&format!(
                "format version {} (this build reads {VERSION}); prepare the corpus again",
                u32_at(8)
            )));
        }
        let (n, s, t) = (u64_at(16), u64_at(24), u64_at(32));
        let want = n
            .checked_mul(8)
            .and_then(|x| x.checked_add(s.checked_mul(4)?))
            .and_then(|x| x.checked_add(t.checked_mul(4)?))
            .and_then(|x| x.checked_add(HEADER + 4));
        if want != Some(b.len()) {
            return Err(bad(
                "truncated or extended: its size does not match its header",
            ));
        }
        let body = b.len() - 4;
        if crc32fast::hash(&b[..body]) != u32_at(body) {
            return Err(bad("checksum mismatch"));
        }
        let mut set = Self::new();
        let lens = |base: usize| (0..n).map(move |i| u32_at(base + 4 * i) as usize);
        let (src_lens, tgt_lens): (Vec<usize>, Vec<usize>) =
            (lens(HEADER).collect(), lens(HEADER + 4 * n).collect());
        if src_lens.iter().sum::<usize>() != s || tgt_lens.iter().sum::<usize>() != t {
            return Err(bad("sentence lengths do not add up to the token counts"));
        }
        let toks = HEADER + 8 * n;
        set.src = (0..s).map(|i| u32_at(toks + 4 * i)).collect();
        set.tgt = (0..t).map(|i| u32_at(toks + 4 * (s + i))).collect();
        let mut acc = 0;
        for l in src_lens {
            acc += l;
            set.src_at.push(acc);
        }
        acc = 0;
        for l in tgt_lens {
            acc += l;
            set.tgt_at.push(acc);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_corruption() -> Result<(), DataError> {
        let dir = std::env::temp_dir().join(format!("sru-pairs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(DataError::io(&dir))?;
        let p = dir.join("train.pairs");
        let mut set = PairSet::new();
        set.push(&[5, 6, 7], &[8]);
        set.push(&[], &[9, 10]);
        set.write(&p)?;
        let back = PairSet::read(&p)?;
        assert_eq!(back, set);
        assert_eq!(back.src(0), &[5, 6, 7]);
        assert_eq!(back.tgt(1), &[9, 10]);
        let mut b = std::fs::read(&p).map_err(DataError::io(&p))?;
        b[HEADER + 2] ^= 1;
        std::fs::write(&p, &b).map_err(DataError::io(&p))?;
        assert!(matches!(
            PairSet::read(&p),
            Err(DataError::CorruptCache { .. })
        ));
        std::fs::write(&p, &b[..b.len() - 1]).map_err(DataError::io(&p))?;
        assert!(matches!(
            PairSet::read(&p),
            Err(DataError::CorruptCache { .. })
        ));
        std::fs::remove_dir_all(&dir).map_err(DataError::io(&dir))?;
        Ok(())
    }
}
