//! The word tokenizers BLEU counts n-grams over, as sacreBLEU 2.6.0 defines them: `13a`
//! (mteval-v13a's, the WMT standard: HTML entities decoded, punctuation split off, `.` and
//! `,` kept inside numbers, `-` split after a digit) and `none` (the text as given, for input
//! that is already tokenised, as fairseq scores IWSLT'14).

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::BleuError;

/// Which tokenizer splits hypotheses and references into words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Tokenize {
    /// mteval-v13a (sacreBLEU's default).
    #[default]
    #[serde(rename = "13a")]
    Thirteen,
    /// No tokenization: words are what whitespace separates.
    #[serde(rename = "none")]
    None,
}

impl Tokenize {
    /// The name in sacreBLEU's signature (`tok:13a`, `tok:none`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Thirteen => "13a",
            Self::None => "none",
        }
    }

    /// `line` tokenised, words separated by one space.
    pub fn apply(self, line: &str) -> String {
        match self {
            Self::Thirteen => tokenize_13a(line),
            Self::None => line.to_owned(),
        }
    }
}

impl fmt::Display for Tokenize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Tokenize {
    type Err = BleuError;

    fn from_str(s: &str) -> Result<Self, BleuError> {
        match s {
            "13a" => Ok(Self::Thirteen),
            "none" => Ok(Self::None),
            other => Err(BleuError::UnknownTokenizer(other.to_owned())),
        }
    }
}

/// sacreBLEU's regular-expression passes, in order (`tokenizer_re.py`).
static PASSES: LazyLock<[(Regex, &'static str); 4]> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("13a pattern {p}: {e}"));
    [
        // Symbols: {|}~ [\]^_` space!"#$%& ()*+ :;<=>?@ /
        (re(r"([\{-~\[-` -&\(-\+:-@/])"), " ${1} "),
        // Period and comma unless preceded by a digit.
        (re(r"([^0-9])([\.,])"), "${1} ${2} "),
        // Period and comma unless followed by a digit.
        (re(r"([\.,])([^0-9])"), " ${1} ${2}"),
        // Dash after a digit.
        (re(r"([0-9])(-)"), "${1} ${2} "),
    ]
});

/// mteval-v13a tokenization (sacreBLEU's `Tokenizer13a`).
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut line = format!(" {line} ");
    for (re, with) in PASSES.iter() {
        line = re.replace_all(&line, *with).into_owned();
    }
    words(&line).collect::<Vec<_>>().join(" ")
}

/// Python's `str.isspace`: Unicode white space plus the four ASCII separators U+001C–U+001F.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.split()`: the runs of non-space characters.
pub(crate) fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split(is_py_space).filter(|w| !w.is_empty())
}

/// Python's `str.rstrip()`.
pub(crate) fn rstrip(line: &str) -> &str {
    line.trim_end_matches(is_py_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirteen_a_splits_punctuation_but_not_numbers() {
        assert_eq!(tokenize_13a("Hello, world!"), "Hello , world !");
        assert_eq!(
            tokenize_13a("It costs 3.50, or 1,000 (approx)."),
            "It costs 3.50 , or 1,000 ( approx ) ."
        );
        assert_eq!(
            tokenize_13a("a 10-year-old AT&amp;T"),
            "a 10 - year-old AT & T"
        );
        assert_eq!(tokenize_13a("x <skipped> y"), "x y");
        assert_eq!(tokenize_13a("  many\t spaces  "), "many spaces");
    }

    #[test]
    fn names_round_trip() {
        for t in [Tokenize::Thirteen, Tokenize::None] {
            assert_eq!(t.name().parse::<Tokenize>().ok(), Some(t));
        }
        assert!("intl".parse::<Tokenize>().is_err());
    }
}
