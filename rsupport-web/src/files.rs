//! [`BrowserFiles`]: the session's file IO in a browser page, where there is
//! no filesystem to write to.
//!
//! - Files the operator sends are `File` objects in the page. Their reads
//!   ([`FileIo::Read`]) go to the page ([`BrowserFiles::poll_read`]), which
//!   reads the slice asynchronously and hands the bytes back.
//! - Files the customer sends are written to memory, checked by the session
//!   (SHA-256) as on disk, and become a [`Download`] the page saves with the
//!   browser's own download (a `Blob`). What the page holds is bounded by
//!   [`MAX_HELD_BYTES`], which is also the session's limit for received
//!   files, so an offer that would not fit is refused before its first byte.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::ErrorKind;
use std::path::Path;

use bytes::Bytes;
use rsupport_core::files::{FileIo, FileIoRequest, IoDone, IoId, IoResult, PartialKey, StoreError};

/// The most bytes of received files a page keeps before they are saved
/// (partial and finished together).
pub const MAX_HELD_BYTES: u64 = 1024 * 1024 * 1024;

/// The folder name incoming transfers are "accepted into": the page's memory.
pub const DOWNLOADS: &str = "browser-downloads";

/// A read the page must do: `len` bytes at `offset` of upload `upload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRead {
    /// Pass back with the bytes ([`LiveSession::read_done`](crate::LiveSession::read_done)).
    pub io: IoId,
    /// The page's name for the `File` (from [`BrowserFiles::upload_name`]).
    pub upload: String,
    /// Where to read.
    pub offset: u64,
    /// How much.
    pub len: usize,
}

/// A received file, verified, waiting for the page to save it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// The path the customer's side gave it, `/`-separated.
    pub name: String,
    /// Its bytes.
    pub bytes: Bytes,
}

/// What became of one [`FileIo`].
#[derive(Debug, PartialEq, Eq)]
enum Performed {
    /// Done in memory.
    Now(IoResult),
    /// A read of an upload, for the page.
    ByThePage {
        upload: String,
        offset: u64,
        len: usize,
    },
}

/// The in-memory store of one session (see the module docs).
#[derive(Debug, Default)]
pub struct BrowserFiles {
    partials: HashMap<PartialKey, Vec<u8>>,
    ready: BTreeMap<u64, Download>,
    next_download: u64,
    next_upload: u64,
    reads: VecDeque<PendingRead>,
    /// Downloads finished since the page last asked (their ids).
    finished: VecDeque<u64>,
}

impl BrowserFiles {
    /// A fresh local name for a `File` the page is about to offer.
    pub fn upload_name(&mut self) -> String {
        self.next_upload += 1;
        format!("upload-{}", self.next_upload)
    }

    /// Bytes held (partial and finished files).
    pub fn held_bytes(&self) -> u64 {
        let partial: usize = self.partials.values().map(Vec::len).sum();
        let ready: usize = self.ready.values().map(|d| d.bytes.len()).sum();
        (partial + ready) as u64
    }

    /// Performs `request` in memory, or queues it for the page (reads of
    /// uploads): `Some(result)` when done now.
    pub fn execute(&mut self, request: FileIoRequest) -> Option<IoResult> {
        let FileIoRequest { id, io } = request;
        match self.perform(io) {
            Performed::Now(result) => Some(result),
            Performed::ByThePage {
                upload,
                offset,
                len,
            } => {
                self.reads.push_back(PendingRead {
                    io: id,
                    upload,
                    offset,
                    len,
                });
                None
            }
        }
    }

    fn perform(&mut self, io: FileIo) -> Performed {
        Performed::Now(match io {
            FileIo::Read { file, offset, len } => {
                return Performed::ByThePage {
                    upload: file.to_string_lossy().into_owned(),
                    offset,
                    len,
                }
            }
            FileIo::CreateDir { .. } => Ok(IoDone::Done),
            FileIo::OpenPartial { key, .. } => {
                self.partials.insert(key, Vec::new());
                Ok(IoDone::Done)
            }
            FileIo::Write {
                key, offset, data, ..
            } => self.write(key, offset, &data),
            FileIo::Sync { key, .. } => self.partial(key, "sync").map(|_| IoDone::Done),
            FileIo::Truncate { key, len, .. } => self.partial(key, "truncate").map(|p| {
                p.truncate(usize::try_from(len).unwrap_or(usize::MAX));
                IoDone::Len(p.len() as u64)
            }),
            FileIo::ReadPartial {
                key, offset, len, ..
            } => self.partial(key, "read back").map(|p| {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(p.len());
                let end = start.saturating_add(len).min(p.len());
                IoDone::Data(Bytes::copy_from_slice(&p[start..end]))
            }),
            FileIo::Commit { key, path, .. } => match self.partials.remove(&key) {
                Some(data) => {
                    self.next_download += 1;
                    self.ready.insert(
                        self.next_download,
                        Download {
                            name: path.components().join("/"),
                            bytes: Bytes::from(data),
                        },
                    );
                    self.finished.push_back(self.next_download);
                    Ok(IoDone::Done)
                }
                None => Err(StoreError::io("commit", ErrorKind::NotFound)),
            },
            FileIo::Discard { key, .. } => {
                self.partials.remove(&key);
                Ok(IoDone::Done)
            }
            FileIo::FreeSpace { .. } => Ok(IoDone::Len(
                MAX_HELD_BYTES.saturating_sub(self.held_bytes()),
            )),
            _ => Err(StoreError::io("file operation", ErrorKind::Unsupported)),
        })
    }

