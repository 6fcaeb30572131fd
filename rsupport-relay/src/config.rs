//! Relay configuration: a TOML file with defaults for every field, plus the
//! run-time settings admins may change (persisted in the store).

use std::path::PathBuf;

use rsupport_proto::relay::admin::RelaySettings;
use serde::{Deserialize, Serialize};

use crate::auth::Argon2Params;

/// Everything the relay reads at start. Every field has a default, so an
/// empty TOML file is a valid configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RelayConfig {
    /// Display name sent in `HelloAck`.
    pub name: String,
    /// Listen address.
    pub listen: String,
    /// SQLite database file.
    pub database: PathBuf,
    /// Certificate chain (PEM). With `key`; when both are absent a
    /// self-signed pair is generated in `state_dir` on first start.
    pub cert: Option<PathBuf>,
    /// Private key (PEM).
    pub key: Option<PathBuf>,
    /// Where a generated certificate is kept.
    pub state_dir: PathBuf,
    /// Host names for a generated certificate.
    pub self_signed_names: Vec<String>,
    /// CA (PEM) for client certificates; enables mTLS.
    pub client_ca: Option<PathBuf>,
    /// Operators and admins must present a client certificate signed by `client_ca`.
    pub require_client_cert_for_operators: bool,
    /// Connection cap.
    pub max_connections: usize,
    /// TLS handshake plus `Hello` must finish within this, ms.
    pub handshake_timeout_ms: u64,
    /// A connection that sends nothing for this long is closed, ms.
    pub idle_timeout_ms: u64,
    /// Queued bytes towards one connection above which senders are paused.
    pub queue_soft_bytes: usize,
    /// Queued bytes towards one connection above which it is closed as a slow consumer.
    pub queue_hard_bytes: usize,
    /// A receiver that keeps its queue above the soft limit this long is closed, ms.
    pub slow_consumer_timeout_ms: u64,
    /// Password hashing cost.
    pub argon2: Argon2Params,
    /// Wrong session codes allowed per source address per window.
    pub code_failures_per_source: u32,
    /// Wrong session codes allowed relay-wide per window.
    pub code_failure_budget: u32,
    /// Rate-limit window, ms.
    pub code_failure_window_ms: u64,
    /// Failed logins allowed per source address per window (on top of the
    /// per-account lockout; stops password spraying across many accounts).
    pub login_failures_per_source: u32,
    /// Failed logins allowed relay-wide per window.
    pub login_failure_budget: u32,
    /// How long a chat-first contact request waits for the operator, ms.
    pub contact_timeout_ms: u64,
    /// Audit rows per page when the admin does not say.
    pub audit_page_rows: u32,
    /// Defaults for the run-time settings (admins can override them; overrides persist).
    pub settings: Settings,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            name: "rsupport relay".into(),
            listen: "0.0.0.0:7443".into(),
            database: PathBuf::from("relay.db"),
            cert: None,
            key: None,
            state_dir: PathBuf::from("."),
            self_signed_names: vec!["localhost".into()],
            client_ca: None,
            require_client_cert_for_operators: false,
            max_connections: 10_000,
            handshake_timeout_ms: 10_000,
            idle_timeout_ms: 120_000,
            queue_soft_bytes: 1024 * 1024,
            queue_hard_bytes: 32 * 1024 * 1024,
            slow_consumer_timeout_ms: 30_000,
            argon2: Argon2Params::default(),
            code_failures_per_source: 10,
            code_failure_budget: 200,
            code_failure_window_ms: 10 * 60 * 1000,
            login_failures_per_source: 30,
            login_failure_budget: 1000,
            contact_timeout_ms: 2 * 60 * 1000,
            audit_page_rows: 200,
            settings: Settings::default(),
        }
    }
}

