//! Persistent relay state: accounts, settings and the audit history.
//!
//! [`Store`] is the seam: [`SqliteStore`] (embedded, the default) implements
//! it today; a networked database serving several relays can implement it
//! later. The store is synchronous; the relay calls it from its broker
//! thread, never from an async task.

mod sqlite;

pub use sqlite::SqliteStore;

use rsupport_proto::relay::admin::{AuditQuery, AuditRecord, RelaySettings};

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
}

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
}
