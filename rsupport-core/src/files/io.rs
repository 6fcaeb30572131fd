//! The IO the files state machine needs, as requests it emits and results
//! it is fed: [`FileChannel::poll_io`](super::FileChannel::poll_io) hands out
//! a [`FileIoRequest`], the driver performs it wherever it likes (a blocking
//! worker, a browser's file API, a test double) and passes the outcome back
//! with [`FileChannel::handle_io`](super::FileChannel::handle_io).
//!
//! Requests may be performed concurrently and complete in any order: the
//! state machine only issues requests that may overlap (reads of an
//! outgoing file; writes at distinct offsets and syncs of one partial
//! file), and holds back the ones that must not (open, truncate, read-back,
//! commit, discard of a partial file) until every earlier request on that
//! file has completed. Results of requests that no longer matter (a
//! cancelled transfer, data from before a reconnect) are ignored.
//!
//! `rsupport_client::storage::execute` performs them on the real
//! filesystem.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::path::{PathError, SafePath};

/// Identifies one [`FileIoRequest`] of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IoId(u64);

impl IoId {
    /// The raw number (unique per channel, increasing).
    pub fn get(self) -> u64 {
        self.0
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

/// One IO operation. Outgoing files are named by their local path;
/// incoming data goes to the partial file `key` under the destination
/// folder `root` (`<root>/.rsupport-partial/<transfer>-<entry>`), and only
/// [`FileIo::Commit`] moves it to its final, validated path.
#[derive(Clone)]
#[non_exhaustive]
pub enum FileIo {
    /// Read exactly `len` bytes at `offset` of an outgoing file; answer
    /// [`IoDone::Data`] (shorter only if the file ends first).
    Read {
        /// The local file.
        file: Arc<Path>,
        /// Where to read.
        offset: u64,
        /// How much.
        len: usize,
    },
    /// Create a folder entry (every component a real folder, no symlinks);
    /// answer [`IoDone::Done`].
    CreateDir {
        /// Destination folder.
        root: Arc<Path>,
        /// The folder to create under it.
        path: SafePath,
    },
    /// Create the partial file (refusing a symlink) and make it empty;
    /// answer [`IoDone::Done`].
    OpenPartial {
        /// Destination folder.
        root: Arc<Path>,
        /// Which partial file.
        key: PartialKey,
    },
    /// Write `data` at `offset` of an existing partial file; answer
    /// [`IoDone::Done`].
    Write {
        /// Destination folder.
        root: Arc<Path>,
        /// Which partial file.
        key: PartialKey,
        /// Where.
        offset: u64,
        /// What.
        data: Bytes,
    },
    /// Make every write that completed before this request durable
    /// (`fdatasync`); answer [`IoDone::Done`]. Only then is it acknowledged.
    Sync {
        /// Destination folder.
        root: Arc<Path>,
        /// Which partial file.
        key: PartialKey,
    },
    /// Cut the partial file to at most `len` bytes; answer
    /// [`IoDone::Len`] with its length afterwards (less than `len` if it
    /// was shorter).
    Truncate {
        /// Destination folder.
        root: Arc<Path>,
        /// Which partial file.
        key: PartialKey,
        /// The most to keep.
        len: u64,
    },
    /// Read back `len` bytes at `offset` of the partial file (re-hashing
    /// the kept prefix on resume); answer [`IoDone::Data`].
    ReadPartial {
        /// Destination folder.
        root: Arc<Path>,
        /// Which partial file.
        key: PartialKey,
        /// Where to read.
        offset: u64,
        /// How much.
        len: usize,
    },
    /// Move the verified partial file to `path` under `root`, never
    /// overwriting anything; answer [`IoDone::Done`].
    Commit {
        /// Destination folder.
        root: Arc<Path>,
        /// Which partial file.
        key: PartialKey,
        /// The final path.
        path: SafePath,
        /// Modification time to set, ms since the Unix epoch (0: leave it).
        modified_ms: u64,
    },
    /// Delete the partial file if it exists (checksum mismatch, cancel);
    /// answer [`IoDone::Done`]. Errors are ignored.
    Discard {
        /// Destination folder.
        root: Arc<Path>,
        /// Which partial file.
        key: PartialKey,
    },
    /// How many bytes this user may still write in `root`'s filesystem;
    /// answer [`IoDone::Len`]. Asked before an accepted offer's first byte,
    /// so an offer that cannot fit is refused with the reason. An executor
    /// that cannot tell answers `Unsupported` (the offer then goes ahead).
    FreeSpace {
        /// Destination folder.
        root: Arc<Path>,
    },
}

impl FileIo {
    /// A short name of the operation, for logs and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            FileIo::Read { .. } => "read",
            FileIo::CreateDir { .. } => "create folder",
            FileIo::OpenPartial { .. } => "open partial file",
            FileIo::Write { .. } => "write",
            FileIo::Sync { .. } => "sync",
            FileIo::Truncate { .. } => "truncate",
            FileIo::ReadPartial { .. } => "read back",
            FileIo::Commit { .. } => "commit",
            FileIo::Discard { .. } => "discard",
            FileIo::FreeSpace { .. } => "check free space",
        }
    }
}

