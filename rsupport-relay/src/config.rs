//! Relay configuration: a TOML file with defaults for every field, plus the
//! run-time settings admins may change (persisted in the store).
//!
//! The file and the admin API go through the same checks: [`Settings::validate`]
//! is the one place the rules for run-time settings live, and
//! [`RelayConfig::validate`] applies it (plus the rules for start-only fields)
//! before the relay starts, so a value an admin could not set at run time
//! cannot slip in through the file either.
//!
//! Relative paths in a file read with [`RelayConfig::from_file`] are taken
//! relative to that file's folder, so the same file gives the same database
//! and certificate whatever the working directory is.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::auth::Argon2Params;

mod settings;
pub use settings::{Settings, CODE_LENGTH_RANGE, LOCKOUT_MS_RANGE, MAX_FAILED_LOGINS_RANGE};

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
    /// Wrong session codes allowed per source (IPv4 address or IPv6 /64)
    /// per sliding window; after the n-th, the source waits 2^(n-1) s
    /// before its next attempt is looked at.
    pub code_failures_per_source: u32,
    /// Wrong session codes relay-wide per window above which a source with
    /// any wrong code in its window is refused (a source without one is
    /// still served, so a right code always gets in).
    pub code_failure_budget: u32,
    /// Sliding window of the two code limits above, ms.
    pub code_failure_window_ms: u64,
    /// Live (issued, unused) session codes relay-wide; further IssueCode
    /// requests are refused.
    pub max_live_codes: u32,
    /// Live session codes one operator account may hold.
    pub max_codes_per_operator: u32,
    /// Failed logins one source may have across all user names within
    /// `lockout_ms` (password spraying); beyond, it may only try accounts
    /// it has logged in to before.
    pub login_failures_per_source: u32,
    /// Threads that check passwords (argon2), so the broker never waits
    /// for a hash; 0 = one per core minus one, at least one.
    pub password_workers: usize,
    /// Password checks that may wait for a worker; beyond, logins are
    /// answered "busy, try again in a few seconds" without hashing.
    pub password_queue: usize,
    /// How long a chat-first contact request waits for the operator, ms.
    pub contact_timeout_ms: u64,
    /// Audit rows per page when the admin does not say.
    pub audit_page_rows: u32,
    /// Defaults for the run-time settings (admins can override them; overrides persist).
    pub settings: Settings,

    // ---- Connection slots, memory and proxies (issue 12: H3, M8, L3) ----
    /// Most connections from one source (an IPv4 address or an IPv6 /64),
    /// counted from the TCP accept, before the TLS handshake.
    pub max_connections_per_source: usize,
    /// After `Hello`, a connection must log in, join, contact an operator or
    /// resume within this, ms; `Ping`s do not extend it.
    pub auth_timeout_ms: u64,
    /// Bytes all connections together may hold in read buffers and send
    /// queues; above it the connections holding the most are closed first.
    pub memory_budget_bytes: usize,
    /// Load balancers (IP addresses or CIDRs) allowed to send a PROXY
    /// protocol (v1 or v2) header naming the real client. Empty: none.
    pub trusted_proxies: Vec<String>,

    // ---- The web front door (issue 14) ----
    /// Serve HTTPS and WebSocket on the relay's port beside the native
    /// protocol (the first bytes of a connection tell which it speaks).
    pub web_enabled: bool,
    /// Folder with the web console's files (`index.html`, `operator/`,
    /// `admin/`, `pkg/`); unset: a built-in page says how to install it.
    pub web_root: Option<PathBuf>,
    /// Origins besides the relay's own (e.g. `https://help.example.com`)
    /// whose pages may open the WebSocket, call the API and frame the
    /// console: for vendors embedding the viewer in their own site.
    pub web_allowed_origins: Vec<String>,
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
            code_failures_per_source: 5,
            code_failure_budget: 5_000,
            code_failure_window_ms: 24 * 60 * 60 * 1000,
            max_live_codes: 50,
            max_codes_per_operator: 5,
            login_failures_per_source: 30,
            password_workers: 0,
            password_queue: 64,
            contact_timeout_ms: 2 * 60 * 1000,
            audit_page_rows: 200,
            settings: Settings::default(),
            max_connections_per_source: 20,
            auth_timeout_ms: 30_000,
            memory_budget_bytes: 256 * 1024 * 1024,
            trusted_proxies: Vec::new(),
            web_enabled: true,
            web_root: None,
            web_allowed_origins: Vec::new(),
        }
    }
}

