//! Administration requests and responses: accounts, lockouts, settings,
//! audit, live sessions.
//!
//! Only connections logged in with the admin role may send these; the relay
//! answers a non-admin with [`RequestError::NotAuthorized`].

use crate::common::{ConnectionMode, EndReason, Role};
use crate::error::DecodeError;
use crate::limits::{MAX_LIST, MAX_NAME, MAX_NOTE, MAX_SECRET, MAX_URL};
use crate::pb::{self, admin_request, admin_response};
use crate::wire::{self, check_count, check_str, required, Wire};

use super::{modes_from_wire, modes_to_wire, RequestError, RequestResult, Secret};

/// An admin request; answered by an [`AdminResponse`] with the same `request_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRequest {
    /// Chosen by the admin, echoed in the response.
    pub request_id: u64,
    /// What to do.
    pub command: AdminCommand,
}

/// What an admin asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminCommand {
    /// Create an operator or admin.
    CreateAccount {
        /// Login name.
        username: String,
        /// Display name.
        display_name: String,
        /// Initial password (the user must change it at first login).
        password: Secret<String>,
        /// Operator or admin.
        role: Role,
    },
    /// Enable or disable an account.
    SetAccountEnabled {
        /// The account.
        username: String,
        /// Enabled?
        enabled: bool,
    },
    /// Change user name and/or display name (empty = unchanged).
    RenameAccount {
        /// The account.
        username: String,
        /// New login name, or empty.
        new_username: String,
        /// New display name, or empty.
        new_display_name: String,
    },
    /// Set a new password; the user must change it at next login.
    ResetPassword {
        /// The account.
        username: String,
        /// New password.
        new_password: Secret<String>,
    },
    /// Which connection modes an operator may use.
    SetAllowedModes {
        /// The account.
        username: String,
        /// Allowed modes.
        modes: Vec<ConnectionMode>,
    },
    /// Grant or withdraw full file transfer control.
    SetFullFileControl {
        /// The account.
        username: String,
        /// Granted?
        enabled: bool,
    },
    /// Lift a lockout now.
    UnblockAccount {
        /// The account.
        username: String,
    },
    /// List accounts.
    ListAccounts,
    /// Query the audit history.
    QueryAudit(AuditQuery),
    /// Read the relay settings.
    GetSettings,
    /// Change relay settings (only fields that are `Some`).
    UpdateSettings(RelaySettings),
    /// Enable TOTP with a base32 secret, or disable it with an empty one.
    SetTotp {
        /// The account.
        username: String,
        /// Base32 secret, or empty to disable.
        secret_base32: Secret<String>,
    },
    /// End a running session.
    EndSession {
        /// The session.
        session_id: u64,
    },
    /// List the sessions the relay is running now (answered by
    /// [`AdminReply::Sessions`]), a page at a time in id order.
    ListSessions {
        /// Only sessions with an id above this (paging: the last id of the
        /// previous page); 0 = from the first.
        after_id: u64,
        /// Most sessions in the answer; 0 = the relay's default.
        limit: u32,
    },
}

/// Which audit rows to return.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditQuery {
    /// Inclusive start, ms since epoch; 0 = from the beginning.
    pub from_ms: u64,
    /// Exclusive end; 0 = until now.
    pub to_ms: u64,
    /// Only this operator's rows; empty = all.
    pub operator_username: String,
    /// Maximum rows; 0 = relay default.
    pub limit: u32,
    /// Only rows with an id above this (paging).
    pub after_id: u64,
}

