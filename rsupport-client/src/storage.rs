//! The executor of the session's [`FileIo`] requests on the real
//! filesystem, and the sending side's walk of a local file or folder tree.
//! The files state machine in `rsupport-core` never touches the disk; this
//! module does, blocking, so the connection task runs it on a worker
//! thread, never on the task that moves input and frames. A program that
//! drives a `Session` itself calls [`execute`] for each request
//! `Session::poll_io` gives out:
//!
//! ```
//! use std::time::Instant;
//! use rsupport_client::storage;
//! use rsupport_core::files::{FileChannel, FileConfig, FileEvent, Party};
//!
//! let mut operator = FileChannel::new(Party::Operator, FileConfig::default());
//! let mut customer = FileChannel::new(Party::Customer, FileConfig::default());
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("notes.txt"), b"hello")?;
//! let dest = tempfile::tempdir()?;
//!
//! let now = Instant::now();
//! let entries = storage::entries_from_path(&dir.path().join("notes.txt"))?;
//! let id = operator.offer(entries, now);
//! // The driver moves messages both ways (here: directly) and performs the
//! // IO each side asks for (here: inline) until both are idle.
//! loop {
//!     let mut moved = false;
//!     for side in [&mut operator, &mut customer] {
//!         while let Some(req) = side.poll_io() {
//!             let result = storage::execute(&req.io); // blocking: a worker's job
//!             side.handle_io(req.id, result, now);
//!             moved = true;
//!         }
//!     }
//!     while let Some(m) = operator.poll_transmit() { customer.handle(m, now)?; moved = true; }
//!     while let Some(m) = customer.poll_transmit() { operator.handle(m, now)?; moved = true; }
//!     while let Some(ev) = customer.poll_event() {
//!         if let FileEvent::OfferReceived { transfer_id, .. } = ev {
//!             // The product asks the customer; here they say yes.
//!             customer.accept_into(transfer_id, dest.path(), now);
//!         }
//!     }
//!     if !moved { break; }
//! }
//! assert_eq!(std::fs::read(dest.path().join("notes.txt"))?, b"hello");
//! assert!(std::iter::from_fn(|| operator.poll_event())
//!     .any(|e| matches!(e, FileEvent::Finished { transfer_id, failed_entries: 0, .. } if transfer_id == id)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//!
//! Each request opens what it needs and closes it again, so requests may
//! run on several threads at once and nothing stays open between them.
//! The receiving side writes into `<destination>/.rsupport-partial/<transfer>-<entry>`
//! and renames into place only after the checksum matched.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use rsupport_core::files::io::{FileIo, IoDone, IoResult, OutgoingEntry, PartialKey, StoreError};
use rsupport_core::files::path::{PathError, SafePath, PARTIAL_DIR};

