//! The database file and its `-wal` and `-shm` companions are readable by
//! the relay's user only (M11): they hold password hashes, TOTP secrets
//! (encrypted, see [`super::totp_key`]) and the audit log with client
//! addresses.
//!
//! The database file is created 0600 before SQLite opens it; SQLite then
//! creates the `-wal` and `-shm` files with the database file's mode. Files
//! left readable by others by an older version are tightened, with a warning.

use std::io;
use std::path::{Path, PathBuf};

/// The database file and its WAL companions.
pub(crate) fn companions(db: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [db.to_owned(), with("-wal"), with("-shm")]
}

/// Makes sure the database files exist only as owner-only files: creates
/// the database file 0600 if it is missing, and tightens existing files
/// readable or writable by group or others.
#[cfg(unix)]
pub(crate) fn prepare(db: &Path) -> io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(db)
    {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for file in companions(db) {
        let meta = match std::fs::metadata(&file) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                file = %file.display(),
                mode = format!("{:o}", mode & 0o777),
                "database file was readable by other users; restricting it to the owner (0600)"
            );
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// Elsewhere the folder's access rules apply.
#[cfg(not(unix))]
pub(crate) fn prepare(_db: &Path) -> io::Result<()> {
    Ok(())
}