impl RelayConfig {
    /// Parses a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

/// Run-time settings: defaults from the config file, admin changes on top.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Failed logins before a block.
    pub max_failed_logins: u32,
    /// Block duration, ms.
    pub lockout_ms: u64,
    /// Digits per session code.
    pub code_length: u32,
    /// Session code lifetime, ms.
    pub code_ttl_ms: u64,
    /// Licence: concurrent sessions.
    pub max_concurrent_sessions: u32,
    /// Licence: longest session, ms; 0 = unlimited.
    pub max_session_ms: u64,
    /// Warn this long before the session limit, ms.
    pub time_warning_ms: u64,
    /// Join link template; `{code}` is replaced by the code. Empty = no link.
    pub join_url_template: String,
    /// Customers may print to the operator's printer while the operator
    /// controls their machine (control/manage modes only).
    pub remote_printing: bool,
    /// How long a session waits for a party whose connection dropped (or
    /// for both, after a relay restart) before it ends, ms; 0 = end at once.
    /// Licence time limits keep counting meanwhile.
    pub resume_grace_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_failed_logins: 3,
            lockout_ms: 20 * 60 * 1000,
            code_length: 8,
            code_ttl_ms: 10 * 60 * 1000,
            max_concurrent_sessions: 100,
            max_session_ms: 0,
            time_warning_ms: 5 * 60 * 1000,
            join_url_template: String::new(),
            remote_printing: true,
            resume_grace_ms: 120_000,
        }
    }
}

/// Shortest and longest session code the relay accepts as a setting.
pub const CODE_LENGTH_RANGE: std::ops::RangeInclusive<u32> = 6..=16;

impl Settings {
    /// Applies the `Some` fields of `changes`.
    pub fn apply(&mut self, c: &RelaySettings) {
        if let Some(v) = c.max_failed_logins {
            self.max_failed_logins = v;
        }
        if let Some(v) = c.lockout_ms {
            self.lockout_ms = v;
        }
        if let Some(v) = c.code_length {
            self.code_length = v;
        }
        if let Some(v) = c.code_ttl_ms {
            self.code_ttl_ms = v;
        }
        if let Some(v) = c.max_concurrent_sessions {
            self.max_concurrent_sessions = v;
        }
        if let Some(v) = c.max_session_ms {
            self.max_session_ms = v;
        }
        if let Some(v) = c.time_warning_ms {
            self.time_warning_ms = v;
        }
        if let Some(v) = &c.join_url_template {
            self.join_url_template = v.clone();
        }
        if let Some(v) = c.remote_printing {
            self.remote_printing = v;
        }
        if let Some(v) = c.resume_grace_ms {
            self.resume_grace_ms = v;
        }
    }

    /// Refuses values that would make the relay unsafe or unusable.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !CODE_LENGTH_RANGE.contains(&self.code_length) {
            return Err("code_length must be 6..=16");
        }
        if self.max_failed_logins == 0 {
            return Err("max_failed_logins must be at least 1");
        }
        if self.code_ttl_ms == 0 {
            return Err("code_ttl_ms must be positive");
        }
        Ok(())
    }

    /// Every field, as the wire type.
    pub fn to_wire(&self) -> RelaySettings {
        RelaySettings {
            max_failed_logins: Some(self.max_failed_logins),
            lockout_ms: Some(self.lockout_ms),
            code_length: Some(self.code_length),
            code_ttl_ms: Some(self.code_ttl_ms),
            max_concurrent_sessions: Some(self.max_concurrent_sessions),
            max_session_ms: Some(self.max_session_ms),
            time_warning_ms: Some(self.time_warning_ms),
            join_url_template: Some(self.join_url_template.clone()),
            remote_printing: Some(self.remote_printing),
            resume_grace_ms: Some(self.resume_grace_ms),
        }
    }

    /// The join link for `code`, or empty when no template is set.
    pub fn join_link(&self, code: &str) -> String {
        if self.join_url_template.is_empty() {
            String::new()
        } else {
            self.join_url_template.replace("{code}", code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_toml_gives_defaults_and_fields_override() {
        assert_eq!(RelayConfig::from_toml("").unwrap(), RelayConfig::default());
        let c = RelayConfig::from_toml(
            "name = \"acme\"\n[settings]\ncode_length = 10\njoin_url_template = \"https://x/j?c={code}\"\n",
        )
        .unwrap();
        assert_eq!(c.name, "acme");
        assert_eq!(c.settings.code_length, 10);
        assert_eq!(c.settings.max_failed_logins, 3);
        assert_eq!(c.settings.join_link("123"), "https://x/j?c=123");
        assert!(RelayConfig::from_toml("nonsense = 1").is_err());
    }
}
