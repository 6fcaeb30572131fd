//! The embedded SQLite store with versioned migrations (`PRAGMA user_version`).

use std::path::Path;

use rsupport_proto::relay::admin::{AuditQuery, AuditRecord, RelaySettings};
use rsupport_proto::relay::Secret;
use rsupport_proto::EndReason;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::totp_key::{self, TotpKey};
use super::{db_files, SessionRecord, Store, StoreError};
use crate::auth::{mode_from_name, mode_name, role_from_name, role_name, Account};

/// Migrations in order; `user_version` counts how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, settings, audit.
    "CREATE TABLE accounts (
        username TEXT PRIMARY KEY NOT NULL,
        display_name TEXT NOT NULL,
        role TEXT NOT NULL,
        operator_id TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        failed_logins INTEGER NOT NULL,
        blocked_until_ms INTEGER NOT NULL,
        allowed_modes TEXT NOT NULL,
        full_file_control INTEGER NOT NULL,
        totp_secret BLOB,
        totp_last_step INTEGER NOT NULL,
        must_change_password INTEGER NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        operator_username TEXT NOT NULL,
        source TEXT NOT NULL,
        session_id INTEGER NOT NULL,
        customer TEXT NOT NULL,
        modes TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        ended_ms INTEGER NOT NULL,
        bytes_to_operator INTEGER NOT NULL,
        bytes_to_customer INTEGER NOT NULL,
        end_reason TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX audit_at ON audit (at_ms);
    CREATE INDEX audit_operator ON audit (operator_username, at_ms);",
    // 2: running sessions, so they can be resumed after a relay restart.
    "CREATE TABLE sessions (
        session_id INTEGER PRIMARY KEY NOT NULL,
        operator_username TEXT NOT NULL,
        customer_name TEXT NOT NULL,
        customer_description TEXT NOT NULL,
        customer_os TEXT NOT NULL,
        customer_hostname TEXT NOT NULL,
        modes TEXT NOT NULL,
        full_file_control INTEGER NOT NULL,
        started_ms INTEGER NOT NULL,
        deadline_ms INTEGER,
        operator_token_hash BLOB NOT NULL,
        customer_token_hash BLOB NOT NULL
    );",
    // 3: per-source lockouts (failed_logins and blocked_until_ms are no
    // longer used), credential versions that sessions are tied to, and the
    // sources each account logged in from.
    "ALTER TABLE accounts ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN lockout_epoch INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN operator_credential_version INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE known_sources (
        username TEXT NOT NULL,
        source TEXT NOT NULL,
        last_ok_ms INTEGER NOT NULL,
        PRIMARY KEY (username, source)
    );",
    // 4: plaintext sessions (protocol 2 encrypts sessions end to end).
    // Sessions kept by an older relay were paired without encryption.
    "ALTER TABLE sessions ADD COLUMN plaintext INTEGER NOT NULL DEFAULT 1;",
];

/// Accounts, settings and audit history in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    db: Connection,
    /// Seals TOTP secrets on disk; `None` for an in-memory database.
    totp_key: Option<TotpKey>,
}