impl RelayConfig {
    /// Parses a TOML configuration. Relative paths stay as written (relative
    /// to the working directory); [`RelayConfig::from_file`] anchors them at
    /// the file instead.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Reads and parses the TOML file at `path` and resolves its relative
    /// paths ([`RelayConfig::resolve_paths`]) against the file's folder. It
    /// does not validate: call [`RelayConfig::validate`] once any command-line
    /// overrides are applied, or use [`RelayConfig::load`].
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::from_toml(&text).map_err(|e| {
            let (line, column) = e
                .span()
                .map_or((0, 0), |span| line_and_column(&text, span.start));
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: e.message().trim_end().to_owned(),
            }
        })?;
        // `Path::parent` of a bare file name is "": the working directory,
        // which is where that file is. Made absolute so that the paths stay
        // right whatever the process does with its working directory later.
        let dir = path.parent().unwrap_or(Path::new(""));
        config.resolve_paths(&std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned()));
        Ok(config)
    }

    /// [`RelayConfig::from_file`], then [`RelayConfig::validate`].
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let config = Self::from_file(path)?;
        config.validate().map_err(|problem| ConfigError::Invalid {
            path: path.to_owned(),
            problem,
        })?;
        Ok(config)
    }

    /// Makes every relative path field (`database`, `cert`, `key`,
    /// `state_dir`, `client_ca`, `web_root`) relative to `base` instead of the working
    /// directory. Absolute paths are kept.
    pub fn resolve_paths(&mut self, base: &Path) {
        let anchor = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        anchor(&mut self.database);
        anchor(&mut self.state_dir);
        for p in [
            &mut self.cert,
            &mut self.key,
            &mut self.client_ca,
            &mut self.web_root,
        ]
        .into_iter()
        .flatten()
        {
            anchor(p);
        }
    }

    /// Refuses values the relay cannot run with: every rule of
    /// [`Settings::validate`] (reported under `[settings]`), a certificate
    /// without its key or the other way round, invalid password-hashing
    /// costs, and zero limits or timeouts that would make the relay refuse
    /// or drop every connection.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.check_settings(&self.settings).map_err(|mut e| {
            e.table = "settings";
            e
        })?;
        self.validate_code_limits()?;
        if self.cert.is_some() != self.key.is_some() {
            let (missing, present) = if self.cert.is_some() {
                ("key", "cert")
            } else {
                ("cert", "key")
            };
            return Err(InvalidSetting {
                table: "",
                key: missing,
                value: "unset".into(),
                allowed: format!(
                    "set when `{present}` is set (give both, or neither to use a certificate \
                     generated in state_dir)"
                ),
            });
        }
        self.argon2.validate().map_err(|mut e| {
            e.table = "argon2";
            e
        })?;
        if self.self_signed_names.is_empty() && self.cert.is_none() {
            return Err(InvalidSetting {
                table: "",
                key: "self_signed_names",
                value: "[]".into(),
                allowed: "at least one host name when no `cert` is given".into(),
            });
        }
        // Sent in every HelloAck, where clients refuse longer names.
        if self.name.len() > rsupport_proto::limits::MAX_NAME {
            return Err(InvalidSetting::out_of_range(
                "name",
                format!("{} bytes", self.name.len()),
                format!("at most {} bytes", rsupport_proto::limits::MAX_NAME),
            ));
        }
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(InvalidSetting::out_of_range(
                "max_connections",
                self.max_connections,
                format!("between 1 and {MAX_CONNECTIONS}"),
            ));
        }
        if self.queue_soft_bytes == 0 || self.queue_soft_bytes > self.queue_hard_bytes {
            return Err(InvalidSetting::out_of_range(
                "queue_soft_bytes",
                self.queue_soft_bytes,
                format!("between 1 and queue_hard_bytes ({})", self.queue_hard_bytes),
            ));
        }
        if self.password_workers > MAX_PASSWORD_WORKERS {
            return Err(InvalidSetting::out_of_range(
                "password_workers",
                self.password_workers,
                format!("between 0 (one per core) and {MAX_PASSWORD_WORKERS}"),
            ));
        }
        if !(1..=MAX_PASSWORD_QUEUE).contains(&self.password_queue) {
            return Err(InvalidSetting::out_of_range(
                "password_queue",
                self.password_queue,
                format!("between 1 and {MAX_PASSWORD_QUEUE}"),
            ));
        }
        for (key, value, range) in [
            (
                "handshake_timeout_ms",
                self.handshake_timeout_ms,
                1..=HOUR_MS,
            ),
            ("idle_timeout_ms", self.idle_timeout_ms, 1..=DAY_MS),
            (
                "slow_consumer_timeout_ms",
                self.slow_consumer_timeout_ms,
                1..=HOUR_MS,
            ),
            ("contact_timeout_ms", self.contact_timeout_ms, 1..=HOUR_MS),
            ("audit_page_rows", self.audit_page_rows.into(), 1..=10_000),
            (
                "queue_hard_bytes",
                self.queue_hard_bytes as u64,
                1..=1 << 30,
            ),
            (
                "login_failures_per_source",
                self.login_failures_per_source.into(),
                1..=1_000_000,
            ),
        ] {
            if !range.contains(&value) {
                return Err(InvalidSetting::out_of_range(
                    key,
                    value,
                    format!("between {} and {}", range.start(), range.end()),
                ));
            }
        }
        self.validate_limits()
    }

    /// The rules for the connection-slot, memory and proxy settings.
    fn validate_limits(&self) -> Result<(), InvalidSetting> {
        if !(1..=self.max_connections).contains(&self.max_connections_per_source) {
            return Err(InvalidSetting::out_of_range(
                "max_connections_per_source",
                self.max_connections_per_source,
                format!("between 1 and max_connections ({})", self.max_connections),
            ));
        }
        if !AUTH_TIMEOUT_MS.contains(&self.auth_timeout_ms) {
            return Err(InvalidSetting::out_of_range(
                "auth_timeout_ms",
                self.auth_timeout_ms,
                format!(
                    "between {} and {} (1 s to 1 hour)",
                    AUTH_TIMEOUT_MS.start(),
                    AUTH_TIMEOUT_MS.end()
                ),
            ));
        }
        let least = self.queue_hard_bytes.max(MIN_MEMORY_BUDGET);
        if self.memory_budget_bytes < least {
            return Err(InvalidSetting::out_of_range(
                "memory_budget_bytes",
                self.memory_budget_bytes,
                format!("at least {least} (16 MiB, and no less than queue_hard_bytes)"),
            ));
        }
        for entry in &self.trusted_proxies {
            if crate::proxy::TrustedProxies::parse_one(entry).is_none() {
                return Err(InvalidSetting::out_of_range(
                    "trusted_proxies",
                    format!("[\"{entry}\"]"),
                    "a list of IP addresses or CIDRs, like [\"10.0.0.5\", \"192.0.2.0/24\", \"2001:db8::/48\"]",
                ));
            }
        }
        for origin in &self.web_allowed_origins {
            if !crate::web::valid_origin(origin) {
                return Err(InvalidSetting::out_of_range(
                    "web_allowed_origins",
                    format!("[\"{origin}\"]"),
                    "a list of origins (scheme, host and optional port, no path), like \
                     [\"https://help.example.com\", \"https://example.com:8443\"]",
                ));
            }
        }
        Ok(())
    }
}

