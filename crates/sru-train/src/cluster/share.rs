//! Node 0's checkpoint sent to every node on resume ([`share_checkpoint`]): its files as one
//! archive (for every file, its name's and content's lengths as u64 LE, and their bytes),
//! broadcast through the collective, and written under a scratch folder by each other node's
//! first device.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;

use crate::error::TrainError;
use crate::sync::Peer;

/// Sends node 0's checkpoint `dir` to every node (all devices of every node take part);
/// the others write it under `scratch` and return its folder there.
///
/// # Errors
/// Unreadable or unwritable files, a failed exchange.
pub(super) fn share_checkpoint<B: Backend>(
    peer: &Peer,
    dir: Option<&Path>,
    scratch: &Path,
    device: &B::Device,
) -> Result<Option<PathBuf>, TrainError> {
    // An archive: for every file, its name's and content's lengths (u64 LE) and bytes.
    let mut archive = Vec::new();
    if let Some(dir) = dir {
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        push_entry(&mut archive, name.as_bytes(), &[]);
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(TrainError::io(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).map_err(TrainError::io(&f))?;
            let name = f.file_name().unwrap_or_default().to_string_lossy();
            push_entry(&mut archive, name.as_bytes(), &bytes);
        }
    }
    let own = (peer.rank == 0).then_some(archive.as_slice());
    let archive = peer.broadcast::<B>(own, device)?;
    let devices = (peer.world / peer.nodes).max(1);
    if dir.is_some() || !peer.rank.is_multiple_of(devices) {
        return Ok(None);
    }
    let bad = || TrainError::checkpoint(scratch, "node 0's checkpoint arrived damaged");
    let mut entries = entries(&archive).ok_or_else(bad)?.into_iter();
    let (folder, _) = entries.next().ok_or_else(bad)?;
    let folder = scratch.join(String::from_utf8_lossy(folder).as_ref());
    if scratch.exists() {
        std::fs::remove_dir_all(scratch).map_err(TrainError::io(scratch))?;
    }
    std::fs::create_dir_all(&folder).map_err(TrainError::io(&folder))?;
    for (name, bytes) in entries {
        let name = String::from_utf8_lossy(name);
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            return Err(bad());
        }
        let path = folder.join(name.as_ref());
        std::fs::write(&path, bytes).map_err(TrainError::io(&path))?;
    }
    Ok(Some(folder))
}

/// Appends one entry to an archive: `name`'s and `bytes`' lengths (u64 LE) and contents.
fn push_entry(out: &mut Vec<u8>, name: &[u8], bytes: &[u8]) {
    out.extend_from_slice(&(name.len() as u64).to_le_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The (name, bytes) entries of an archive (`None` when it is damaged).
fn entries(mut archive: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    fn take<'a>(a: &mut &'a [u8]) -> Option<&'a [u8]> {
        let (len, rest) = a.split_at_checked(8)?;
        let len = usize::try_from(u64::from_le_bytes(len.try_into().ok()?)).ok()?;
        let (v, rest) = rest.split_at_checked(len)?;
        *a = rest;
        Some(v)
    }
    let mut out = Vec::new();
    while !archive.is_empty() {
        let name = take(&mut archive)?;
        let bytes = take(&mut archive)?;
        out.push((name, bytes));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{entries, push_entry};

    #[test]
    fn archives_read_back() {
        let mut a = Vec::new();
        push_entry(&mut a, b"step-00000010", &[]);
        push_entry(&mut a, b"model.safetensors", &[1, 2, 3]);
        let e = entries(&a).expect("well formed");
        assert_eq!(
            e,
            vec![
                (&b"step-00000010"[..], &[][..]),
                (&b"model.safetensors"[..], &[1u8, 2, 3][..])
            ]
        );
        assert!(entries(&a[..a.len() - 1]).is_none());
    }
}