/// Performs one request (blocking).
pub fn execute(io: &FileIo) -> IoResult {
    match io {
        FileIo::Read { file, offset, len } => {
            let f = File::open(file).map_err(err("opening the file"))?;
            read_exactly(f, *offset, *len).map_err(err("reading the file"))
        }
        FileIo::CreateDir { root, path } => {
            path.create_dir_in(root)?;
            Ok(IoDone::Done)
        }
        FileIo::OpenPartial { root, key } => {
            let file = open_partial_file(root, *key, true, true)?;
            // A fresh entry starts empty whatever an earlier run left.
            file.set_len(0).map_err(err("emptying the partial file"))?;
            Ok(IoDone::Done)
        }
        FileIo::Write {
            root,
            key,
            offset,
            data,
        } => {
            let mut f = open_partial(root, *key, true)?;
            f.seek(SeekFrom::Start(*offset))
                .and_then(|_| f.write_all(data))
                .map_err(err("writing the file"))?;
            Ok(IoDone::Done)
        }
        FileIo::Sync { root, key } => {
            // Syncs the file, whichever descriptor wrote the data.
            let f = open_partial(root, *key, true)?;
            f.sync_data().map_err(err("syncing the file"))?;
            Ok(IoDone::Done)
        }
        FileIo::Truncate { root, key, len } => {
            let f = open_partial(root, *key, true)?;
            let now = f
                .metadata()
                .map_err(err("checking the partial file"))?
                .len();
            let keep = now.min(*len);
            f.set_len(keep).map_err(err("cutting the partial file"))?;
            Ok(IoDone::Len(keep))
        }
        FileIo::ReadPartial {
            root,
            key,
            offset,
            len,
        } => {
            let f = open_partial(root, *key, false)?;
            read_exactly(f, *offset, *len).map_err(err("re-reading the partial file"))
        }
        FileIo::Commit {
            root,
            key,
            path,
            modified_ms,
        } => commit(root, *key, path, *modified_ms, &mut || {}).map(|()| IoDone::Done),
        FileIo::Discard { root, key } => {
            if let Ok(path) = partial_path(root, *key, false) {
                let _ = std::fs::remove_file(path);
            }
            Ok(IoDone::Done)
        }
        #[cfg(unix)]
        FileIo::FreeSpace { root } => {
            // Space an unprivileged user may still use (f_bavail), not the
            // root-reserved blocks.
            let st = rustix::fs::statvfs(&**root)
                .map_err(|e| StoreError::io("checking free space", io::Error::from(e).kind()))?;
            Ok(IoDone::Len(st.f_bavail.saturating_mul(st.f_frsize)))
        }
        // A request a newer core asks for and this executor does not know:
        // that transfer fails with the reason, nothing else does.
        _ => Err(StoreError::io(
            "performing a file operation this program does not know",
            io::ErrorKind::Unsupported,
        )),
    }
}

fn err(op: &'static str) -> impl FnOnce(io::Error) -> StoreError {
    move |e| StoreError::io(op, e.kind())
}

/// Reads `len` bytes at `offset` (fewer only at the end of the file).
fn read_exactly(mut f: File, offset: u64, len: usize) -> io::Result<IoDone> {
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len);
    f.take(len as u64).read_to_end(&mut buf)?;
    Ok(IoDone::Data(Bytes::from(buf)))
}

/// The partial folder under `root`, a real folder (created if `create`).
fn partial_dir(root: &Path, create: bool) -> Result<PathBuf, StoreError> {
    let dir = root.join(PARTIAL_DIR);
    match std::fs::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() && !m.file_type().is_symlink() => return Ok(dir),
        Ok(_) => return Err(PathError::SymlinkInDestination { index: 0 }.into()),
        Err(e) if e.kind() == io::ErrorKind::NotFound && create => {}
        Err(e) => return Err(err("checking the partial folder")(e)),
    }
    match std::fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(dir),
        Err(e) => Err(err("creating the partial folder")(e)),
    }
}

/// The partial file's path; refuses anything there that is not a regular
/// file (a planted symlink).
fn partial_path(root: &Path, key: PartialKey, create: bool) -> Result<PathBuf, StoreError> {
    let path = partial_dir(root, create)?.join(format!("{}-{}", key.transfer_id, key.entry));
    if let Ok(m) = std::fs::symlink_metadata(&path) {
        if !m.file_type().is_file() {
            return Err(PathError::SymlinkInDestination { index: 0 }.into());
        }
    }
    Ok(path)
}

/// Opens an existing partial file (never creates one: a write that comes
/// after a discard must not bring it back).
fn open_partial(root: &Path, key: PartialKey, write: bool) -> Result<File, StoreError> {
    open_partial_file(root, key, false, write)
}