fn backend(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.code == rusqlite::ErrorCode::ConstraintViolation {
            return StoreError::AlreadyExists;
        }
    }
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    ///
    /// The database and its `-wal`/`-shm` files are kept readable by the
    /// owner only (existing ones are tightened, with a warning). TOTP secrets
    /// are encrypted with the key in `totp.key` beside the database, created
    /// on first use; secrets an older version stored in clear are encrypted
    /// now. A database whose secrets the key cannot open is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        db_files::prepare(path).map_err(|e| {
            StoreError::Backend(format!(
                "cannot restrict {} to its owner: {e}",
                path.display()
            ))
        })?;
        let mut store = Self::migrate(Connection::open(path).map_err(backend)?)?;
        // Deleted and rewritten rows leave no old bytes (clear secrets) behind.
        store
            .db
            .pragma_update(None, "secure_delete", "ON")
            .map_err(backend)?;
        store.totp_key = Some(store.totp_key_for(path)?);
        store.seal_clear_secrets()?;
        Ok(store)
    }

    /// A private in-memory database (tests, throw-away relays). Nothing is at
    /// rest, so TOTP secrets are not encrypted.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::migrate(Connection::open_in_memory().map_err(backend)?)
    }

    /// The key for this database: loaded from `totp.key`, or created when
    /// there is none and no secret was sealed yet.
    fn totp_key_for(&self, db: &Path) -> Result<TotpKey, StoreError> {
        let path = totp_key::key_path(db);
        let key_error = |e: totp_key::KeyError| StoreError::SecretKey(e.to_string());
        if let Some(key) = TotpKey::load(&path).map_err(key_error)? {
            return Ok(key);
        }
        if self
            .totp_blobs()?
            .iter()
            .any(|(_, b)| totp_key::is_sealed(b))
        {
            return Err(StoreError::SecretKey(format!(
                "{} is missing, and this database has two-step login secrets encrypted with it: \
                 restore the key file that belongs to this database",
                path.display()
            )));
        }
        TotpKey::create(&path).map_err(key_error)
    }

    /// Every account's stored TOTP blob.
    fn totp_blobs(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut stmt = self
            .db
            .prepare("SELECT username, totp_secret FROM accounts WHERE totp_secret IS NOT NULL")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    /// Encrypts secrets left in clear by an older version, checks that the
    /// key opens the others, then empties the WAL so no clear copy stays.
    fn seal_clear_secrets(&mut self) -> Result<(), StoreError> {
        let Some(key) = &self.totp_key else {
            return Ok(());
        };
        let mut sealed_any = false;
        for (username, blob) in self.totp_blobs()? {
            if totp_key::is_sealed(&blob) {
                if key.open(&username, &blob).is_none() {
                    return Err(StoreError::SecretKey(format!(
                        "the TOTP key file does not open the two-step login secret of `{username}`: \
                         restore the key file that belongs to this database"
                    )));
                }
                continue;
            }
            let sealed = key
                .seal(&username, &blob)
                .ok_or_else(|| StoreError::SecretKey("cannot encrypt a TOTP secret".into()))?;
            self.db
                .execute(
                    "UPDATE accounts SET totp_secret = ?1 WHERE username = ?2",
                    params![sealed, username],
                )
                .map_err(backend)?;
            sealed_any = true;
        }
        if sealed_any {
            tracing::info!("encrypted the TOTP secrets stored in clear by an older version");
            self.db
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(backend)?;
        }
        Ok(())
    }

    /// `a` as stored: its TOTP secret sealed.
    fn sealed(&self, a: &Account) -> Result<[Value; 16], StoreError> {
        let mut values = account_values(a);
        if let (Some(key), Some(secret)) = (&self.totp_key, &a.totp_secret) {
            let sealed = key
                .seal(&a.username, secret.expose())
                .ok_or_else(|| StoreError::SecretKey("cannot encrypt a TOTP secret".into()))?;
            if let Some(v) = values.get_mut(TOTP_COLUMN) {
                *v = Value::Blob(sealed);
            }
        }
        Ok(values)
    }

    /// `a` as read: its TOTP secret opened. A secret the key cannot open
    /// (damaged row) reads as none: two-step login then fails closed.
    fn opened(&self, mut a: Account) -> Account {
        if let (Some(key), Some(blob)) = (&self.totp_key, &a.totp_secret) {
            let plain = key.open(&a.username, blob.expose());
            if plain.is_none() {
                tracing::error!(user = %a.username, "cannot decrypt a TOTP secret");
            }
            a.totp_secret = plain.map(Secret::new);
        }
        a
    }

    fn migrate(db: Connection) -> Result<Self, StoreError> {
        db.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        db.pragma_update(None, "foreign_keys", "ON")
            .map_err(backend)?;
        let version: u32 = db
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(backend)?;
        let supported = MIGRATIONS.len() as u32;
        if version > supported {
            return Err(StoreError::SchemaTooNew {
                found: version,
                supported,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            // Each migration and its version bump commit together.
            let tx = db.unchecked_transaction().map_err(backend)?;
            tx.execute_batch(sql).map_err(backend)?;
            tx.pragma_update(None, "user_version", i as u32 + 1)
                .map_err(backend)?;
            tx.commit().map_err(backend)?;
        }
        Ok(SqliteStore { db, totp_key: None })
    }

    /// The schema version after migration.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.db
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(backend)
    }
}

const ACCOUNT_COLUMNS: &str = "username, display_name, role, operator_id, password_hash, enabled, \
    failed_logins, blocked_until_ms, allowed_modes, full_file_control, totp_secret, totp_last_step, \
    must_change_password, created_ms, credential_version, lockout_epoch";

fn modes_to_text(modes: &[rsupport_proto::ConnectionMode]) -> String {
    modes
        .iter()
        .map(|m| mode_name(*m))
        .collect::<Vec<_>>()
        .join(",")
}

fn modes_from_text(s: &str) -> Vec<rsupport_proto::ConnectionMode> {
    s.split(',').filter_map(mode_from_name).collect()
}

fn account_from_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    let role: String = r.get(2)?;
    let modes: String = r.get(8)?;
    let totp: Option<Vec<u8>> = r.get(10)?;
    Ok(Account {
        username: r.get(0)?,
        display_name: r.get(1)?,
        role: role_from_name(&role).unwrap_or(rsupport_proto::Role::Operator),
        operator_id: r.get(3)?,
        password_hash: Secret::new(r.get(4)?),
        enabled: r.get(5)?,
        allowed_modes: modes_from_text(&modes),
        full_file_control: r.get(9)?,
        totp_secret: totp.map(Secret::new),
        totp_last_step: r.get::<_, i64>(11)? as u64,
        must_change_password: r.get(12)?,
        created_ms: r.get::<_, i64>(13)? as u64,
        credential_version: r.get::<_, i64>(14)? as u64,
        lockout_epoch: r.get::<_, i64>(15)? as u64,
    })
}

