//! An operator or admin account as the store keeps it.

use rsupport_proto::relay::admin::AccountSummary;
use rsupport_proto::relay::Secret;
use rsupport_proto::{ConnectionMode, Role};

/// An operator or admin account. Secrets are wrapped so `Debug` never shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Login name (unique).
    pub username: String,
    /// Shown to customers and colleagues.
    pub display_name: String,
    /// `Operator` or `Admin`.
    pub role: Role,
    /// What customers type for chat-first contact (unique).
    pub operator_id: String,
    /// Argon2 PHC string.
    pub password_hash: Secret<String>,
    /// An admin can disable an account.
    pub enabled: bool,
    /// Goes up whenever the password or the second factor changes (reset,
    /// change, TOTP on or off). A session remembers the value it was paired
    /// under; a `Resume` under an older one is refused.
    pub credential_version: u64,
    /// Goes up with each unblock (also from the offline `admin unblock`
    /// while the relay runs): the relay forgets its lockouts and slow-downs
    /// for the account when it sees a newer value.
    pub lockout_epoch: u64,
    /// Connection modes this operator may use.
    pub allowed_modes: Vec<ConnectionMode>,
    /// File offers skip the customer's prompt in control modes.
    pub full_file_control: bool,
    /// TOTP secret, when the second factor is on.
    pub totp_secret: Option<Secret<Vec<u8>>>,
    /// Last TOTP step accepted (replay protection).
    pub totp_last_step: u64,
    /// The password must be changed at the next login.
    pub must_change_password: bool,
    /// Creation time, ms since epoch.
    pub created_ms: u64,
}

impl Account {
    /// The wire summary (no secrets).
    pub fn summary(&self) -> AccountSummary {
        AccountSummary {
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            enabled: self.enabled,
            // Lockouts are per source now (see the relay's login module);
            // no account as a whole is ever blocked.
            blocked_until_ms: 0,
            allowed_modes: self.allowed_modes.clone(),
            full_file_control: self.full_file_control,
            totp_enabled: self.totp_secret.is_some(),
            operator_id: self.operator_id.clone(),
        }
    }
}

/// Stable storage name of a role.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Operator => "operator",
        Role::Admin => "admin",
        Role::Customer => "customer",
        _ => "unknown",
    }
}

/// Parses [`role_name`] output.
pub fn role_from_name(name: &str) -> Option<Role> {
    Role::ALL.iter().copied().find(|r| role_name(*r) == name)
}

/// Stable storage name of a connection mode.
pub fn mode_name(mode: ConnectionMode) -> &'static str {
    match mode {
        ConnectionMode::ViewCustomer => "view_customer",
        ConnectionMode::ControlCustomer => "control_customer",
        ConnectionMode::ManageCustomer => "manage_customer",
        ConnectionMode::ShareOperatorScreen => "share_operator_screen",
        ConnectionMode::ShowOperatorScreen => "show_operator_screen",
        _ => "unknown",
    }
}

/// Parses [`mode_name`] output.
pub fn mode_from_name(name: &str) -> Option<ConnectionMode> {
    ConnectionMode::ALL
        .iter()
        .copied()
        .find(|m| mode_name(*m) == name)
}