/// Opens (or with `create`, creates) a partial file after the checks of
/// [`partial_path`]. On Unix the partial folder is opened by handle without
/// following links and the file with `O_NOFOLLOW` relative to it, so
/// swapping either for a link after the checks sends no data elsewhere.
fn open_partial_file(
    root: &Path,
    key: PartialKey,
    create: bool,
    write: bool,
) -> Result<File, StoreError> {
    let path = partial_path(root, key, create)?;
    #[cfg(unix)]
    {
        let _ = path; // checked above; opened by handle below
        use rustix::fs::{openat, Mode, OFlags, CWD};
        let opening = |e: rustix::io::Errno| match e {
            rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => {
                StoreError::from(PathError::SymlinkInDestination { index: 0 })
            }
            e => err("opening the partial file")(e.into()),
        };
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let root_fd = openat(CWD, root, dir_flags, Mode::empty()).map_err(opening)?;
        let dir = openat(
            &root_fd,
            PARTIAL_DIR,
            dir_flags | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(opening)?;
        let mut flags = OFlags::NOFOLLOW | OFlags::CLOEXEC;
        flags |= if write { OFlags::RDWR } else { OFlags::RDONLY };
        if create {
            flags |= OFlags::CREATE;
        }
        let name = format!("{}-{}", key.transfer_id, key.entry);
        let fd = openat(&dir, name.as_str(), flags, Mode::from_raw_mode(0o644)).map_err(opening)?;
        Ok(File::from(fd))
    }
    #[cfg(not(unix))]
    {
        let mut options = OpenOptions::new();
        options.read(true).write(write || create).create(create);
        options.open(path).map_err(err("opening the partial file"))
    }
}

/// Adds `O_NOFOLLOW`: a link planted at the partial file's name after the
/// check is refused by the kernel, not followed (SECURITY L7).
fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    options
}

/// [`FileIo::Commit`] with `between` run after the checks and before the
/// file is moved into place: what a local attacker racing the commit could
/// do there. For tests; the executor passes nothing.
#[doc(hidden)]
pub fn commit_racing(
    root: &Path,
    key: PartialKey,
    path: &SafePath,
    between: &mut dyn FnMut(),
) -> Result<(), StoreError> {
    commit(root, key, path, 0, between)
}

fn commit(
    root: &Path,
    key: PartialKey,
    path: &SafePath,
    modified_ms: u64,
    between: &mut dyn FnMut(),
) -> Result<(), StoreError> {
    let partial = partial_path(root, key, false)?;
    let target = path.prepare_in(root)?;
    if modified_ms > 0 {
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_millis(modified_ms);
        // Best effort: a wrong timestamp is not worth failing a verified file.
        let _ = no_follow(File::options().write(true))
            .open(&partial)
            .and_then(|f| f.set_modified(when));
    }
    between();
    place(root, key, path, &partial, &target)
}

/// Moves the verified partial file to its name. Same filesystem (the
/// partial folder is inside the destination), so an atomic rename, not a
/// copy. The checks above only tell what *was* there; this re-walks the
/// folders by handle without following links and never replaces a name
/// that appeared meanwhile (SECURITY L7).
#[cfg(unix)]
fn place(
    root: &Path,
    key: PartialKey,
    path: &SafePath,
    _partial: &Path,
    _target: &Path,
) -> Result<(), StoreError> {
    use rustix::fs::{openat, Mode, OFlags, CWD};
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let moving = |e: io::Error| StoreError::io("moving the file into place", e.kind());
    // The destination itself is the user's choice and may be a link.
    let root_fd = openat(CWD, root, dir_flags, Mode::empty()).map_err(|e| moving(e.into()))?;
    let open_below = |dir: &rustix::fd::OwnedFd, name: &str, index: usize| {
        openat(dir, name, dir_flags | OFlags::NOFOLLOW, Mode::empty()).map_err(|e| match e {
            rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => {
                StoreError::from(PathError::SymlinkInDestination { index })
            }
            e => err("opening the destination folder")(e.into()),
        })
    };
    let partial_dir = open_below(&root_fd, PARTIAL_DIR, 0)?;
    let (last, parents) = path.components().split_last().ok_or(PathError::Empty)?;
    let mut dir = root_fd;
    for (index, name) in parents.iter().enumerate() {
        dir = open_below(&dir, name, index)?;
    }
    let name = format!("{}-{}", key.transfer_id, key.entry);
    rename_no_replace(&partial_dir, &name, &dir, last).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            StoreError::from(PathError::AlreadyExists)
        } else {
            moving(e)
        }
    })
}

