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
/// first start. Returns the identity and whether it was just generated. The
/// key file is created readable by its owner only (0600 on Unix) before any
/// byte of the key is written.
pub fn load_or_generate(dir: &Path, names: &[String]) -> Result<(Identity, bool), TlsError> {
    let cert = dir.join("relay-cert.pem");
    let key = dir.join("relay-key.pem");
    if cert.exists() && key.exists() {
        return Ok((Identity::from_pem_files(&cert, &key)?, false));
    }
    let (identity, cert_pem, key_pem) = self_signed(names)?;
    write_new(&key, &key_pem, 0o600)?;
    write_new(&cert, &cert_pem, 0o644)?;
    Ok((identity, true))
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), TlsError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let file_error = |e: std::io::Error| TlsError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let mut file = options.open(path).map_err(file_error)?;
    file.write_all(text.as_bytes()).map_err(file_error)?;
    file.sync_all().map_err(file_error)
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
}
