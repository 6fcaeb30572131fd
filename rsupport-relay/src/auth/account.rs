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
    /// Consecutive failed logins since the last success or block.
    pub failed_logins: u32,
    /// Blocked until this time (ms since epoch); 0 = not blocked.
    pub blocked_until_ms: u64,
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
            blocked_until_ms: self.blocked_until_ms,
            allowed_modes: self.allowed_modes.clone(),
            full_file_control: self.full_file_control,
            totp_enabled: self.totp_secret.is_some(),
            operator_id: self.operator_id.clone(),
        }
    }

    /// Whether the account is blocked at `now_ms`.
    pub fn is_blocked(&self, now_ms: u64) -> bool {
        self.blocked_until_ms > now_ms
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
