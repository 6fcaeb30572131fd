//! Secrets at rest (M11): the database files are owner-only, and a TOTP
//! secret is never in the database files in clear, so a copy of the
//! database without its key file reveals none.

#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_proto::relay::Secret;
use rsupport_proto::Role;
use rsupport_relay::auth::Argon2Params;
use rsupport_relay::store::{SqliteStore, Store, StoreError};
use rsupport_relay::{create_account, AccountSpec};

const TOTP: &[u8; 20] = b"TOTP-SECRET:a1b2c3d4";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn db_files(db: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", db.display())))
        .filter(|p| p.exists())
        .collect()
}

fn contains_secret(db: &Path) -> bool {
    db_files(db).iter().any(|f| {
        let bytes = std::fs::read(f).unwrap();
        bytes.windows(TOTP.len()).any(|w| w == TOTP)
    })
}

/// A store at `db` with operator `aiko` whose TOTP secret is [`TOTP`].
fn store_with_totp(db: &Path) -> SqliteStore {
    let mut store = SqliteStore::open(db).unwrap();
    let mut aiko = create_account(
        &mut store,
        AccountSpec {
            username: "aiko",
            display_name: "Aiko",
            password: "Operator1",
            role: Role::Operator,
        },
        Argon2Params::insecure_fast(),
        &mut StdRng::seed_from_u64(1),
        0,
    )
    .unwrap();
    aiko.totp_secret = Some(Secret::new(TOTP.to_vec()));
    store.update_account("aiko", &aiko).unwrap();
    store
}

fn totp_of(store: &SqliteStore) -> Vec<u8> {
    store
        .find_account("aiko")
        .unwrap()
        .unwrap()
        .totp_secret
        .unwrap()
        .expose()
        .clone()
}

#[test]
fn database_files_and_key_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let store = store_with_totp(&db);
    let files = db_files(&db);
    assert_eq!(files.len(), 3, "WAL mode: {files:?}");
    for f in files {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    assert_eq!(mode(&dir.path().join("totp.key")), 0o600);
    drop(store);
}

#[test]
fn an_existing_world_readable_database_is_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    drop(SqliteStore::open(&db).unwrap());
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _store = SqliteStore::open(&db).unwrap();
    assert_eq!(mode(&db), 0o600);
}

#[test]
fn the_totp_secret_is_not_in_the_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let store = store_with_totp(&db);
    assert_eq!(totp_of(&store), TOTP);
    assert!(!contains_secret(&db), "while open (WAL)");
    drop(store);
    assert!(!contains_secret(&db), "after closing");
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(totp_of(&store), TOTP, "read back with the key");
}

#[test]
fn clear_secrets_from_an_older_version_are_encrypted_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    drop(store_with_totp(&db));
    // What an older relay wrote: the secret as a plain blob.
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.execute(
        "UPDATE accounts SET totp_secret = ?1 WHERE username = 'aiko'",
        [TOTP.to_vec()],
    )
    .unwrap();
    drop(raw);
    assert!(contains_secret(&db));
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(totp_of(&store), TOTP);
    assert!(!contains_secret(&db), "migrated and no clear copy left");
    drop(store);
    assert!(!contains_secret(&db));
}

#[test]
fn a_copy_without_the_key_file_reveals_no_secret_and_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    drop(store_with_totp(&db));
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("relay.db");
    std::fs::copy(&db, &copy).unwrap();
    assert!(!contains_secret(&copy));
    let e = SqliteStore::open(&copy).unwrap_err();
    assert!(matches!(e, StoreError::SecretKey(_)), "{e}");
    assert!(e.to_string().contains("totp.key"), "{e}");
    // And no new key was made that would hide the problem next time.
    assert!(!elsewhere.path().join("totp.key").exists());
}
