//! Where file data comes from and goes to, behind small traits, with the
//! real filesystem implementation.
//!
//! The transfer state machines only ever hold one chunk in memory: sources
//! are read at an offset, partial files are written at an offset. The
//! receiving side writes into `<destination>/.rsupport-partial/<transfer>-<entry>`
//! and renames into place only after the checksum matched.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::path::{PathError, SafePath, PARTIAL_DIR};

/// Data of one outgoing file, read at increasing offsets (and from an
/// earlier offset again after a resume).
pub trait EntrySource: Send {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many (0 at end).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

/// An outgoing file on disk, opened on first read so that queuing a tree of
/// many files does not hold many descriptors open.
#[derive(Debug)]
pub struct FsSource {
    path: PathBuf,
    file: Option<File>,
    position: u64,
}

impl FsSource {
    /// A source reading `path` (opened lazily).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FsSource {
            path: path.into(),
            file: None,
            position: 0,
        }
    }
}

impl EntrySource for FsSource {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                self.position = 0;
                self.file.insert(File::open(&self.path)?)
            }
        };
        if offset != self.position {
            file.seek(SeekFrom::Start(offset))?;
            self.position = offset;
        }
        let mut filled = 0;
        // Fill the whole buffer unless the file ends, so chunks are full-sized.
        while filled < buf.len() {
            let n = match file.read(buf.get_mut(filled..).unwrap_or_default()) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            filled += n;
        }
        self.position += filled as u64;
        Ok(filled)
    }
}

/// Identifies one partial file: transfer and entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartialKey {
    /// Transfer id.
    pub transfer_id: u64,
    /// Entry index in the offer.
    pub entry: u32,
}

/// A file being received, kept aside until verified.
#[allow(clippy::len_without_is_empty)] // a length query on a file, not a collection
pub trait PartialSink: Send {
    /// Current length in bytes.
    fn len(&mut self) -> io::Result<u64>;
    /// Cuts the file to `len` bytes (drops data that was never confirmed).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Writes `data` at `offset`.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Reads back at `offset` (to re-hash the kept prefix on resume).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Makes everything written so far durable; only then is it acknowledged.
    fn sync(&mut self) -> io::Result<()>;
}

/// The receiving side's storage for one accepted transfer.
pub trait Destination: Send {
    /// Creates a folder entry.
    fn create_dir(&mut self, path: &SafePath) -> Result<(), StoreError>;
    /// Opens (creating if needed, keeping existing data) the partial file of
    /// an entry.
    fn open_partial(&mut self, key: PartialKey) -> Result<Box<dyn PartialSink>, StoreError>;
    /// Moves a verified partial file to its final path. Never overwrites.
    fn commit(
        &mut self,
        key: PartialKey,
        sink: Box<dyn PartialSink>,
        path: &SafePath,
        modified_ms: u64,
    ) -> Result<(), StoreError>;
    /// Deletes a partial file (checksum mismatch, cancel).
    fn discard(&mut self, key: PartialKey);
}

/// A storage failure, as the peer and the user get to see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The destination refused the path.
    #[error("unsafe destination path: {0}")]
    Path(#[from] PathError),
    /// The filesystem failed.
    #[error("{op} failed: {kind}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The OS error kind.
        kind: io::ErrorKind,
    },
}

impl StoreError {
    fn io(op: &'static str) -> impl FnOnce(io::Error) -> StoreError {
        move |e| StoreError::Io { op, kind: e.kind() }
    }
}

/// A destination folder on the local filesystem.
#[derive(Debug, Clone)]
pub struct FsDestination {
    root: PathBuf,
}

impl FsDestination {
    /// Files land under `root` (which must exist).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsDestination { root: root.into() }
    }

    /// The destination folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn partial_dir(&self) -> Result<PathBuf, StoreError> {
        let dir = self.root.join(PARTIAL_DIR);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() && !m.file_type().is_symlink() => return Ok(dir),
            Ok(_) => return Err(PathError::SymlinkInDestination { index: 0 }.into()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("checking the partial folder")(e)),
        }
        match std::fs::create_dir(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(dir),
            Err(e) => Err(StoreError::io("creating the partial folder")(e)),
        }
    }

    fn partial_path(&self, key: PartialKey) -> Result<PathBuf, StoreError> {
        Ok(self
            .partial_dir()?
            .join(format!("{}-{}", key.transfer_id, key.entry)))
    }
}

impl Destination for FsDestination {
    fn create_dir(&mut self, path: &SafePath) -> Result<(), StoreError> {
        path.create_dir_in(&self.root)?;
        Ok(())
    }

