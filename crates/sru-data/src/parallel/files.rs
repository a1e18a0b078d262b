//! The files of a sentence-aligned corpus folder: which file holds which split and side
//! (`{train,val|valid,test*}.{src,tgt}`, plain or `.gz`), read as lines with errors that name
//! the file and line, and the published checksums of the Multi30k files they are checked
//! against.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::DataError;
use crate::source::Source;

/// SHA-256 of Multi30k task 1 raw files (github.com/multi30k/dataset, `data/task1/raw`, commit
/// a3d2e0d), checked whenever a file of one of these names is prepared.
pub const MULTI30K_SHA256: [(&str, &str); 8] = [
    (
        "test_2016_flickr.de.gz",
        "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    ),
    (
        "test_2016_flickr.en.gz",
        "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    ),
    (
        "test_2017_flickr.de.gz",
        "a2c89666db00c495cd8513b9d708d5a3acc205d7de312ef2bf5fb7ebc1540aee",
    ),
    (
        "test_2017_flickr.en.gz",
        "76a444ee25172e72695cddb13ae4a3bda59430617be88e0bb46b60504f054074",
    ),
    (
        "train.de.gz",
        "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    ),
    (
        "train.en.gz",
        "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    ),
    (
        "val.de.gz",
        "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    ),
    (
        "val.en.gz",
        "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    ),
];

/// One split of a parallel corpus folder: its name and the files of its two sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitFiles {
    /// `train`, `valid`, or the test file's own stem (`test`, `test_2016_flickr`, …).
    pub name: String,
    /// Source-language file.
    pub src: PathBuf,
    /// Target-language file.
    pub tgt: PathBuf,
}

/// The file of `stem.lang` in `dir`, plain or gzipped.
fn side(dir: &Path, stem: &str, lang: &str) -> Option<PathBuf> {
    [format!("{stem}.{lang}"), format!("{stem}.{lang}.gz")]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// The splits in `dir`: `train`, `valid` (from `val.*` or `valid.*`) and every `test*` stem,
/// in that order, tests sorted by name.
///
/// # Errors
/// An unreadable folder; a missing train or validation split; a split with only one side.
pub fn find_splits(dir: &Path, src: &str, tgt: &str) -> Result<Vec<SplitFiles>, DataError> {
    let mut stems: Vec<String> = Vec::new();
    for e in std::fs::read_dir(dir).map_err(DataError::io(dir))? {
        let name = e.map_err(DataError::io(dir))?.file_name();
        let name = name.to_string_lossy();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        for lang in [src, tgt] {
            if let Some(stem) = name.strip_suffix(&format!(".{lang}")) {
                if !stems.iter().any(|s| s == stem) {
                    stems.push(stem.to_owned());
                }
            }
        }
    }
    stems.sort();
    let pick = |stem: &str, name: &str| -> Result<SplitFiles, DataError> {
        match (side(dir, stem, src), side(dir, stem, tgt)) {
            (Some(s), Some(t)) => Ok(SplitFiles {
                name: name.to_owned(),
                src: s,
                tgt: t,
            }),
            (s, _) => Err(DataError::Format {
                path: dir.to_path_buf(),
                why: format!(
                    "split `{stem}` has a .{} file but no .{} file",
                    if s.is_some() { src } else { tgt },
                    if s.is_some() { tgt } else { src }
                ),
            }),
        }
    };
    let missing = |what: &str| DataError::Format {
        path: dir.to_path_buf(),
        why: format!(
            "no {what} split: expected {what}.{src} and {what}.{tgt} (plain or .gz) for a \
             sentence-aligned corpus"
        ),
    };
    let mut out = Vec::new();
    if !stems.iter().any(|s| s == "train") {
        return Err(missing("train"));
    }
    out.push(pick("train", "train")?);
    match stems.iter().find(|s| *s == "valid" || *s == "val") {
        Some(v) => out.push(pick(v, "valid")?),
        None => return Err(missing("valid")),
    }
    for t in stems.iter().filter(|s| s.starts_with("test")) {
        out.push(pick(t, t)?);
    }
    Ok(out)
}

/// The lines of a text file (plain or `.gz`), without their `\n` or `\r\n`.
///
/// # Errors
/// An unreadable file; a line that is not UTF-8 (naming file and 1-based line).
pub fn read_lines(path: &Path) -> Result<Vec<String>, DataError> {
    let source = Source::new(path)?;
    let mut r = BufReader::with_capacity(1 << 20, source.open()?);
    let mut out = Vec::new();
    let mut raw = Vec::new();
    loop {
        raw.clear();
        if r.read_until(b'\n', &mut raw).map_err(DataError::io(path))? == 0 {
            return Ok(out);
        }
        if raw.last() == Some(&b'\n') {
            raw.pop();
            if raw.last() == Some(&b'\r') {
                raw.pop();
            }
        }
        match String::from_utf8(std::mem::take(&mut raw)) {
            Ok(s) => out.push(s),
            Err(e) => {
                return Err(DataError::InvalidUtf8Line {
                    path: path.to_path_buf(),
                    line: out.len() as u64 + 1,
                    column: e.utf8_error().valid_up_to() as u64 + 1,
                });
            }
        }
    }
}

/// The SHA-256 of a file's bytes as stored (compressed if it is), in hex.
///
/// # Errors
/// An unreadable file.
pub fn sha256_file(path: &Path) -> Result<String, DataError> {
    let mut f = std::fs::File::open(path).map_err(DataError::io(path))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(DataError::io(path))?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks a file against the published Multi30k checksum of its name, if it has one.
///
/// # Errors
/// A file named as a Multi30k file whose bytes differ from the published release.
pub fn check_known(path: &Path, sha256: &str) -> Result<(), DataError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match MULTI30K_SHA256.iter().find(|(n, _)| *n == name) {
        Some((_, want)) if *want != sha256 => Err(DataError::ChecksumMismatch {
            path: path.to_path_buf(),
            expected: (*want).to_owned(),
            actual: sha256.to_owned(),
        }),
        _ => Ok(()),
    }
}
