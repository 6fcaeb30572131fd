//! Persistent relay state: accounts, settings, the audit history and the
//! running sessions (so they survive a relay restart).
//!
//! [`Store`] is the seam: [`SqliteStore`] (embedded, the default) implements
//! it today; a networked database serving several relays can implement it
//! later. The store is synchronous; the relay calls it from its broker
//! thread, never from an async task.

mod db_files;
mod sqlite;
mod totp_key;

pub use sqlite::SqliteStore;

use rsupport_proto::relay::admin::{AuditQuery, AuditRecord, RelaySettings};
use rsupport_proto::relay::CustomerInfo;
use rsupport_proto::ConnectionMode;

use crate::auth::Account;

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique name (user name, operator ID) is taken.
    #[error("already exists")]
    AlreadyExists,
    /// No such row.
    #[error("not found")]
    NotFound,
    /// The schema is newer than this build understands.
    #[error("database schema version {found} is newer than supported {supported}")]
    SchemaTooNew {
        /// Version in the database.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Backend(String),
    /// The key that encrypts TOTP secrets at rest is missing, unreadable or
    /// wrong for this database; the text says which file and what to do.
    #[error("{0}")]
    SecretKey(String),
}

/// A running session as the relay keeps it across restarts: enough to
/// answer a `Resume` with the same session id and settings. Tokens are kept
/// only as SHA-256 hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRecord {
    /// The relay's session id.
    pub session_id: u64,
    /// The operator's user name.
    pub operator_username: String,
    /// What the customer told about itself.
    pub customer: CustomerInfo,
    /// Modes the operator may use in this session.
    pub modes: Vec<ConnectionMode>,
    /// The operator has full file transfer control.
    pub full_file_control: bool,
    /// When the session started, ms since the epoch.
    pub started_ms: u64,
    /// Licence end, ms since the epoch, if the session time is limited.
    pub deadline_ms: Option<u64>,
    /// SHA-256 of the operator's current resume token.
    pub operator_token_hash: [u8; 32],
    /// SHA-256 of the customer's current resume token.
    pub customer_token_hash: [u8; 32],
    /// The operator account's [`Account::credential_version`] when the
    /// session was paired: a `Resume` after a password or TOTP change is refused.
    pub operator_credential_version: u64,
    /// The session is not end-to-end encrypted (a party speaks protocol 1
    /// and the relay allowed it): a `Resume` repeats it in `Paired`.
    pub plaintext: bool,
}

impl SessionRecord {
    /// A record with every field given (the struct is `#[non_exhaustive]`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        session_id: u64,
        operator_username: String,
        customer: CustomerInfo,
        modes: Vec<ConnectionMode>,
        full_file_control: bool,
        started_ms: u64,
        deadline_ms: Option<u64>,
        operator_token_hash: [u8; 32],
        customer_token_hash: [u8; 32],
    ) -> Self {
        SessionRecord {
            session_id,
            operator_username,
            customer,
            modes,
            full_file_control,
            started_ms,
            deadline_ms,
            operator_token_hash,
            customer_token_hash,
            operator_credential_version: 0,
            plaintext: false,
        }
    }

    /// Sets [`SessionRecord::operator_credential_version`].
    pub fn with_operator_credential_version(mut self, version: u64) -> Self {
        self.operator_credential_version = version;
        self
    }

    /// Sets [`SessionRecord::plaintext`].
    pub fn with_plaintext(mut self, plaintext: bool) -> Self {
        self.plaintext = plaintext;
        self
    }
}

/// Most sources remembered per account as "known" (where it logged in
/// successfully); the least recently used is forgotten first.
pub const MAX_KNOWN_SOURCES: usize = 32;

/// Persistent relay state.
pub trait Store: Send {
    /// The account with this user name.
    fn find_account(&self, username: &str) -> Result<Option<Account>, StoreError>;
    /// The account with this operator ID.
    fn find_account_by_operator_id(&self, operator_id: &str)
        -> Result<Option<Account>, StoreError>;
    /// Adds an account; [`StoreError::AlreadyExists`] if the name or operator ID is taken.
    fn insert_account(&mut self, account: &Account) -> Result<(), StoreError>;
    /// Replaces the account stored as `username` (which may rename it).
    fn update_account(&mut self, username: &str, account: &Account) -> Result<(), StoreError>;
    /// Every account, by user name.
    fn list_accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// Settings an admin changed (fields never changed are `None`).
    fn load_settings(&self) -> Result<RelaySettings, StoreError>;
    /// Stores the `Some` fields of `changes`, keeping the others.
    fn save_settings(&mut self, changes: &RelaySettings) -> Result<(), StoreError>;
    /// Appends an audit record; returns its id.
    fn append_audit(&mut self, record: &AuditRecord) -> Result<u64, StoreError>;
    /// Audit rows matching `query`, oldest first, at most `limit`.
    fn query_audit(&self, query: &AuditQuery, limit: usize)
        -> Result<Vec<AuditRecord>, StoreError>;
    /// Stores a running session, replacing the row with the same id.
    fn save_session(&mut self, session: &SessionRecord) -> Result<(), StoreError>;
    /// Forgets a session (it ended). Unknown ids are not an error.
    fn delete_session(&mut self, session_id: u64) -> Result<(), StoreError>;
    /// Every stored session, by id.
    fn load_sessions(&self) -> Result<Vec<SessionRecord>, StoreError>;
    /// Whether `username` logged in successfully from `source` (a
    /// [`Source`](crate::Source) as text) at or after `since_ms`.
    fn is_known_source(
        &self,
        username: &str,
        source: &str,
        since_ms: u64,
    ) -> Result<bool, StoreError>;
    /// Records a successful login of `username` from `source`, keeping at
    /// most [`MAX_KNOWN_SOURCES`] per account.
    fn remember_source(
        &mut self,
        username: &str,
        source: &str,
        now_ms: u64,
    ) -> Result<(), StoreError>;
    /// Raises the account's [`Account::lockout_epoch`] by one (an unblock,
    /// seen by a running relay at the account's next login) and returns the
    /// new value; [`StoreError::NotFound`] when there is no such account.
    fn bump_lockout_epoch(&mut self, username: &str) -> Result<u64, StoreError>;
}
