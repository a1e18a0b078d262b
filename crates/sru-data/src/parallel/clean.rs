//! Training-pair cleaning as fairseq's IWSLT'14 preparation does it (Moses
//! `clean-corpus-n.perl -ratio 1.5 … 1 175`): a pair is kept when both sides have between
//! `min_len` and `max_len` words and neither side is more than `ratio` times longer than the
//! other. Words are whitespace-separated (for BPE'd fairseq text, after removing `@@ `).

use serde::{Deserialize, Serialize};

/// The cleaning thresholds; applied to the training split only.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CleanOptions {
    /// Fewest words on either side.
    pub min_len: usize,
    /// Most words on either side.
    pub max_len: usize,
    /// Largest length ratio between the sides.
    pub ratio: f64,
}

impl Default for CleanOptions {
    /// fairseq's `prepare-iwslt14.sh`: 1 to 175 words, ratio 1.5.
    fn default() -> Self {
        Self {
            min_len: 1,
            max_len: 175,
            ratio: 1.5,
        }
    }
}

impl CleanOptions {
    /// Whether a pair of `src` and `tgt` words is kept.
    pub fn keep(&self, src: usize, tgt: usize) -> bool {
        let in_range = |n: usize| (self.min_len..=self.max_len).contains(&n);
        if !in_range(src) || !in_range(tgt) || src == 0 || tgt == 0 {
            return false;
        }
        let (s, t) = (src as f64, tgt as f64);
        s / t <= self.ratio && t / s <= self.ratio
    }
}

/// Words of a line for cleaning: whitespace-separated, BPE joints (`@@ `) undone first.
pub(crate) fn word_count(line: &str, bpe_joints: bool) -> usize {
    if bpe_joints {
        format!("{line} ")
            .replace("@@ ", "")
            .split_whitespace()
            .count()
    } else {
        line.split_whitespace().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_as_clean_corpus_n() {
        let c = CleanOptions::default();
        assert!(c.keep(10, 14));
        assert!(c.keep(10, 15));
        assert!(!c.keep(10, 16));
        assert!(!c.keep(0, 1));
        assert!(!c.keep(176, 170));
        assert!(c.keep(1, 1));
        assert_eq!(word_count("ein klein@@ es Haus", true), 3);
        assert_eq!(word_count(" a  b ", false), 2);
    }
}