    fn partial(&mut self, key: PartialKey, op: &'static str) -> Result<&mut Vec<u8>, StoreError> {
        self.partials
            .get_mut(&key)
            .ok_or(StoreError::io(op, ErrorKind::NotFound))
    }

    fn write(&mut self, key: PartialKey, offset: u64, data: &[u8]) -> IoResult {
        let end = offset.saturating_add(data.len() as u64);
        // The session checks sizes against the offer; this keeps the page's
        // memory bounded whatever it is asked to do.
        let current = self.partials.get(&key).map_or(0, |p| p.len() as u64);
        if self.held_bytes() - current + end > MAX_HELD_BYTES {
            return Err(StoreError::io("write", ErrorKind::StorageFull));
        }
        let partial = self.partial(key, "write")?;
        let (Ok(start), Ok(end)) = (usize::try_from(offset), usize::try_from(end)) else {
            return Err(StoreError::io("write", ErrorKind::InvalidInput));
        };
        if partial.len() < end {
            partial.resize(end, 0);
        }
        partial[start..end].copy_from_slice(data);
        Ok(IoDone::Done)
    }

    /// The next read the page must do.
    pub fn poll_read(&mut self) -> Option<PendingRead> {
        self.reads.pop_front()
    }

    /// The id of the next received file ready to save.
    pub fn poll_finished(&mut self) -> Option<u64> {
        self.finished.pop_front()
    }

    /// A finished download, still held.
    pub fn peek_download(&self, id: u64) -> Option<&Download> {
        self.ready.get(&id)
    }

    /// Hands a finished download to the page (and forgets it here).
    pub fn take_download(&mut self, id: u64) -> Option<Download> {
        self.ready.remove(&id)
    }

    /// The local folder incoming transfers are accepted into.
    pub fn downloads_folder() -> &'static Path {
        Path::new(DOWNLOADS)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
mod tests {
    use super::*;
    use rsupport_core::files::validate_relative_path;
    use std::sync::Arc;

    fn key() -> PartialKey {
        PartialKey {
            transfer_id: 1,
            entry: 0,
        }
    }

    fn root() -> Arc<Path> {
        Arc::from(BrowserFiles::downloads_folder())
    }

    fn write(offset: u64, data: &'static [u8]) -> FileIo {
        FileIo::Write {
            root: root(),
            key: key(),
            offset,
            data: Bytes::from_static(data),
        }
    }

    fn done(result: IoDone) -> Performed {
        Performed::Now(Ok(result))
    }

    #[test]
    fn a_received_file_is_written_read_back_and_committed_in_memory() {
        let mut store = BrowserFiles::default();
        let open = FileIo::OpenPartial {
            root: root(),
            key: key(),
        };
        assert_eq!(store.perform(open), done(IoDone::Done));
        assert_eq!(store.perform(write(0, b"hello ")), done(IoDone::Done));
        assert_eq!(store.perform(write(6, b"world")), done(IoDone::Done));
        let back = FileIo::ReadPartial {
            root: root(),
            key: key(),
            offset: 6,
            len: 100,
        };
        assert_eq!(
            store.perform(back),
            done(IoDone::Data(Bytes::from_static(b"world")))
        );
        let cut = FileIo::Truncate {
            root: root(),
            key: key(),
            len: 5,
        };
        assert_eq!(store.perform(cut), done(IoDone::Len(5)));
        assert_eq!(store.perform(write(5, b"!")), done(IoDone::Done));
        let commit = FileIo::Commit {
            root: root(),
            key: key(),
            path: validate_relative_path("docs/report.txt").unwrap(),
            modified_ms: 0,
        };
        assert_eq!(store.perform(commit), done(IoDone::Done));
        let ready = store.poll_finished().unwrap();
        let download = store.take_download(ready).unwrap();
        assert_eq!(download.name, "docs/report.txt");
        assert_eq!(&download.bytes[..], b"hello!");
        assert_eq!(store.held_bytes(), 0, "saved files are forgotten");
    }

    #[test]
    fn writes_past_the_page_budget_are_refused_without_allocating() {
        let mut store = BrowserFiles::default();
        store.perform(FileIo::OpenPartial {
            root: root(),
            key: key(),
        });
        let result = store.perform(write(MAX_HELD_BYTES, b"x"));
        assert!(
            matches!(
                result,
                Performed::Now(Err(StoreError::Io {
                    kind: ErrorKind::StorageFull,
                    ..
                }))
            ),
            "{result:?}"
        );
        assert_eq!(store.held_bytes(), 0);
    }

    #[test]
    fn writes_to_a_file_never_opened_fail() {
        let mut store = BrowserFiles::default();
        let result = store.perform(write(0, b"x"));
        assert!(matches!(result, Performed::Now(Err(_))), "{result:?}");
    }

    #[test]
    fn reads_of_uploads_go_to_the_page() {
        let mut store = BrowserFiles::default();
        let upload = store.upload_name();
        let read = FileIo::Read {
            file: Arc::from(Path::new(&upload)),
            offset: 4096,
            len: 1024,
        };
        assert_eq!(
            store.perform(read),
            Performed::ByThePage {
                upload,
                offset: 4096,
                len: 1024
            }
        );
    }
}