/// Relay settings admins can change at run time. `None` = not set / unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RelaySettings {
    /// Failed logins before a block.
    pub max_failed_logins: Option<u32>,
    /// How long a block lasts, ms.
    pub lockout_ms: Option<u64>,
    /// Digits in a session code.
    pub code_length: Option<u32>,
    /// Session code lifetime, ms.
    pub code_ttl_ms: Option<u64>,
    /// Licence: concurrent sessions.
    pub max_concurrent_sessions: Option<u32>,
    /// Licence: session duration, ms; 0 = unlimited.
    pub max_session_ms: Option<u64>,
    /// Warn this long before the session limit, ms.
    pub time_warning_ms: Option<u64>,
    /// Join link template; `{code}` is replaced by the code.
    pub join_url_template: Option<String>,
    /// Customers may print to the operator's printer (control/manage modes only).
    pub remote_printing: Option<bool>,
    /// How long a session waits for a party whose connection dropped, ms.
    pub resume_grace_ms: Option<u64>,
    /// Sessions with a party that cannot encrypt end to end (protocol 1)
    /// are allowed, unencrypted; when false they are refused.
    pub allow_plaintext_sessions: Option<bool>,
}

/// What the relay answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminResponse {
    /// From the request.
    pub request_id: u64,
    /// The answer.
    pub reply: AdminReply,
}

/// The body of an admin response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminReply {
    /// Outcome of a command without data.
    Result(RequestResult),
    /// Accounts.
    Accounts(Vec<AccountSummary>),
    /// Audit rows.
    Audit(AuditPage),
    /// Current settings (every field set).
    Settings(RelaySettings),
    /// Live sessions.
    Sessions(LiveSessionPage),
}

/// A page of live sessions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveSessionPage {
    /// Sessions in id order.
    pub sessions: Vec<LiveSession>,
    /// More sessions exist after the last one.
    pub truncated: bool,
}

/// Where one party of a live session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartyLink {
    /// Connected; the relay forwards its frames.
    Connected,
    /// Its connection dropped; the session waits for it to resume.
    Suspended {
        /// When the session ends unless the party is back (ms since epoch).
        until_ms: u64,
    },
}

impl PartyLink {
    fn to_wire(self) -> u64 {
        match self {
            PartyLink::Connected => 0,
            PartyLink::Suspended { until_ms } => until_ms.max(1),
        }
    }

    fn from_wire(until_ms: u64) -> Self {
        match until_ms {
            0 => PartyLink::Connected,
            until_ms => PartyLink::Suspended { until_ms },
        }
    }
}

/// One session the relay is running, as the relay sees it.
///
/// The connection mode in use is not here: operator and customer agree on
/// it inside the end-to-end encrypted session, which the relay cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// The session (for [`AdminCommand::EndSession`]).
    pub session_id: u64,
    /// The operator's login name.
    pub operator_username: String,
    /// The name the customer typed.
    pub customer_name: String,
    /// What else the customer told (company, ticket, problem).
    pub customer_description: String,
    /// When it started, ms since epoch.
    pub started_ms: u64,
    /// The modes the operator may use in it.
    pub allowed_modes: Vec<ConnectionMode>,
    /// Encrypted end to end (false only for a protocol-1 party the relay allowed).
    pub end_to_end: bool,
    /// Where the operator is.
    pub operator: PartyLink,
    /// Where the customer is.
    pub customer: PartyLink,
    /// When the licence ends it (ms since epoch), if the relay limits time.
    pub time_limit_ms: Option<u64>,
}

impl Wire for LiveSession {
    type Pb = pb::LiveSession;

    fn to_pb(&self) -> pb::LiveSession {
        pb::LiveSession {
            session_id: self.session_id,
            operator_username: self.operator_username.clone(),
            customer_name: self.customer_name.clone(),
            customer_description: self.customer_description.clone(),
            started_ms: self.started_ms,
            allowed_modes: modes_to_wire(&self.allowed_modes),
            end_to_end: self.end_to_end,
            operator_suspended_until_ms: self.operator.to_wire(),
            customer_suspended_until_ms: self.customer.to_wire(),
            time_limit_ms: self.time_limit_ms.unwrap_or(0),
        }
    }