// Paths and data are user content: Debug shows neither.
impl std::fmt::Debug for FileIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("FileIo");
        d.field("op", &self.name());
        match self {
            FileIo::Read { offset, len, .. } | FileIo::ReadPartial { offset, len, .. } => {
                d.field("offset", offset).field("len", len);
            }
            FileIo::Write { offset, data, .. } => {
                d.field("offset", offset).field("len", &data.len());
            }
            FileIo::Truncate { len, .. } => {
                d.field("len", len);
            }
            _ => {}
        }
        match self {
            FileIo::OpenPartial { key, .. }
            | FileIo::Write { key, .. }
            | FileIo::Sync { key, .. }
            | FileIo::Truncate { key, .. }
            | FileIo::ReadPartial { key, .. }
            | FileIo::Commit { key, .. }
            | FileIo::Discard { key, .. } => {
                d.field("key", key);
            }
            _ => {}
        }
        d.finish_non_exhaustive()
    }
}

/// One request: perform `io`, then call
/// [`FileChannel::handle_io`](super::FileChannel::handle_io) with `id`.
#[derive(Debug, Clone)]
pub struct FileIoRequest {
    /// Pass back with the result.
    pub id: IoId,
    /// What to do.
    pub io: FileIo,
}

/// What a successful [`FileIo`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoDone {
    /// Done, nothing to return.
    Done,
    /// Bytes read.
    Data(Bytes),
    /// A file length.
    Len(u64),
}

/// The outcome of one [`FileIo`].
pub type IoResult = Result<IoDone, StoreError>;

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
        kind: std::io::ErrorKind,
    },
}

impl StoreError {
    /// An OS failure while doing `op`.
    pub fn io(op: &'static str, kind: std::io::ErrorKind) -> Self {
        StoreError::Io { op, kind }
    }

    /// The OS error kind, if this is one.
    pub fn kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            StoreError::Io { kind, .. } => Some(*kind),
            StoreError::Path(PathError::Io(kind)) => Some(*kind),
            StoreError::Path(_) => None,
        }
    }
}

/// Requests not yet handed out, with their ids.
#[derive(Debug, Default)]
pub(crate) struct IoQueue {
    next: u64,
    queue: VecDeque<FileIoRequest>,
}

impl IoQueue {
    /// A fresh id for a request that is sent later (see [`Self::send`]).
    pub(crate) fn id(&mut self) -> IoId {
        self.next += 1;
        IoId(self.next)
    }

    /// Queues `io` under a fresh id.
    pub(crate) fn push(&mut self, io: FileIo) -> IoId {
        let id = self.id();
        self.send(FileIoRequest { id, io });
        id
    }

    /// Queues a request made earlier.
    pub(crate) fn send(&mut self, request: FileIoRequest) {
        self.queue.push_back(request);
    }

    pub(crate) fn pop(&mut self) -> Option<FileIoRequest> {
        self.queue.pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// One file or folder to send: its name in the offer and, for files, the
/// local file its data is read from.
#[derive(Clone)]
pub struct OutgoingEntry {
    /// Relative path with `/` separators as shown to the receiver.
    pub path: String,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Modification time, ms since the Unix epoch (0 = unknown).
    pub modified_ms: u64,
    /// The file [`FileIo::Read`] names; `None` for a folder. Any path the
    /// driver's executor understands.
    pub local: Option<Arc<Path>>,
}

impl std::fmt::Debug for OutgoingEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingEntry")
            .field("size", &self.size)
            .field("directory", &self.local.is_none())
            .finish_non_exhaustive()
    }
}

impl OutgoingEntry {
    /// A file entry read from `local`.
    pub fn file(path: impl Into<String>, size: u64, local: impl AsRef<Path>) -> Self {
        OutgoingEntry {
            path: path.into(),
            size,
            modified_ms: 0,
            local: Some(Arc::from(local.as_ref())),
        }
    }

    /// A folder entry.
    pub fn directory(path: impl Into<String>) -> Self {
        OutgoingEntry {
            path: path.into(),
            size: 0,
            modified_ms: 0,
            local: None,
        }
    }
}
