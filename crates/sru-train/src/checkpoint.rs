//! Checkpoint folders: `checkpoints/step-00001000/` holding the model, the optimizer, the
//! carried recurrent state, the loop state, and a `MANIFEST.json` listing every file with its
//! size and CRC-32.
//!
//! A checkpoint is written into `.tmp-step-…/`, each file synced, the manifest written last,
//! then the folder renamed into place and the parent synced: a crash leaves either the old
//! set of checkpoints or the new one, never a half-written checkpoint under a final name.
//! Reading checks every file against the manifest, so truncation or corruption is reported
//! with the file's name instead of being loaded.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// The manifest's file name; a folder without one is not a checkpoint.
pub const MANIFEST: &str = "MANIFEST.json";
/// Model weights under the official parameter names (`.safetensors`).
pub const MODEL_FILE: &str = "model.safetensors";
/// Optimizer state (Burn record, full precision).
pub const OPTIMIZER_FILE: &str = "optimizer.bin";
/// Carried recurrent state (c and attention memory) of every device's streams.
pub const CARRY_FILE: &str = "carry.safetensors";
/// Loop state: step, data cursor, config, metrics so far, best validation.
pub const STATE_FILE: &str = "state.json";

/// One file of a checkpoint in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Bytes.
    pub bytes: u64,
    /// CRC-32 of the content.
    pub crc32: u32,
}

/// The manifest: format version, the update the checkpoint was taken after, and its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version of the folder.
    pub format: u32,
    /// Completed updates.
    pub step: u64,
    /// Every file and its checksum.
    pub files: BTreeMap<String, FileEntry>,
}

/// The current checkpoint format.
pub const FORMAT: u32 = 1;

/// The folder name of the checkpoint after `step` updates.
pub fn folder_name(step: u64) -> String {
    format!("step-{step:08}")
}

fn sync_dir(dir: &Path) -> Result<(), TrainError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(TrainError::io(dir))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let mut f = File::create(path).map_err(TrainError::io(path))?;
    f.write_all(bytes).map_err(TrainError::io(path))?;
    f.sync_all().map_err(TrainError::io(path))
}

/// Writes the checkpoint of `step` with `files` (name, content) under `root`, atomically,
/// replacing an earlier checkpoint of the same step. Returns its folder.
///
/// # Errors
/// I/O failures (the previous checkpoints are then untouched).
pub fn write(root: &Path, step: u64, files: &[(&str, Vec<u8>)]) -> Result<PathBuf, TrainError> {
    std::fs::create_dir_all(root).map_err(TrainError::io(root))?;
    let name = folder_name(step);
    let tmp = root.join(format!(".tmp-{name}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(TrainError::io(&tmp))?;
    }
    std::fs::create_dir(&tmp).map_err(TrainError::io(&tmp))?;
    let mut manifest = Manifest {
        format: FORMAT,
        step,
        files: BTreeMap::new(),
    };
    for (file, bytes) in files {
        write_synced(&tmp.join(file), bytes)?;
        manifest.files.insert(
            (*file).to_string(),
            FileEntry {
                bytes: bytes.len() as u64,
                crc32: crc32fast::hash(bytes),
            },
        );
    }
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| {
        TrainError::checkpoint(tmp.join(MANIFEST), format!("cannot serialise: {e}"))
    })?;
    write_synced(&tmp.join(MANIFEST), &text)?;
    sync_dir(&tmp)?;
    let dest = root.join(&name);
    if dest.exists() {
        // Same step written again (e.g. interrupted right after a resume): swap it out.
        let old = root.join(format!(".old-{name}"));
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(TrainError::io(&old))?;
        }
        std::fs::rename(&dest, &old).map_err(TrainError::io(&dest))?;
        std::fs::rename(&tmp, &dest).map_err(TrainError::io(&dest))?;
        std::fs::remove_dir_all(&old).map_err(TrainError::io(&old))?;
    } else {
        std::fs::rename(&tmp, &dest).map_err(TrainError::io(&dest))?;
    }
    sync_dir(root)?;
    Ok(dest)
}