fn end_reason_name(r: Option<EndReason>) -> String {
    r.map(|r| format!("{r:?}")).unwrap_or_default()
}

fn end_reason_from_name(s: &str) -> Option<EndReason> {
    EndReason::ALL
        .iter()
        .copied()
        .find(|r| format!("{r:?}") == s)
}

fn audit_from_row(r: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    let modes: String = r.get(7)?;
    let end: String = r.get(12)?;
    Ok(AuditRecord {
        id: r.get::<_, i64>(0)? as u64,
        at_ms: r.get::<_, i64>(1)? as u64,
        kind: r.get(2)?,
        operator_username: r.get(3)?,
        source: r.get(4)?,
        session_id: r.get::<_, i64>(5)? as u64,
        customer: r.get(6)?,
        modes: modes_from_text(&modes),
        started_ms: r.get::<_, i64>(8)? as u64,
        ended_ms: r.get::<_, i64>(9)? as u64,
        bytes_to_operator: r.get::<_, i64>(10)? as u64,
        bytes_to_customer: r.get::<_, i64>(11)? as u64,
        end_reason: end_reason_from_name(&end),
        detail: r.get(13)?,
    })
}

/// Index of `totp_secret` in `ACCOUNT_COLUMNS`.
const TOTP_COLUMN: usize = 10;

/// An account's columns in `ACCOUNT_COLUMNS` order: the one list INSERT and
/// UPDATE both bind, so the two cannot drift apart.
fn account_values(a: &Account) -> [Value; 16] {
    let flag = |b: bool| Value::Integer(i64::from(b));
    [
        Value::Text(a.username.clone()),
        Value::Text(a.display_name.clone()),
        Value::Text(role_name(a.role).to_owned()),
        Value::Text(a.operator_id.clone()),
        Value::Text(a.password_hash.expose().clone()),
        flag(a.enabled),
        // failed_logins and blocked_until_ms: unused since schema 3.
        Value::Integer(0),
        Value::Integer(0),
        Value::Text(modes_to_text(&a.allowed_modes)),
        flag(a.full_file_control),
        a.totp_secret
            .as_ref()
            .map_or(Value::Null, |s| Value::Blob(s.expose().clone())),
        Value::Integer(i(a.totp_last_step)),
        flag(a.must_change_password),
        Value::Integer(i(a.created_ms)),
        Value::Integer(i(a.credential_version)),
        Value::Integer(i(a.lockout_epoch)),
    ]
}

