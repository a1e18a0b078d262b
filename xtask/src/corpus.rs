//! Finding the corpus a run trains on: a prepared token cache as given, a raw byte corpus
//! prepared on first use, or (no `--data`) the bundled Wikipedia excerpt, prepared once into
//! `target/sru-data/`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use sru_data::{ByteOptions, ByteVocab, Source, SplitPlan, TokenCache, prepare_bytes};

/// The repository root (where `datasets/` is): the checkout this binary was built from, or,
/// for a binary copied to another machine, the current folder.
pub fn repo_root() -> PathBuf {
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| p.join("datasets").is_dir());
    built.unwrap_or_else(|| PathBuf::from("."))
}

/// The bundled corpus.
pub fn bundled() -> PathBuf {
    repo_root().join("datasets/enwiki-excerpt.xml.bz2")
}

/// A prepared cache for `data` (default: the bundled excerpt): used as is when it is one,
/// otherwise the file is prepared as a byte corpus (90/5/5 split; enwik8 by its name gets the
/// official 90M/5M/5M) into `target/sru-data/<name>` the first time.
pub fn resolve(data: Option<&Path>) -> Result<PathBuf> {
    let input = data.map_or_else(bundled, Path::to_path_buf);
    if input.is_dir() {
        TokenCache::open(&input).with_context(|| {
            format!(
                "{} is not a prepared corpus (make one with `cargo xtask data prepare`)",
                input.display()
            )
        })?;
        return Ok(std::fs::canonicalize(&input)?);
    }
    if !input.is_file() {
        anyhow::bail!("corpus {} does not exist", input.display());
    }
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "corpus".into());
    let out = repo_root().join("target/sru-data").join(&name);
    match TokenCache::open(&out) {
        Ok(_) => return Ok(std::fs::canonicalize(&out)?),
        // A cache of ours that no longer opens (damaged, or made by an older sru-rs in
        // another format) is rebuilt from its source.
        Err(e) if out.exists() => {
            eprintln!("rebuilding {}: {e}", out.display());
            std::fs::remove_dir_all(&out)
                .with_context(|| format!("cannot remove {}", out.display()))?;
        }
        Err(_) => {}
    }
    let split = if name == "enwik8" || name == "enwik8.zip" {
        SplitPlan::Enwik8
    } else {
        SplitPlan::ratios([0.9, 0.05, 0.05])?
    };
    eprintln!(
        "preparing {} as a byte corpus into {} …",
        input.display(),
        out.display()
    );
    let t = Instant::now();
    // Prepared beside the target and renamed into place, so concurrent runs never read a
    // half-written cache.
    let tmp = out.with_extension(format!("tmp-{}", std::process::id()));
    let info = prepare_bytes(
        &Source::new(&input)?,
        &tmp,
        &ByteOptions {
            vocab: ByteVocab::Present,
            split,
        },
        &mut |_| {},
    )?;
    if std::fs::rename(&tmp, &out).is_err() {
        // Another process finished first: use its cache.
        let _ = std::fs::remove_dir_all(&tmp);
        TokenCache::open(&out)?;
    }
    eprintln!(
        "prepared in {:.1} s: vocabulary {}, train {} / valid {} / test {} tokens",
        t.elapsed().as_secs_f64(),
        info.vocab_size,
        info.counts[0],
        info.counts[1],
        info.counts[2]
    );
    Ok(std::fs::canonicalize(&out)?)
}