    fn from_pb(pb: pb::LiveSession) -> Result<Self, DecodeError> {
        check_str(
            "live_session.customer_description",
            &pb.customer_description,
            MAX_NOTE,
        )?;
        Ok(LiveSession {
            session_id: pb.session_id,
            operator_username: name("live_session.operator_username", pb.operator_username)?,
            customer_name: name("live_session.customer_name", pb.customer_name)?,
            customer_description: pb.customer_description,
            started_ms: pb.started_ms,
            allowed_modes: modes_from_wire("live_session.allowed_modes", pb.allowed_modes)?,
            end_to_end: pb.end_to_end,
            operator: PartyLink::from_wire(pb.operator_suspended_until_ms),
            customer: PartyLink::from_wire(pb.customer_suspended_until_ms),
            time_limit_ms: (pb.time_limit_ms != 0).then_some(pb.time_limit_ms),
        })
    }
}

/// One account, without secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Operator or admin.
    pub role: Role,
    /// Not disabled.
    pub enabled: bool,
    /// Locked out (after wrong passwords) from at least one address until
    /// this time, ms since epoch; 0 = not locked out. Lockouts are per
    /// address: the owner logging in from elsewhere is not affected.
    /// [`AdminCommand::UnblockAccount`] lifts them all.
    pub blocked_until_ms: u64,
    /// Allowed connection modes.
    pub allowed_modes: Vec<ConnectionMode>,
    /// Full file transfer control.
    pub full_file_control: bool,
    /// Has a TOTP second factor.
    pub totp_enabled: bool,
    /// ID customers address.
    pub operator_id: String,
}

/// Audit rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditPage {
    /// Rows in id order.
    pub records: Vec<AuditRecord>,
    /// More rows exist after the last one.
    pub truncated: bool,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditRecord {
    /// Increasing id (0 before it is stored).
    pub id: u64,
    /// When, ms since epoch.
    pub at_ms: u64,
    /// Event kind, e.g. `login_ok`, `login_failed`, `blocked`, `code_issued`.
    pub kind: String,
    /// The operator concerned, if any.
    pub operator_username: String,
    /// Source address of the connection.
    pub source: String,
    /// Session id, 0 if none.
    pub session_id: u64,
    /// Customer description (name / description).
    pub customer: String,
    /// Connection modes.
    pub modes: Vec<ConnectionMode>,
    /// Session start, ms since epoch.
    pub started_ms: u64,
    /// Session end, ms since epoch.
    pub ended_ms: u64,
    /// Bytes the relay forwarded to the operator.
    pub bytes_to_operator: u64,
    /// Bytes the relay forwarded to the customer.
    pub bytes_to_customer: u64,
    /// Why the session ended.
    pub end_reason: Option<EndReason>,
    /// Free detail (never secrets).
    pub detail: String,
}

fn name(field: &'static str, s: String) -> Result<String, DecodeError> {
    check_str(field, &s, MAX_NAME)?;
    Ok(s)
}

impl Wire for RelaySettings {
    type Pb = pb::RelaySettings;

    fn to_pb(&self) -> pb::RelaySettings {
        pb::RelaySettings {
            max_failed_logins: self.max_failed_logins,
            lockout_ms: self.lockout_ms,
            code_length: self.code_length,
            code_ttl_ms: self.code_ttl_ms,
            max_concurrent_sessions: self.max_concurrent_sessions,
            max_session_ms: self.max_session_ms,
            time_warning_ms: self.time_warning_ms,
            join_url_template: self.join_url_template.clone(),
            remote_printing: self.remote_printing,
            resume_grace_ms: self.resume_grace_ms,
            allow_plaintext_sessions: self.allow_plaintext_sessions,
        }
    }