/// `renameat2(RENAME_NOREPLACE)` where the kernel and filesystem have it;
/// otherwise a hard link (which fails on an existing name) and an unlink.
#[cfg(unix)]
fn rename_no_replace(
    from_dir: &rustix::fd::OwnedFd,
    from: &str,
    to_dir: &rustix::fd::OwnedFd,
    to: &str,
) -> io::Result<()> {
    use rustix::fs::AtFlags;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    match rustix::fs::renameat_with(
        from_dir,
        from,
        to_dir,
        to,
        rustix::fs::RenameFlags::NOREPLACE,
    ) {
        Ok(()) => return Ok(()),
        // Not supported here: fall back below.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {}
        Err(e) => return Err(e.into()),
    }
    rustix::fs::linkat(from_dir, from, to_dir, to, AtFlags::empty())?;
    rustix::fs::unlinkat(from_dir, from, AtFlags::empty())?;
    Ok(())
}

/// Elsewhere: the checks of `prepare_in`, then a rename by path.
#[cfg(not(unix))]
fn place(
    _root: &Path,
    _key: PartialKey,
    _path: &SafePath,
    partial: &Path,
    target: &Path,
) -> Result<(), StoreError> {
    std::fs::rename(partial, target).map_err(err("moving the file into place"))
}

/// The destination-side checks of a [`SafePath`], on the real filesystem.
pub trait SafePathFs {
    /// Makes sure every folder above this path exists under `root` as a real
    /// folder — creating missing ones one level at a time, refusing symlinks
    /// and non-folders — and that the final name does not exist yet.
    /// Returns the full path to write.
    ///
    /// `root` itself is the user's choice and may be a symlink.
    fn prepare_in(&self, root: &Path) -> Result<PathBuf, PathError>;

    /// Like [`Self::prepare_in`] for a folder entry: creates every component
    /// (the last one too) as a real folder. An existing real folder is fine.
    fn create_dir_in(&self, root: &Path) -> Result<PathBuf, PathError>;
}

impl SafePathFs for SafePath {
    fn prepare_in(&self, root: &Path) -> Result<PathBuf, PathError> {
        let (last, parents) = self.components().split_last().ok_or(PathError::Empty)?;
        let mut dir = root.to_path_buf();
        for (index, name) in parents.iter().enumerate() {
            dir.push(name);
            ensure_real_dir(&dir, index)?;
        }
        let target = dir.join(last);
        match std::fs::symlink_metadata(&target) {
            Ok(_) => Err(PathError::AlreadyExists),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(target),
            Err(e) => Err(PathError::Io(e.kind())),
        }
    }

    fn create_dir_in(&self, root: &Path) -> Result<PathBuf, PathError> {
        let mut dir = root.to_path_buf();
        for (index, name) in self.components().iter().enumerate() {
            dir.push(name);
            ensure_real_dir(&dir, index)?;
        }
        Ok(dir)
    }
}

/// `dir` is a real folder afterwards (created if missing), or an error.
fn ensure_real_dir(dir: &Path, index: usize) -> Result<(), PathError> {
    let check = |meta: std::fs::Metadata| {
        if meta.file_type().is_symlink() {
            Err(PathError::SymlinkInDestination { index })
        } else if !meta.is_dir() {
            Err(PathError::NotADirectory { index })
        } else {
            Ok(())
        }
    };
    match std::fs::symlink_metadata(dir) {
        Ok(meta) => check(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match std::fs::create_dir(dir) {
                Ok(()) => {}
                // Someone made it in between; re-checked below.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(PathError::Io(e.kind())),
            }
            // Re-check what is there now rather than trusting create_dir.
            check(std::fs::symlink_metadata(dir).map_err(|e| PathError::Io(e.kind()))?)
        }
        Err(e) => Err(PathError::Io(e.kind())),
    }
}

/// Builds the entries for sending a local file or a whole folder tree,
/// named relative to the parent of `local` (so sending `/home/a/docs` offers
/// `docs`, `docs/x.txt`, …). Symlinks are skipped, not followed, so a tree
/// never leaks files from outside it. Folders come before their contents.
///
/// A name the receiver would refuse (see
/// [`validate_relative_path`](rsupport_core::files::validate_relative_path), e.g. a
/// Linux file called `a:b` or `aux.c`) fails here with `InvalidInput`, so the
/// sender learns it before offering. Blocking: walks the tree.
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
        rsupport_core::files::validate_relative_path(&rel)
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
            ..OutgoingEntry::file(rel, meta.len(), local)
        });
    }
    Ok(())
}
