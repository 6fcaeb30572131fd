//! The run-time settings: defaults from the configuration file, changes by
//! admins on top (they persist in the store), and the bounds both obey.

use rsupport_proto::relay::admin::RelaySettings;
use serde::{Deserialize, Serialize};

use super::{InvalidSetting, DAY_MS, HOUR_MS};

/// Run-time settings: defaults from the config file, admin changes on top.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Failed logins of one account from one source before that source is
    /// refused for that account (other sources are not affected).
    pub max_failed_logins: u32,
    /// How long such a source stays refused, and how long failures count, ms.
    pub lockout_ms: u64,
    /// Digits of a session code the relay issues (the routing part). The
    /// operator's program appends
    /// [`CODE_SECRET_DIGITS`](rsupport_proto::limits::CODE_SECRET_DIGITS)
    /// secret digits the relay never sees, so customers type
    /// `code_length + CODE_SECRET_DIGITS` digits (12 by default).
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
    /// Pair a party whose program cannot encrypt end to end (it speaks
    /// protocol 1) anyway, in a plaintext session both sides are told
    /// about. Off: such joins and contacts are refused
    /// ([`JoinRefusal::NotEncrypted`](rsupport_proto::relay::JoinRefusal::NotEncrypted)).
    pub allow_plaintext_sessions: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_failed_logins: 5,
            lockout_ms: 20 * 60 * 1000,
            code_length: 7,
            code_ttl_ms: 10 * 60 * 1000,
            max_concurrent_sessions: 100,
            max_session_ms: 0,
            time_warning_ms: 5 * 60 * 1000,
            join_url_template: String::new(),
            remote_printing: true,
            resume_grace_ms: 120_000,
            allow_plaintext_sessions: false,
        }
    }
}

/// Allowed `max_failed_logins`.
pub const MAX_FAILED_LOGINS_RANGE: std::ops::RangeInclusive<u32> = 1..=20;
/// Allowed `lockout_ms`: 1 minute to 24 hours.
pub const LOCKOUT_MS_RANGE: std::ops::RangeInclusive<u64> = 60_000..=86_400_000;

/// Shortest and longest session code the relay issues (`code_length`; the
/// customer types [`CODE_SECRET_DIGITS`](rsupport_proto::limits::CODE_SECRET_DIGITS)
/// more).
pub const CODE_LENGTH_RANGE: std::ops::RangeInclusive<u32> = 6..=11;

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
        if let Some(v) = c.allow_plaintext_sessions {
            self.allow_plaintext_sessions = v;
        }
    }

    /// Sets the field named `key` to its value in `from`; `false` when no
    /// field has that name. Used to drop a stored override that the rules
    /// of this version refuse, keeping the others.
    pub(crate) fn reset_field(&mut self, key: &str, from: &Settings) -> bool {
        match key {
            "max_failed_logins" => self.max_failed_logins = from.max_failed_logins,
            "lockout_ms" => self.lockout_ms = from.lockout_ms,
            "code_length" => self.code_length = from.code_length,
            "code_ttl_ms" => self.code_ttl_ms = from.code_ttl_ms,
            "max_concurrent_sessions" => {
                self.max_concurrent_sessions = from.max_concurrent_sessions
            }
            "max_session_ms" => self.max_session_ms = from.max_session_ms,
            "time_warning_ms" => self.time_warning_ms = from.time_warning_ms,
            "join_url_template" => self.join_url_template.clone_from(&from.join_url_template),
            "remote_printing" => self.remote_printing = from.remote_printing,
            "resume_grace_ms" => self.resume_grace_ms = from.resume_grace_ms,
            "allow_plaintext_sessions" => {
                self.allow_plaintext_sessions = from.allow_plaintext_sessions
            }
            _ => return false,
        }
        true
    }

    /// Refuses values that would make the relay unsafe or unusable. The one
    /// set of rules for run-time settings: the admin API applies it to every
    /// change, and [`RelayConfig::validate`](super::RelayConfig::validate) to the file's `[settings]` at start.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !CODE_LENGTH_RANGE.contains(&self.code_length) {
            let secret = rsupport_proto::limits::CODE_SECRET_DIGITS as u32;
            // 12 to 16 were the lengths of whole codes before the relay
            // issued only the routing digits: say what the value means now.
            let hint = match self.code_length.checked_sub(secret) {
                Some(routing) if CODE_LENGTH_RANGE.contains(&routing) => format!(
                    " (code_length now counts only the digits the relay issues; the \
                     operator's program adds {secret} secret ones, so customers type {} \
                     digits with code_length = {routing})",
                    self.code_length
                ),
                _ => String::new(),
            };
            return Err(InvalidSetting::out_of_range(
                "code_length",
                self.code_length,
                format!(
                    "between {} and {}{hint}",
                    CODE_LENGTH_RANGE.start(),
                    CODE_LENGTH_RANGE.end()
                ),
            ));
        }
        for (key, value, range) in [
            (
                "max_failed_logins",
                self.max_failed_logins.into(),
                u64::from(*MAX_FAILED_LOGINS_RANGE.start())
                    ..=u64::from(*MAX_FAILED_LOGINS_RANGE.end()),
            ),
            ("lockout_ms", self.lockout_ms, LOCKOUT_MS_RANGE),
            ("code_ttl_ms", self.code_ttl_ms, 10_000..=HOUR_MS),
            (
                "max_concurrent_sessions",
                self.max_concurrent_sessions.into(),
                0..=1_000_000,
            ),
            ("max_session_ms", self.max_session_ms, 0..=30 * DAY_MS),
            ("time_warning_ms", self.time_warning_ms, 0..=DAY_MS),
            ("resume_grace_ms", self.resume_grace_ms, 0..=HOUR_MS),
        ] {
            if !range.contains(&value) {
                return Err(InvalidSetting::out_of_range(
                    key,
                    value,
                    format!("between {} and {}", range.start(), range.end()),
                ));
            }
        }
        if self.join_url_template.len() > rsupport_proto::limits::MAX_URL
            || !(self.join_url_template.is_empty() || self.join_url_template.contains("{code}"))
        {
            return Err(InvalidSetting::out_of_range(
                "join_url_template",
                format!("{:?}", self.join_url_template),
                format!(
                    "empty, or a link of at most {} bytes containing {{code}}",
                    rsupport_proto::limits::MAX_URL
                ),
            ));
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
            allow_plaintext_sessions: Some(self.allow_plaintext_sessions),
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