    fn from_pb(pb: pb::RelaySettings) -> Result<Self, DecodeError> {
        if let Some(t) = &pb.join_url_template {
            check_str("settings.join_url_template", t, MAX_URL)?;
        }
        Ok(RelaySettings {
            max_failed_logins: pb.max_failed_logins,
            lockout_ms: pb.lockout_ms,
            code_length: pb.code_length,
            code_ttl_ms: pb.code_ttl_ms,
            max_concurrent_sessions: pb.max_concurrent_sessions,
            max_session_ms: pb.max_session_ms,
            time_warning_ms: pb.time_warning_ms,
            join_url_template: pb.join_url_template,
            remote_printing: pb.remote_printing,
            resume_grace_ms: pb.resume_grace_ms,
            allow_plaintext_sessions: pb.allow_plaintext_sessions,
        })
    }
}

impl Wire for AccountSummary {
    type Pb = pb::AccountSummary;

    fn to_pb(&self) -> pb::AccountSummary {
        pb::AccountSummary {
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role.to_wire(),
            enabled: self.enabled,
            blocked_until_ms: self.blocked_until_ms,
            allowed_modes: modes_to_wire(&self.allowed_modes),
            full_file_control: self.full_file_control,
            totp_enabled: self.totp_enabled,
            operator_id: self.operator_id.clone(),
        }
    }

    fn from_pb(pb: pb::AccountSummary) -> Result<Self, DecodeError> {
        Ok(AccountSummary {
            username: name("account.username", pb.username)?,
            display_name: name("account.display_name", pb.display_name)?,
            role: Role::from_wire("account.role", pb.role)?,
            enabled: pb.enabled,
            blocked_until_ms: pb.blocked_until_ms,
            allowed_modes: modes_from_wire("account.allowed_modes", pb.allowed_modes)?,
            full_file_control: pb.full_file_control,
            totp_enabled: pb.totp_enabled,
            operator_id: name("account.operator_id", pb.operator_id)?,
        })
    }
}

impl Wire for AuditRecord {
    type Pb = pb::AuditRecord;

    fn to_pb(&self) -> pb::AuditRecord {
        pb::AuditRecord {
            id: self.id,
            at_ms: self.at_ms,
            kind: self.kind.clone(),
            operator_username: self.operator_username.clone(),
            source: self.source.clone(),
            session_id: self.session_id,
            customer: self.customer.clone(),
            modes: modes_to_wire(&self.modes),
            started_ms: self.started_ms,
            ended_ms: self.ended_ms,
            bytes_to_operator: self.bytes_to_operator,
            bytes_to_customer: self.bytes_to_customer,
            end_reason: self.end_reason.map_or(0, EndReason::to_wire),
            detail: self.detail.clone(),
        }
    }

    fn from_pb(pb: pb::AuditRecord) -> Result<Self, DecodeError> {
        check_str("audit.customer", &pb.customer, MAX_NOTE)?;
        check_str("audit.detail", &pb.detail, MAX_NOTE)?;
        Ok(AuditRecord {
            id: pb.id,
            at_ms: pb.at_ms,
            kind: name("audit.kind", pb.kind)?,
            operator_username: name("audit.operator_username", pb.operator_username)?,
            source: name("audit.source", pb.source)?,
            session_id: pb.session_id,
            customer: pb.customer,
            modes: modes_from_wire("audit.modes", pb.modes)?,
            started_ms: pb.started_ms,
            ended_ms: pb.ended_ms,
            bytes_to_operator: pb.bytes_to_operator,
            bytes_to_customer: pb.bytes_to_customer,
            end_reason: EndReason::from_wire_opt("audit.end_reason", pb.end_reason)?,
            detail: pb.detail,
        })
    }
}

impl Wire for AdminRequest {
    type Pb = pb::AdminRequest;