pub use crate::limits::code_rule::GUESSING_SOURCES;

pub(crate) const HOUR_MS: u64 = 60 * 60 * 1000;
pub(crate) const DAY_MS: u64 = 24 * HOUR_MS;

/// Allowed range of [`RelayConfig::auth_timeout_ms`].
pub const AUTH_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 1_000..=3_600_000;
/// Smallest [`RelayConfig::memory_budget_bytes`].
pub const MIN_MEMORY_BUDGET: usize = 16 * 1024 * 1024;

/// Most password worker threads (each argon2 hash holds its memory cost).
pub const MAX_PASSWORD_WORKERS: usize = 256;
/// Most password checks that may wait for a worker.
pub const MAX_PASSWORD_QUEUE: usize = 100_000;

/// Most connections a relay may be configured for (the async semaphore's
/// limit is far above; this keeps typos like an extra digit group out).
pub const MAX_CONNECTIONS: usize = 10_000_000;

/// 1-based line and column of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before, |i| before.get(i + 1..).unwrap_or(""))
        .chars()
        .count()
        + 1;
    (line, column)
}

/// A setting with a value the relay refuses, from the configuration file or
/// from an admin's change at run time. `Display` names the setting, its
/// value and what is allowed, e.g. "code_length = 3 is not allowed: it must
/// be between 6 and 11".
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidSetting {
    /// The TOML table the key is in (`settings`, `argon2`), or empty for a
    /// top-level key and for run-time settings changed through the admin API.
    pub table: &'static str,
    /// The setting's name.
    pub key: &'static str,
    /// The refused value, as written.
    pub value: String,
    /// What is allowed, in words ("between 6 and 11").
    pub allowed: String,
}