fn session_from_row(r: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    let modes: String = r.get(6)?;
    let hash = |i: usize| -> rusqlite::Result<[u8; 32]> {
        let v: Vec<u8> = r.get(i)?;
        // A damaged row gets an all-zero hash, which no token hashes to.
        Ok(<[u8; 32]>::try_from(v.as_slice()).unwrap_or([0; 32]))
    };
    Ok(SessionRecord {
        session_id: r.get::<_, i64>(0)? as u64,
        operator_username: r.get(1)?,
        customer: rsupport_proto::relay::CustomerInfo {
            name: r.get(2)?,
            description: r.get(3)?,
            os: r.get(4)?,
            hostname: r.get(5)?,
        },
        modes: modes_from_text(&modes),
        full_file_control: r.get(7)?,
        started_ms: r.get::<_, i64>(8)? as u64,
        deadline_ms: r.get::<_, Option<i64>>(9)?.map(|v| v as u64),
        operator_token_hash: hash(10)?,
        customer_token_hash: hash(11)?,
        operator_credential_version: r.get::<_, i64>(12)? as u64,
        plaintext: r.get(13)?,
    })
}

/// Ids use all 64 bits (random high bits): stored bit for bit as SQLite's
/// signed integer and cast back on reading, never clamped.
fn id(v: u64) -> i64 {
    v as i64
}