    fn to_pb(&self) -> pb::AdminRequest {
        use admin_request::Body as B;
        let body = match &self.command {
            AdminCommand::CreateAccount {
                username,
                display_name,
                password,
                role,
            } => B::CreateAccount(pb::CreateAccount {
                username: username.clone(),
                display_name: display_name.clone(),
                password: password.expose().clone(),
                role: role.to_wire(),
            }),
            AdminCommand::SetAccountEnabled { username, enabled } => {
                B::SetAccountEnabled(pb::SetAccountEnabled {
                    username: username.clone(),
                    enabled: *enabled,
                })
            }
            AdminCommand::RenameAccount {
                username,
                new_username,
                new_display_name,
            } => B::RenameAccount(pb::RenameAccount {
                username: username.clone(),
                new_username: new_username.clone(),
                new_display_name: new_display_name.clone(),
            }),
            AdminCommand::ResetPassword {
                username,
                new_password,
            } => B::ResetPassword(pb::ResetPassword {
                username: username.clone(),
                new_password: new_password.expose().clone(),
            }),
            AdminCommand::SetAllowedModes { username, modes } => {
                B::SetAllowedModes(pb::SetAllowedModes {
                    username: username.clone(),
                    modes: modes_to_wire(modes),
                })
            }
            AdminCommand::SetFullFileControl { username, enabled } => {
                B::SetFullFileControl(pb::SetFullFileControl {
                    username: username.clone(),
                    enabled: *enabled,
                })
            }
            AdminCommand::UnblockAccount { username } => B::UnblockAccount(pb::UnblockAccount {
                username: username.clone(),
            }),
            AdminCommand::ListAccounts => B::ListAccounts(pb::ListAccounts {}),
            AdminCommand::QueryAudit(q) => B::QueryAudit(pb::QueryAudit {
                from_ms: q.from_ms,
                to_ms: q.to_ms,
                operator_username: q.operator_username.clone(),
                limit: q.limit,
                after_id: q.after_id,
            }),
            AdminCommand::GetSettings => B::GetSettings(pb::GetSettings {}),
            AdminCommand::UpdateSettings(s) => B::UpdateSettings(pb::UpdateSettings {
                settings: Some(s.to_pb()),
            }),
            AdminCommand::SetTotp {
                username,
                secret_base32,
            } => B::SetTotp(pb::SetTotp {
                username: username.clone(),
                secret_base32: secret_base32.expose().clone(),
            }),
            AdminCommand::EndSession { session_id } => B::EndSession(pb::EndSession {
                session_id: *session_id,
            }),
            AdminCommand::ListSessions { after_id, limit } => B::ListSessions(pb::ListSessions {
                after_id: *after_id,
                limit: *limit,
            }),
        };
        pb::AdminRequest {
            request_id: self.request_id,
            body: Some(body),
        }
    }

    fn from_pb(pb: pb::AdminRequest) -> Result<Self, DecodeError> {
        use admin_request::Body as B;
        let command = match required("admin_request.body", pb.body)? {
            B::CreateAccount(c) => {
                check_str("create_account.password", &c.password, MAX_SECRET)?;
                AdminCommand::CreateAccount {
                    username: name("create_account.username", c.username)?,
                    display_name: name("create_account.display_name", c.display_name)?,
                    password: Secret::new(c.password),
                    role: Role::from_wire("create_account.role", c.role)?,
                }
            }
            B::SetAccountEnabled(s) => AdminCommand::SetAccountEnabled {
                username: name("set_account_enabled.username", s.username)?,
                enabled: s.enabled,
            },
            B::RenameAccount(r) => AdminCommand::RenameAccount {
                username: name("rename_account.username", r.username)?,
                new_username: name("rename_account.new_username", r.new_username)?,
                new_display_name: name("rename_account.new_display_name", r.new_display_name)?,
            },
            B::ResetPassword(r) => {
                check_str("reset_password.new_password", &r.new_password, MAX_SECRET)?;
                AdminCommand::ResetPassword {
                    username: name("reset_password.username", r.username)?,
                    new_password: Secret::new(r.new_password),
                }
            }
            B::SetAllowedModes(s) => AdminCommand::SetAllowedModes {
                username: name("set_allowed_modes.username", s.username)?,
                modes: modes_from_wire("set_allowed_modes.modes", s.modes)?,
            },
            B::SetFullFileControl(s) => AdminCommand::SetFullFileControl {
                username: name("set_full_file_control.username", s.username)?,
                enabled: s.enabled,
            },
            B::UnblockAccount(u) => AdminCommand::UnblockAccount {
                username: name("unblock_account.username", u.username)?,
            },
            B::ListAccounts(_) => AdminCommand::ListAccounts,
            B::QueryAudit(q) => AdminCommand::QueryAudit(AuditQuery {
                from_ms: q.from_ms,
                to_ms: q.to_ms,
                operator_username: name("query_audit.operator_username", q.operator_username)?,
                limit: q.limit,
                after_id: q.after_id,
            }),
            B::GetSettings(_) => AdminCommand::GetSettings,
            B::UpdateSettings(u) => AdminCommand::UpdateSettings(RelaySettings::from_pb(
                required("update_settings.settings", u.settings)?,
            )?),
            B::SetTotp(s) => {
                check_str("set_totp.secret_base32", &s.secret_base32, MAX_SECRET)?;
                AdminCommand::SetTotp {
                    username: name("set_totp.username", s.username)?,
                    secret_base32: Secret::new(s.secret_base32),
                }
            }
            B::EndSession(e) => AdminCommand::EndSession {
                session_id: e.session_id,
            },
            B::ListSessions(l) => AdminCommand::ListSessions {
                after_id: l.after_id,
                limit: l.limit,
            },
        };
        Ok(AdminRequest {
            request_id: pb.request_id,
            command,
        })
    }
}

