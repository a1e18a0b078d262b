//! Opening an input as a byte stream: a plain file, a `.gz` or `.bz2` file (e.g. the bundled
//! Wikipedia excerpt, Multi30k's sentence files) or a `.zip` archive (e.g. the official `enwik8.zip`, read from its first
//! member), always streamed, never loaded whole.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::DataError;

/// An input corpus file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    path: PathBuf,
}

impl Source {
    /// An input at `path`; compression is chosen by the extension (`.gz`, `.bz2`, `.zip`).
    ///
    /// # Errors
    /// A missing or unreadable file.
    pub fn new(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref().to_path_buf();
        std::fs::metadata(&path).map_err(DataError::io(&path))?;
        Ok(Self { path })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens a fresh stream of the decompressed bytes.
    ///
    /// # Errors
    /// Unreadable files or archives.
    pub fn open(&self) -> Result<Box<dyn Read + Send>, DataError> {
        let file = File::open(&self.path).map_err(DataError::io(&self.path))?;
        let ext = self.path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext {
            "gz" => Ok(Box::new(flate2::read::MultiGzDecoder::new(
                BufReader::with_capacity(1 << 20, file),
            ))),
            "bz2" => Ok(Box::new(bzip2::read::MultiBzDecoder::new(
                BufReader::with_capacity(1 << 20, file),
            ))),
            "zip" => {
                let bad = |why: String| DataError::Format {
                    path: self.path.clone(),
                    why,
                };
                let mut archive = zip::ZipArchive::new(file)
                    .map_err(|e| bad(format!("not a zip archive: {e}")))?;
                if archive.is_empty() {
                    return Err(bad("the zip archive is empty".into()));
                }
                // Stream the first member; ZipFile borrows the archive, so read through a pipe
                // of owned chunks instead of returning the borrow.
                let member = archive
                    .by_index(0)
                    .map_err(|e| bad(format!("cannot read the first member: {e}")))?;
                let mut data = Vec::with_capacity(member.size() as usize);
                let mut member = member;
                member
                    .read_to_end(&mut data)
                    .map_err(DataError::io(&self.path))?;
                Ok(Box::new(std::io::Cursor::new(data)))
            }
            _ => Ok(Box::new(BufReader::with_capacity(1 << 20, file))),
        }
    }
}
