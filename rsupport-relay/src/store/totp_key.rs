//! TOTP secrets encrypted at rest (M11).
//!
//! A TOTP secret is all an attacker needs to generate an operator's codes,
//! so a copy of the database alone (a backup, a readable file) must not
//! reveal it. Secrets are sealed with ChaCha20-Poly1305 under a 32-byte key
//! kept in `totp.key` next to the database, created 0600 on first start.
//! The account's user name is bound in as associated data, so a sealed
//! secret cannot be moved to another account.
//!
//! Sealed format: [`MAGIC`], a 12-byte random nonce, then ciphertext and
//! tag. Blobs without the magic are secrets written in clear by an older
//! version; they are sealed when the database is opened.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// Marks a sealed secret (format version 1).
pub(crate) const MAGIC: &[u8; 7] = b"RSTOTP\x01";
/// The key file's name, in the database's folder.
pub(crate) const KEY_FILE: &str = "totp.key";
const KEY_LEN: usize = 32;

/// The key that seals TOTP secrets.
pub(crate) struct TotpKey {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for TotpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpKey(<redacted>)")
    }
}

/// Where the key for the database at `db` lives.
pub(crate) fn key_path(db: &Path) -> PathBuf {
    db.parent().unwrap_or(Path::new("")).join(KEY_FILE)
}

/// Why the key file cannot be used; `Display` says what to do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("cannot use the TOTP key file {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "the TOTP key file {} is not a 32-byte key file: restore the right file, or delete it \
         only if no account uses two-step login",
        path.display()
    )]
    Damaged { path: PathBuf },
    #[error(
        "the TOTP key file {} can be read by other users: run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    TooOpen { path: PathBuf },
}

impl TotpKey {
    /// Reads the key at `path`; `Ok(None)` when there is no such file.
    pub(crate) fn load(path: &Path) -> Result<Option<Self>, KeyError> {
        let io_err = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(e)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
                return Err(KeyError::TooOpen {
                    path: path.to_owned(),
                });
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let mut bytes = Vec::with_capacity(KEY_LEN + 1);
        std::fs::File::open(path)
            .and_then(|f| f.take(KEY_LEN as u64 + 1).read_to_end(&mut bytes))
            .map_err(io_err)?;
        Self::from_bytes(&bytes)
            .map(Some)
            .ok_or_else(|| KeyError::Damaged {
                path: path.to_owned(),
            })
    }

    /// Generates a key and writes it to `path`, created 0600 (never over an
    /// existing file or symlink).
    pub(crate) fn create(path: &Path) -> Result<Self, KeyError> {
        let io_err = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let rng = SystemRandom::new();
        let mut bytes = [0u8; KEY_LEN];
        rng.fill(&mut bytes)
            .map_err(|_| io_err(io::Error::other("no system randomness")))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io_err)?;
        file.write_all(&bytes).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        Self::from_bytes(&bytes).ok_or_else(|| KeyError::Damaged {
            path: path.to_owned(),
        })
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).ok()?;
        Some(TotpKey {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }

    /// Seals `secret` for the account `username`.
    pub(crate) fn seal(&self, username: &str, secret: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut sealed = secret.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(username.as_bytes()),
                &mut sealed,
            )
            .ok()?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(out)
    }

    /// Opens a blob sealed for `username`; `None` when it was sealed under
    /// another key or for another account, or is damaged.
    pub(crate) fn open(&self, username: &str, blob: &[u8]) -> Option<Vec<u8>> {
        let rest = blob.strip_prefix(MAGIC.as_slice())?;
        let (nonce, sealed) = rest.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(username.as_bytes()), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// Whether `blob` is a sealed secret (rather than one left in clear).
pub(crate) fn is_sealed(blob: &[u8]) -> bool {
    blob.starts_with(MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_account_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let key = TotpKey::create(&path).unwrap();
        let sealed = key.seal("aiko", b"12345678901234567890").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(20).any(|w| w == b"12345678901234567890"));
        let again = TotpKey::load(&path).unwrap().unwrap();
        assert_eq!(
            again.open("aiko", &sealed).unwrap(),
            b"12345678901234567890"
        );
        assert!(again.open("mallory", &sealed).is_none());
        let other = TotpKey::create(&dir.path().join("other.key")).unwrap();
        assert!(other.open("aiko", &sealed).is_none());
        // Never written over an existing file.
        assert!(TotpKey::create(&path).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_owner_only_and_refused_otherwise() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        TotpKey::create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = TotpKey::load(&path).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }
}