impl Wire for AdminResponse {
    type Pb = pb::AdminResponse;

    fn to_pb(&self) -> pb::AdminResponse {
        use admin_response::Body as B;
        let body = match &self.reply {
            AdminReply::Result(r) => B::Result(r.to_pb()),
            AdminReply::Accounts(a) => B::Accounts(pb::AccountList {
                accounts: a.iter().map(Wire::to_pb).collect(),
            }),
            AdminReply::Audit(p) => B::Audit(pb::AuditPage {
                records: p.records.iter().map(Wire::to_pb).collect(),
                truncated: p.truncated,
            }),
            AdminReply::Settings(s) => B::Settings(s.to_pb()),
            AdminReply::Sessions(p) => B::Sessions(pb::LiveSessionPage {
                sessions: p.sessions.iter().map(Wire::to_pb).collect(),
                truncated: p.truncated,
            }),
        };
        pb::AdminResponse {
            request_id: self.request_id,
            body: Some(body),
        }
    }

    fn from_pb(pb: pb::AdminResponse) -> Result<Self, DecodeError> {
        use admin_response::Body as B;
        let reply = match required("admin_response.body", pb.body)? {
            B::Result(r) => AdminReply::Result(RequestResult::from_pb(r)?),
            B::Accounts(a) => {
                check_count("account_list.accounts", &a.accounts, MAX_LIST)?;
                AdminReply::Accounts(wire::from_pb_vec(a.accounts)?)
            }
            B::Audit(p) => {
                check_count("audit_page.records", &p.records, MAX_LIST)?;
                AdminReply::Audit(AuditPage {
                    records: wire::from_pb_vec(p.records)?,
                    truncated: p.truncated,
                })
            }
            B::Settings(s) => AdminReply::Settings(RelaySettings::from_pb(s)?),
            B::Sessions(p) => {
                check_count("live_session_page.sessions", &p.sessions, MAX_LIST)?;
                AdminReply::Sessions(LiveSessionPage {
                    sessions: wire::from_pb_vec(p.sessions)?,
                    truncated: p.truncated,
                })
            }
        };
        Ok(AdminResponse {
            request_id: pb.request_id,
            reply,
        })
    }
}

impl AdminResponse {
    /// A plain failure answer to `request_id`.
    pub fn error(request_id: u64, error: RequestError, detail: impl Into<String>) -> Self {
        AdminResponse {
            request_id,
            reply: AdminReply::Result(RequestResult::err(error, detail)),
        }
    }
}