impl InvalidSetting {
    /// A top-level `key` whose `value` is not `allowed`.
    pub(crate) fn out_of_range(
        key: &'static str,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        InvalidSetting {
            table: "",
            key,
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

impl fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.table.is_empty() {
            write!(f, "[{}] ", self.table)?;
        }
        write!(
            f,
            "{} = {} is not allowed: it must be {}",
            self.key, self.value, self.allowed
        )
    }
}

impl std::error::Error for InvalidSetting {}

/// Why a configuration file could not be used. `Display` names the file (and
/// the line, or the setting) and says what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("{}, line {line}, column {column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What the TOML reader said.
        message: String,
    },
    /// A value is out of its allowed range.
    #[error("{}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Which setting and what is allowed.
        problem: InvalidSetting,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsupport_proto::relay::admin::RelaySettings;

    #[test]
    fn empty_toml_gives_defaults_and_fields_override() {
        assert_eq!(RelayConfig::from_toml("").unwrap(), RelayConfig::default());
        let c = RelayConfig::from_toml(
            "name = \"acme\"\n[settings]\ncode_length = 9\njoin_url_template = \"https://x/j?c={code}\"\n",
        )
        .unwrap();
        assert_eq!(c.name, "acme");
        assert_eq!(c.settings.code_length, 9);
        assert_eq!(c.settings.max_failed_logins, 5);
        assert_eq!(c.settings.join_link("123"), "https://x/j?c=123");
        assert!(RelayConfig::from_toml("nonsense = 1").is_err());
    }

    #[test]
    fn relative_paths_follow_the_file_and_absolute_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("relay.toml");
        std::fs::write(
            &file,
            "database = \"data/relay.db\"\nstate_dir = \"state\"\ncert = \"/etc/c.pem\"\nkey = \"k.pem\"\n",
        )
        .unwrap();
        let c = RelayConfig::from_file(&file).unwrap();
        assert_eq!(c.database, dir.path().join("data/relay.db"));
        assert_eq!(c.state_dir, dir.path().join("state"));
        assert_eq!(c.cert.as_deref(), Some(Path::new("/etc/c.pem")));
        assert_eq!(c.key, Some(dir.path().join("k.pem")));
        // Defaults are relative too: an empty file keeps its state beside itself.
        std::fs::write(&file, "").unwrap();
        let c = RelayConfig::from_file(&file).unwrap();
        assert_eq!(c.database, dir.path().join("relay.db"));
        assert_eq!(c.state_dir, dir.path().join("."));
    }

    #[test]
    fn file_and_admin_api_share_the_settings_rules() {
        let mut settings = Settings::default();
        settings.apply(&RelaySettings {
            code_length: Some(3),
            ..Default::default()
        });
        let admin = settings.validate().unwrap_err();
        assert_eq!(
            admin.to_string(),
            "code_length = 3 is not allowed: it must be between 6 and 11"
        );
        let file = RelayConfig::from_toml("[settings]\ncode_length = 3\n")
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(file.key, admin.key);
        assert_eq!(
            file.to_string(),
            "[settings] code_length = 3 is not allowed: it must be between 6 and 11"
        );
        assert!(RelayConfig::default().validate().is_ok());
    }

    #[test]
    fn settings_without_sane_values_are_refused() {
        let refused = |text: &str| {
            RelayConfig::from_toml(text)
                .unwrap()
                .validate()
                .expect_err(text)
                .key
        };
        assert_eq!(refused("[settings]\nlockout_ms = 0"), "lockout_ms");
        assert_eq!(
            refused("[settings]\nmax_failed_logins = 21"),
            "max_failed_logins"
        );
        assert_eq!(refused("[settings]\ncode_ttl_ms = 3600001"), "code_ttl_ms");
        assert_eq!(refused("[settings]\ncode_length = 5"), "code_length");
        assert_eq!(refused("[settings]\ncode_length = 17"), "code_length");
        // A whole code's length from before the split says what it means now.
        let old = RelayConfig::from_toml("[settings]\ncode_length = 12")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            old.contains("between 6 and 11 (code_length now counts"),
            "{old}"
        );
        assert!(
            old.contains("customers type 12 digits with code_length = 7"),
            "{old}"
        );
        assert_eq!(
            refused("[settings]\nresume_grace_ms = 86400000"),
            "resume_grace_ms"
        );
        assert_eq!(
            refused("code_failures_per_source = 0"),
            "code_failures_per_source"
        );
        assert_eq!(
            refused("code_failures_per_source = 1000"),
            "code_failures_per_source"
        );
        assert_eq!(
            refused("contact_timeout_ms = 86400000"),
            "contact_timeout_ms"
        );
        assert_eq!(refused(&format!("name = \"{}\"", "x".repeat(300))), "name");
        assert_eq!(
            refused("[settings]\njoin_url_template = \"https://x/j\""),
            "join_url_template"
        );
        assert!(RelayConfig::from_toml("[settings]\ncode_ttl_ms = 3600000")
            .unwrap()
            .validate()
            .is_ok());
    }

    #[test]
    fn codes_must_be_long_enough_for_the_guessing_budget() {
        // Defaults: (5,000 + 10,000) x 50 x 10^6 = 7.5e11 <= 10^(7 + 5),
        // the 7 digits the relay issues and the 5 secret ones.
        assert!(RelayConfig::default().validate().is_ok());
        let e = RelayConfig::from_toml("[settings]\ncode_length = 6")
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.key, "code_length");
        assert!(e.to_string().contains("lengthen"), "{e}");
        let e = RelayConfig::from_toml("max_live_codes = 100")
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.key, "code_length", "{e}");
        assert!(e.to_string().contains("max_live_codes"), "{e}");
        // Longer codes make room for more live codes or a bigger budget.
        assert!(
            RelayConfig::from_toml("max_live_codes = 100\n[settings]\ncode_length = 8")
                .unwrap()
                .validate()
                .is_ok()
        );
        // An admin cannot shorten codes below the guarantee at run time either.
        let c = RelayConfig::default();
        let mut s = c.settings.clone();
        s.code_length = 6;
        assert_eq!(c.check_settings(&s).unwrap_err().key, "code_length");
    }

    #[test]
    fn start_only_fields_are_checked() {
        let refused = |text: &str| {
            RelayConfig::from_toml(text)
                .unwrap()
                .validate()
                .unwrap_err()
        };
        assert_eq!(refused("cert = \"c.pem\"").key, "key");
        assert_eq!(refused("key = \"k.pem\"").key, "cert");
        assert_eq!(refused("[argon2]\nt_cost = 0").table, "argon2");
        assert_eq!(refused("max_connections = 0").key, "max_connections");
        assert_eq!(refused("idle_timeout_ms = 0").key, "idle_timeout_ms");
        assert_eq!(refused("password_queue = 0").key, "password_queue");
        assert_eq!(refused("password_workers = 100000").key, "password_workers");
        assert_eq!(refused("[settings]\nlockout_ms = 0").key, "lockout_ms");
        assert_eq!(
            refused("[settings]\nlockout_ms = 86400001").key,
            "lockout_ms"
        );
        assert!(RelayConfig::from_toml("[argon2]\nmemory = 1").is_err());
        assert_eq!(
            refused("max_connections_per_source = 0").key,
            "max_connections_per_source"
        );
        assert_eq!(
            refused("max_connections = 10\nmax_connections_per_source = 11").key,
            "max_connections_per_source"
        );
        assert_eq!(refused("auth_timeout_ms = 10").key, "auth_timeout_ms");
        assert_eq!(
            refused("memory_budget_bytes = 1024").key,
            "memory_budget_bytes"
        );
        let bad_proxy = refused("trusted_proxies = [\"10.0.0.0/33\"]");
        assert_eq!(bad_proxy.key, "trusted_proxies");
        assert!(
            RelayConfig::from_toml("trusted_proxies = [\"10.0.0.0/8\", \"::1\"]")
                .unwrap()
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn file_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("relay.toml");
        std::fs::write(&file, "name = \"x\"\n\nlisten_port = 1\n").unwrap();
        let e = RelayConfig::load(&file).unwrap_err().to_string();
        assert!(
            e.contains("relay.toml, line 3, column 1: unknown field `listen_port`"),
            "{e}"
        );
        std::fs::write(&file, "[settings]\ncode_length = 30\n").unwrap();
        let e = RelayConfig::load(&file).unwrap_err().to_string();
        assert!(e.contains("relay.toml: [settings] code_length = 30"), "{e}");
        let e = RelayConfig::load(&dir.path().join("missing.toml")).unwrap_err();
        assert!(e.to_string().contains("missing.toml"), "{e}");
    }
}