/// SQLite integers are signed; times and counters stay far below `i64::MAX`.
fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store for SqliteStore {
    fn find_account(&self, username: &str) -> Result<Option<Account>, StoreError> {
        self.db
            .query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = ?1"),
                [username],
                account_from_row,
            )
            .optional()
            .map(|a| a.map(|a| self.opened(a)))
            .map_err(backend)
    }

    fn find_account_by_operator_id(
        &self,
        operator_id: &str,
    ) -> Result<Option<Account>, StoreError> {
        self.db
            .query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE operator_id = ?1"),
                [operator_id],
                account_from_row,
            )
            .optional()
            .map(|a| a.map(|a| self.opened(a)))
            .map_err(backend)
    }

    fn insert_account(&mut self, a: &Account) -> Result<(), StoreError> {
        self.db
            .execute(
                &format!("INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)"),
                params_from_iter(self.sealed(a)?),
            )
            .map_err(backend)?;
        Ok(())
    }

    fn update_account(&mut self, username: &str, a: &Account) -> Result<(), StoreError> {
        // lockout_epoch (?16) is left alone: only bump_lockout_epoch raises
        // it, so an unblock by another process is never written over.
        let tx = self.db.unchecked_transaction().map_err(backend)?;
        let n = tx
            .execute(
                "UPDATE accounts SET username=?1, display_name=?2, role=?3, operator_id=?4, password_hash=?5,
                 enabled=?6, failed_logins=?7, blocked_until_ms=?8, allowed_modes=?9, full_file_control=?10,
                 totp_secret=?11, totp_last_step=?12, must_change_password=?13, created_ms=?14,
                 credential_version=?15
                 WHERE username=?17",
                params_from_iter(
                    self.sealed(a)?
                        .into_iter()
                        .chain([Value::Text(username.to_owned())]),
                ),
            )
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        if a.username != username {
            tx.execute(
                "UPDATE known_sources SET username = ?1 WHERE username = ?2",
                params![a.username, username],
            )
            .map_err(backend)?;
        }
        tx.commit().map_err(backend)
    }

    fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        let mut stmt = self
            .db
            .prepare(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY username"
            ))
            .map_err(backend)?;
        let rows = stmt.query_map([], account_from_row).map_err(backend)?;
        let accounts: Vec<Account> = rows.collect::<Result<_, _>>().map_err(backend)?;
        Ok(accounts.into_iter().map(|a| self.opened(a)).collect())
    }

    fn load_settings(&self) -> Result<RelaySettings, StoreError> {
        let mut stmt = self
            .db
            .prepare("SELECT key, value FROM settings")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(backend)?;
        let mut s = RelaySettings::default();
        for row in rows {
            let (k, v) = row.map_err(backend)?;
            match k.as_str() {
                "max_failed_logins" => s.max_failed_logins = v.parse().ok(),
                "lockout_ms" => s.lockout_ms = v.parse().ok(),
                "code_length" => s.code_length = v.parse().ok(),
                "code_ttl_ms" => s.code_ttl_ms = v.parse().ok(),
                "max_concurrent_sessions" => s.max_concurrent_sessions = v.parse().ok(),
                "max_session_ms" => s.max_session_ms = v.parse().ok(),
                "time_warning_ms" => s.time_warning_ms = v.parse().ok(),
                "join_url_template" => s.join_url_template = Some(v),
                "remote_printing" => s.remote_printing = v.parse().ok(),
                "resume_grace_ms" => s.resume_grace_ms = v.parse().ok(),
                "allow_plaintext_sessions" => s.allow_plaintext_sessions = v.parse().ok(),
                _ => {} // Written by a newer build; ignored.
            }
        }
        Ok(s)
    }

    fn save_settings(&mut self, c: &RelaySettings) -> Result<(), StoreError> {
        let pairs: [(&str, Option<String>); 11] = [
            (
                "max_failed_logins",
                c.max_failed_logins.map(|v| v.to_string()),
            ),
            ("lockout_ms", c.lockout_ms.map(|v| v.to_string())),
            ("code_length", c.code_length.map(|v| v.to_string())),
            ("code_ttl_ms", c.code_ttl_ms.map(|v| v.to_string())),
            (
                "max_concurrent_sessions",
                c.max_concurrent_sessions.map(|v| v.to_string()),
            ),
            ("max_session_ms", c.max_session_ms.map(|v| v.to_string())),
            ("time_warning_ms", c.time_warning_ms.map(|v| v.to_string())),
            ("join_url_template", c.join_url_template.clone()),
            ("remote_printing", c.remote_printing.map(|v| v.to_string())),
            ("resume_grace_ms", c.resume_grace_ms.map(|v| v.to_string())),
            (
                "allow_plaintext_sessions",
                c.allow_plaintext_sessions.map(|v| v.to_string()),
            ),
        ];
        let tx = self.db.unchecked_transaction().map_err(backend)?;
        for (k, v) in pairs {
            if let Some(v) = v {
                tx.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    params![k, v],
                )
                .map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)
    }

    fn append_audit(&mut self, r: &AuditRecord) -> Result<u64, StoreError> {
        self.db
            .execute(
                "INSERT INTO audit (at_ms, kind, operator_username, source, session_id, customer, modes,
                 started_ms, ended_ms, bytes_to_operator, bytes_to_customer, end_reason, detail)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
                params![
                    i(r.at_ms),
                    r.kind,
                    r.operator_username,
                    r.source,
                    id(r.session_id),
                    r.customer,
                    modes_to_text(&r.modes),
                    i(r.started_ms),
                    i(r.ended_ms),
                    i(r.bytes_to_operator),
                    i(r.bytes_to_customer),
                    end_reason_name(r.end_reason),
                    r.detail,
                ],
            )
            .map_err(backend)?;
        Ok(self.db.last_insert_rowid() as u64)
    }

    fn query_audit(&self, q: &AuditQuery, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let to = if q.to_ms == 0 { i64::MAX } else { i(q.to_ms) };
        let mut stmt = self
            .db
            .prepare(
                "SELECT id, at_ms, kind, operator_username, source, session_id, customer, modes,
                 started_ms, ended_ms, bytes_to_operator, bytes_to_customer, end_reason, detail
                 FROM audit WHERE at_ms >= ?1 AND at_ms < ?2 AND id > ?3
                 AND (?4 = '' OR operator_username = ?4)
                 ORDER BY id LIMIT ?5",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(
                params![
                    i(q.from_ms),
                    to,
                    i(q.after_id),
                    q.operator_username,
                    i(limit as u64)
                ],
                audit_from_row,
            )
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn save_session(&mut self, s: &SessionRecord) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT OR REPLACE INTO sessions (session_id, operator_username, customer_name,
                 customer_description, customer_os, customer_hostname, modes, full_file_control,
                 started_ms, deadline_ms, operator_token_hash, customer_token_hash,
                 operator_credential_version, plaintext)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
                params![
                    id(s.session_id),
                    s.operator_username,
                    s.customer.name,
                    s.customer.description,
                    s.customer.os,
                    s.customer.hostname,
                    modes_to_text(&s.modes),
                    s.full_file_control,
                    i(s.started_ms),
                    s.deadline_ms.map(i),
                    s.operator_token_hash.as_slice(),
                    s.customer_token_hash.as_slice(),
                    i(s.operator_credential_version),
                    s.plaintext,
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn delete_session(&mut self, session_id: u64) -> Result<(), StoreError> {
        self.db
            .execute(
                "DELETE FROM sessions WHERE session_id = ?1",
                [id(session_id)],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn load_sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT session_id, operator_username, customer_name, customer_description,
                 customer_os, customer_hostname, modes, full_file_control, started_ms,
                 deadline_ms, operator_token_hash, customer_token_hash, operator_credential_version,
                 plaintext
                 FROM sessions ORDER BY session_id",
            )
            .map_err(backend)?;
        let rows = stmt.query_map([], session_from_row).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn is_known_source(
        &self,
        username: &str,
        source: &str,
        since_ms: u64,
    ) -> Result<bool, StoreError> {
        self.db
            .query_row(
                "SELECT 1 FROM known_sources WHERE username = ?1 AND source = ?2 AND last_ok_ms >= ?3",
                params![username, source, i(since_ms)],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(backend)
    }

    fn remember_source(
        &mut self,
        username: &str,
        source: &str,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let tx = self.db.unchecked_transaction().map_err(backend)?;
        tx.execute(
            "INSERT INTO known_sources (username, source, last_ok_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT(username, source) DO UPDATE SET last_ok_ms = excluded.last_ok_ms",
            params![username, source, i(now_ms)],
        )
        .map_err(backend)?;
        tx.execute(
            "DELETE FROM known_sources WHERE username = ?1 AND source NOT IN
             (SELECT source FROM known_sources WHERE username = ?1
              ORDER BY last_ok_ms DESC, source LIMIT ?2)",
            params![username, i(super::MAX_KNOWN_SOURCES as u64)],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)
    }

    fn bump_lockout_epoch(&mut self, username: &str) -> Result<u64, StoreError> {
        let tx = self.db.unchecked_transaction().map_err(backend)?;
        let n = tx
            .execute(
                "UPDATE accounts SET lockout_epoch = lockout_epoch + 1 WHERE username = ?1",
                [username],
            )
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let epoch: i64 = tx
            .query_row(
                "SELECT lockout_epoch FROM accounts WHERE username = ?1",
                [username],
                |r| r.get(0),
            )
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(epoch as u64)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn known_sources_are_bounded_per_account_and_follow_renames() {
        let mut store = SqliteStore::in_memory().unwrap();
        for n in 0..40u64 {
            store
                .remember_source("aiko", &format!("10.0.0.{n}"), 1000 + n)
                .unwrap();
        }
        let count: i64 = store
            .db
            .query_row("SELECT COUNT(*) FROM known_sources", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, super::super::MAX_KNOWN_SOURCES as i64);
        assert!(store.is_known_source("aiko", "10.0.0.39", 0).unwrap());
        assert!(
            !store.is_known_source("aiko", "10.0.0.0", 0).unwrap(),
            "oldest forgotten"
        );
        assert!(
            !store.is_known_source("aiko", "10.0.0.39", 2000).unwrap(),
            "too old"
        );
        assert!(!store.is_known_source("kenji", "10.0.0.39", 0).unwrap());
        assert!(matches!(
            store.bump_lockout_epoch("nobody"),
            Err(StoreError::NotFound)
        ));
    }

    #[test]
    fn session_ids_above_i64_max_round_trip_in_the_audit() {
        let mut store = SqliteStore::in_memory().unwrap();
        for session_id in [1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            store
                .append_audit(&AuditRecord {
                    at_ms: 5,
                    kind: "session_ended".into(),
                    session_id,
                    ..AuditRecord::default()
                })
                .unwrap();
        }
        let ids: Vec<u64> = store
            .query_audit(&AuditQuery::default(), 10)
            .unwrap()
            .into_iter()
            .map(|r| r.session_id)
            .collect();
        assert_eq!(ids.len(), 4);
        for id in [1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
    }
}
