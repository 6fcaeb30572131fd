//! Private spool folders and files for print documents (SECURITY M10).
//!
//! Documents wait on disk between the application that printed them and
//! the session (customer side), or between the session and the printer
//! (operator side). Other local users must neither read them nor make this
//! program write through a link of their choosing, so:
//!
//! - the folder is ours with mode 0700: created so when missing, refused
//!   (with a plain reason) when it exists owned by someone else, open to
//!   others, or is a symbolic link; nobody else can then add, swap or
//!   rename anything inside it;
//! - each file is created new (`O_CREAT|O_EXCL`, which never follows a
//!   link), with mode 0600 from the start and `O_NOFOLLOW`, under a name
//!   nobody can guess in advance.

use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::{Path, PathBuf};

/// The default spool folder for `purpose` (e.g. `"rsupport-print"`):
/// `$XDG_RUNTIME_DIR/<purpose>` when the session has a runtime folder
/// (private to the user by definition), otherwise
/// `<temp dir>/<purpose>-<uid>`. Either is made private with
/// [`ensure_private_dir`].
pub fn default_spool_dir(purpose: &str) -> io::Result<PathBuf> {
    let dir = default_spool_path(purpose);
    ensure_private_dir(&dir)?;
    Ok(dir)
}

/// Where [`default_spool_dir`] puts its folder, without creating it.
pub fn default_spool_path(purpose: &str) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(runtime) => PathBuf::from(runtime).join(purpose),
        None => std::env::temp_dir().join(format!("{purpose}-{}", own_uid())),
    }
}

/// Makes sure `dir` is a folder only this user can enter: creates it with
/// mode 0700 when missing (its parents as usual), and refuses one that is a
/// symbolic link, belongs to another user, or is open to others.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    match create_private_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    check_private_dir(dir)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().create(dir)
}

#[cfg(unix)]
fn check_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let refuse = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the print spool folder {} {why}; another user may have prepared it to read or \
                 redirect print documents. Remove it or choose another folder",
                dir.display()
            ),
        ))
    };
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return refuse("is a symbolic link");
    }
    if !meta.is_dir() {
        return refuse("is not a folder");
    }
    if meta.uid() != own_uid() {
        return refuse("belongs to another user");
    }
    if meta.mode() & 0o077 != 0 {
        return refuse("is open to other users (it must have mode 0700)");
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_dir(dir: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(dir)?.is_dir() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("the print spool folder {} is not a folder", dir.display()),
        ))
    }
}

/// Creates a new spool file in `dir` named `<prefix>-<random>.spool`, mode
/// 0600, never through a link and never over an existing file.
pub fn create_spool_file(dir: &Path, prefix: &str) -> io::Result<(File, PathBuf)> {
    let mut last = None;
    for _ in 0..8 {
        let path = dir.join(format!("{prefix}-{:016x}{:016x}.spool", random(), random()));
        match open_new(&path) {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free spool file name")))
}

/// `create_new`, mode 0600 at creation, `O_NOFOLLOW`.
pub fn open_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    options.open(path)
}

/// 64 bits nobody else can predict: std's hasher keys come from the
/// operating system's random source, and each `RandomState` differs.
fn random() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x7273_7570_706f_7274);
    h.finish()
}

#[cfg(unix)]
fn own_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

#[cfg(not(unix))]
fn own_uid() -> u32 {
    0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn new_spool_files_are_private_and_unpredictable() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("spool");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let (_f1, p1) = create_spool_file(&dir, "job").unwrap();
        let (_f2, p2) = create_spool_file(&dir, "job").unwrap();
        assert_ne!(p1, p2);
        assert_eq!(
            std::fs::metadata(&p1).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_open_or_linked_folder_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let open = root.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_private_dir(&open).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("open to other users"), "{e}");

        let target = root.path().join("target");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = ensure_private_dir(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_the_file_name_is_never_written_through() {
        let root = tempfile::tempdir().unwrap();
        let victim = root.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let link = root.path().join("name.spool");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(open_new(&link).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }
}