/// The complete checkpoints under `root` (folders with a manifest), oldest first.
pub fn list(root: &Path) -> Vec<(u64, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<(u64, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name.strip_prefix("step-")?.parse::<u64>().ok()?;
            e.path().join(MANIFEST).is_file().then(|| (step, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// The newest complete checkpoint under `root`.
pub fn latest(root: &Path) -> Option<PathBuf> {
    list(root).pop().map(|(_, p)| p)
}

/// Deletes all but the newest `keep_last` checkpoints and the one of step `keep_step`.
///
/// # Errors
/// I/O failures.
pub fn prune(root: &Path, keep_last: usize, keep_step: Option<u64>) -> Result<(), TrainError> {
    let all = list(root);
    let cut = all.len().saturating_sub(keep_last);
    for (step, path) in &all[..cut] {
        if Some(*step) != keep_step {
            std::fs::remove_dir_all(path).map_err(TrainError::io(path))?;
        }
    }
    Ok(())
}

/// A checkpoint read back and verified against its manifest.
#[derive(Debug)]
pub struct Loaded {
    /// Its folder.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The content of every file.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Loaded {
    /// The content of `name`.
    ///
    /// # Errors
    /// [`TrainError::Checkpoint`] when the checkpoint has no such file.
    pub fn file(&self, name: &str) -> Result<&[u8], TrainError> {
        self.files.get(name).map(Vec::as_slice).ok_or_else(|| {
            TrainError::checkpoint(self.path.join(name), "missing from the checkpoint")
        })
    }
}

/// Reads the checkpoint folder `dir`, checking every file's size and checksum.
///
/// # Errors
/// [`TrainError::Checkpoint`] naming the missing, truncated or corrupt file.
pub fn read(dir: &Path) -> Result<Loaded, TrainError> {
    let mpath = dir.join(MANIFEST);
    let text = std::fs::read(&mpath).map_err(|e| {
        TrainError::checkpoint(
            &mpath,
            format!("cannot read the manifest ({e}); incomplete checkpoint?"),
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| TrainError::checkpoint(&mpath, format!("corrupt manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(TrainError::checkpoint(
            &mpath,
            format!(
                "format {} is not the supported format {FORMAT}",
                manifest.format
            ),
        ));
    }
    let mut files = BTreeMap::new();
    for (name, entry) in &manifest.files {
        let path = dir.join(name);
        let bytes = std::fs::read(&path)
            .map_err(|e| TrainError::checkpoint(&path, format!("cannot read: {e}")))?;
        if bytes.len() as u64 != entry.bytes {
            return Err(TrainError::checkpoint(
                &path,
                format!(
                    "truncated or altered: {} bytes, the manifest says {}",
                    bytes.len(),
                    entry.bytes
                ),
            ));
        }
        if crc32fast::hash(&bytes) != entry.crc32 {
            return Err(TrainError::checkpoint(
                &path,
                "corrupt: its checksum does not match the manifest",
            ));
        }
        files.insert(name.clone(), bytes);
    }
    Ok(Loaded {
        path: dir.to_path_buf(),
        manifest,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sru-ckpt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn round_trip_prune_and_detect_damage() {
        let root = scratch("rt");
        for step in [10, 20, 30, 40] {
            write(
                &root,
                step,
                &[("a.bin", vec![step as u8; 100]), ("b", b"xyz".to_vec())],
            )
            .expect("write");
        }
        // A leftover temporary folder of a crashed write is not a checkpoint.
        std::fs::create_dir_all(root.join(".tmp-step-00000050")).expect("mkdir");
        assert_eq!(
            list(&root).iter().map(|s| s.0).collect::<Vec<_>>(),
            [10, 20, 30, 40]
        );
        prune(&root, 2, Some(10)).expect("prune");
        assert_eq!(
            list(&root).iter().map(|s| s.0).collect::<Vec<_>>(),
            [10, 30, 40]
        );
        let dir = latest(&root).expect("latest");
        let ck = read(&dir).expect("read");
        assert_eq!(ck.file("a.bin").expect("a"), &[40u8; 100][..]);
        // Rewriting the same step replaces it.
        write(&root, 40, &[("a.bin", vec![1; 5])]).expect("rewrite");
        assert_eq!(
            read(&dir).expect("read").file("a.bin").expect("a"),
            &[1u8; 5][..]
        );
        // Truncation and corruption name the file.
        let f = root.join(folder_name(30)).join("a.bin");
        std::fs::write(&f, [30u8; 50]).expect("truncate");
        let e = read(&root.join(folder_name(30)))
            .expect_err("truncated")
            .to_string();
        assert!(e.contains("a.bin") && e.contains("truncated"), "{e}");
        std::fs::write(&f, [31u8; 100]).expect("corrupt");
        let e = read(&root.join(folder_name(30)))
            .expect_err("corrupt")
            .to_string();
        assert!(e.contains("a.bin") && e.contains("checksum"), "{e}");
        std::fs::remove_dir_all(&root).expect("cleanup");
    }
}