    fn open_partial(&mut self, key: PartialKey) -> Result<Box<dyn PartialSink>, StoreError> {
        let path = self.partial_path(key)?;
        if let Ok(m) = std::fs::symlink_metadata(&path) {
            if !m.file_type().is_file() {
                return Err(PathError::SymlinkInDestination { index: 0 }.into());
            }
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(StoreError::io("opening the partial file"))?;
        Ok(Box::new(FsPartial { file }))
    }

    fn commit(
        &mut self,
        key: PartialKey,
        sink: Box<dyn PartialSink>,
        path: &SafePath,
        modified_ms: u64,
    ) -> Result<(), StoreError> {
        drop(sink);
        let partial = self.partial_path(key)?;
        let target = path.prepare_in(&self.root)?;
        if modified_ms > 0 {
            let when = std::time::UNIX_EPOCH + std::time::Duration::from_millis(modified_ms);
            // Best effort: a wrong timestamp is not worth failing a verified file.
            let _ = File::options()
                .write(true)
                .open(&partial)
                .and_then(|f| f.set_modified(when));
        }
        // Same filesystem (the partial folder is inside the destination), so
        // this is an atomic rename, not a copy.
        std::fs::rename(&partial, &target).map_err(StoreError::io("moving the file into place"))
    }

    fn discard(&mut self, key: PartialKey) {
        if let Ok(path) = self.partial_path(key) {
            let _ = std::fs::remove_file(path);
        }
    }
}

struct FsPartial {
    file: File,
}

impl PartialSink for FsPartial {
    fn len(&mut self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.write_all(data)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.read(buf)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// One file or folder to send: its name in the offer and, for files, its data.
pub struct OutgoingEntry {
    /// Relative path with `/` separators as shown to the receiver.
    pub path: String,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Modification time, ms since the Unix epoch (0 = unknown).
    pub modified_ms: u64,
    /// File data; `None` for a folder.
    pub source: Option<Box<dyn EntrySource>>,
}

impl std::fmt::Debug for OutgoingEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingEntry")
            .field("size", &self.size)
            .field("directory", &self.source.is_none())
            .finish_non_exhaustive()
    }
}

impl OutgoingEntry {
    /// A file entry with any source.
    pub fn file(path: impl Into<String>, size: u64, source: Box<dyn EntrySource>) -> Self {
        OutgoingEntry {
            path: path.into(),
            size,
            modified_ms: 0,
            source: Some(source),
        }
    }

    /// A folder entry.
    pub fn directory(path: impl Into<String>) -> Self {
        OutgoingEntry {
            path: path.into(),
            size: 0,
            modified_ms: 0,
            source: None,
        }
    }
}

/// Builds the entries for sending a local file or a whole folder tree,
/// named relative to the parent of `local` (so sending `/home/a/docs` offers
/// `docs`, `docs/x.txt`, …). Symlinks are skipped, not followed, so a tree
/// never leaks files from outside it. Folders come before their contents.
///
/// A name the receiver would refuse (see
/// [`validate_relative_path`](super::path::validate_relative_path), e.g. a
/// Linux file called `a:b` or `aux.c`) fails here with `InvalidInput`, so the
/// sender learns it before offering.
pub fn entries_from_path(local: &Path) -> io::Result<Vec<OutgoingEntry>> {
    let name = local
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no UTF-8 name"))?
        .to_owned();
    let mut out = Vec::new();
    walk(local, name, &mut out)?;
    Ok(out)
}

fn walk(local: &Path, rel: String, out: &mut Vec<OutgoingEntry>) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(local)?;
    if !meta.file_type().is_symlink() {
        super::path::validate_relative_path(&rel)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    }
    let modified_ms = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    if meta.is_dir() {
        out.push(OutgoingEntry {
            modified_ms,
            ..OutgoingEntry::directory(rel.clone())
        });
        let mut children: Vec<_> = std::fs::read_dir(local)?.collect::<Result<_, _>>()?;
        children.sort_by_key(|c| c.file_name());
        for child in children {
            let Some(name) = child.file_name().to_str().map(str::to_owned) else {
                continue; // not representable on the wire
            };
            walk(&child.path(), format!("{rel}/{name}"), out)?;
        }
    } else if meta.is_file() {
        out.push(OutgoingEntry {
            modified_ms,
            ..OutgoingEntry::file(rel, meta.len(), Box::new(FsSource::new(local)))
        });
    }
    Ok(())
}
