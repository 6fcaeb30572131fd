//! The relay's TLS identity: a self-signed certificate generated on first
//! start and kept next to the database, so operators can pin its
//! fingerprint once.

use std::io::Write;
use std::path::Path;

use rsupport_net::tls::{Identity, TlsError};

/// A fresh self-signed certificate for `names` (ECDSA P-256): the identity,
/// the certificate PEM and the private key PEM.
pub fn self_signed(names: &[String]) -> Result<(Identity, String, String), TlsError> {
    let generated = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    let cert_pem = generated.cert.pem();
    let key_pem = generated.signing_key.serialize_pem();
    let identity = Identity::from_pem(&cert_pem, &key_pem)?;
    Ok((identity, cert_pem, key_pem))
}

/// Loads `dir/relay-cert.pem` and `dir/relay-key.pem`, generating them on
/// first start. Returns the identity and whether it was just generated.
///
/// The key file is created readable by its owner only (0600 on Unix) in the
/// same call that creates it, never over an existing file or through a
/// symbolic link. An existing key file that is a symbolic link, or that
/// group or others may read, is refused with an error saying how to fix it.
pub fn load_or_generate(dir: &Path, names: &[String]) -> Result<(Identity, bool), TlsError> {
    let cert = dir.join("relay-cert.pem");
    let key = dir.join("relay-key.pem");
    let key_exists = check_existing_key(&key)?;
    if key_exists && exists(&cert)? {
        return Ok((Identity::from_pem_files(&cert, &key)?, false));
    }
    if key_exists {
        // A key without its certificate: do not guess; the operator decides.
        return Err(TlsError::File {
            path: cert,
            reason: format!(
                "missing while {} exists: restore the certificate, or delete the key to \
                 generate a new pair (clients that pinned the old fingerprint must pin again)",
                key.display()
            ),
        });
    }
    let (identity, cert_pem, key_pem) = self_signed(names)?;
    write_new(&key, &key_pem, 0o600)?;
    // The certificate is public; an old one without its key is replaced.
    match std::fs::remove_file(&cert) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(file_error(&cert, &e)),
    }
    write_new(&cert, &cert_pem, 0o644)?;
    Ok((identity, true))
}

fn file_error(path: &Path, e: &dyn std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// Whether `path` exists (a dangling symbolic link counts), without
/// following a final symbolic link; other errors (permissions) are errors.
fn exists(path: &Path) -> Result<bool, TlsError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(file_error(path, &e)),
    }
}

/// Refuses an existing key file that is a symbolic link or not private.
fn check_existing_key(key: &Path) -> Result<bool, TlsError> {
    let meta = match std::fs::symlink_metadata(key) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(file_error(key, &e)),
    };
    if meta.file_type().is_symlink() || !meta.is_file() {
        return Err(file_error(
            key,
            &"is a symbolic link or not a regular file; the relay keeps its generated key in a \
              plain file: replace it with the key file itself, or delete it to generate a new pair",
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(file_error(
                key,
                &format!(
                    "the private key can be read by other users (mode {mode:o}): run \
                     `chmod 600 {}`, or delete it (and relay-cert.pem) to generate a new pair",
                    key.display()
                ),
            ));
        }
    }
    Ok(true)
}

/// Creates `path` with `mode` and writes `text`; fails if anything (a file,
/// a symbolic link) is already there.
fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), TlsError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|e| file_error(path, &e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| file_error(path, &e))?;
    file.sync_all().map_err(|e| file_error(path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_is_kept_across_starts() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_string()];
        let (a, fresh) = load_or_generate(dir.path(), &names).unwrap();
        assert!(fresh);
        let (b, fresh) = load_or_generate(dir.path(), &names).unwrap();
        assert!(!fresh);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert!(rsupport_net::tls::server_config(b, None).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn private_key_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        load_or_generate(dir.path(), &["localhost".to_string()]).unwrap();
        let mode = std::fs::metadata(dir.path().join("relay-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn a_key_readable_by_others_is_refused_not_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let names = ["localhost".to_string()];
        load_or_generate(dir.path(), &names).unwrap();
        let key = dir.path().join("relay-key.pem");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_generate(dir.path(), &names)
            .unwrap_err()
            .to_string();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load_or_generate(dir.path(), &names).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_key_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["localhost".to_string()];
        // An attacker's link where the key will be written.
        let target = dir.path().join("elsewhere.pem");
        std::os::unix::fs::symlink(&target, dir.path().join("relay-key.pem")).unwrap();
        let e = load_or_generate(dir.path(), &names)
            .unwrap_err()
            .to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert!(!target.exists(), "nothing written through the link");
        // Also with a certificate present (the old code reused the pair).
        let other = tempfile::tempdir().unwrap();
        load_or_generate(other.path(), &names).unwrap();
        let real_key = other.path().join("real-key.pem");
        std::fs::rename(other.path().join("relay-key.pem"), &real_key).unwrap();
        std::os::unix::fs::symlink(&real_key, other.path().join("relay-key.pem")).unwrap();
        assert!(load_or_generate(other.path(), &names).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_stale_key_file_is_not_overwritten_in_place() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A key left world-readable by an older version, certificate gone.
        let key = dir.path().join("relay-key.pem");
        std::fs::write(&key, "old").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_generate(dir.path(), &["localhost".to_string()]).is_err());
        assert_eq!(std::fs::read_to_string(&key).unwrap(), "old");
    }
}
