//! Admin commands (accounts, lockouts, settings, audit, live sessions) and
//! the one-time bootstrap of the first admin.

use rand::RngCore;
use rsupport_proto::relay::admin::{
    AdminCommand, AdminReply, AdminRequest, AdminResponse, AuditPage, AuditQuery, LiveSessionPage,
};
use rsupport_proto::relay::{RelayMessage, RequestError, RequestResult, Secret};
use rsupport_proto::{ConnectionMode, EndReason, Role};

use super::broker::{Broker, ConnId};
use crate::auth::{check_policy, totp, Account, Argon2Params, PasswordHasher};
use crate::store::{Store, StoreError};

/// Largest relay frame body we let an audit page grow to (the frame cap is 64 KiB).
const MAX_AUDIT_PAGE_BYTES: usize = 56 * 1024;
/// Most rows per audit page, whatever the admin asks.
const MAX_AUDIT_PAGE_ROWS: u32 = 1000;
/// Live sessions per page when the admin does not say.
const LIVE_PAGE_DEFAULT: u32 = 200;
/// Most live sessions per page, whatever the admin asks.
const LIVE_PAGE_MAX: u32 = 1000;

/// Why the first admin could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// An admin exists already: bootstrap is closed for good.
    #[error("an admin account already exists; bootstrap is closed")]
    AdminExists,
    /// The password does not meet the policy.
    #[error("weak password: {0}")]
    WeakPassword(#[from] crate::auth::PolicyError),
    /// The user name is not acceptable.
    #[error("invalid user name")]
    InvalidUsername,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// User names: 1–64 characters of letters, digits and `._-@`.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// What an admin chooses for a new account.
#[derive(Debug, Clone, Copy)]
pub struct AccountSpec<'a> {
    /// Login name.
    pub username: &'a str,
    /// Display name (empty = the login name).
    pub display_name: &'a str,
    /// Initial password (already checked against the policy by the caller).
    pub password: &'a str,
    /// Operator or admin.
    pub role: Role,
}

/// A new account with a fresh operator ID, all connection modes, and a
/// password the user must change at first login.
pub fn new_account(
    store: &dyn Store,
    spec: AccountSpec<'_>,
    hasher: &PasswordHasher,
    rng: &mut dyn RngCore,
    now_ms: u64,
) -> Result<Account, StoreError> {
    let hash = hasher.hash(spec.password, rng);
    account_with_hash(store, spec, hash, rng, now_ms)
}

/// [`new_account`] with the password hashed already (`spec.password` is
/// not looked at): the broker has it hashed on the worker pool.
pub(crate) fn account_with_hash(
    store: &dyn Store,
    spec: AccountSpec<'_>,
    password_hash: String,
    rng: &mut dyn RngCore,
    now_ms: u64,
) -> Result<Account, StoreError> {
    let mut operator_id = String::new();
    for _ in 0..32 {
        operator_id = format!("{:09}", rng.next_u64() % 1_000_000_000);
        if store.find_account_by_operator_id(&operator_id)?.is_none() {
            break;
        }
    }
    let AccountSpec {
        username,
        display_name,
        role,
        ..
    } = spec;
    Ok(Account {
        username: username.to_owned(),
        display_name: if display_name.is_empty() {
            username
        } else {
            display_name
        }
        .to_owned(),
        role,
        operator_id,
        password_hash: Secret::new(password_hash),
        enabled: true,
        credential_version: 0,
        lockout_epoch: 0,
        allowed_modes: ConnectionMode::ALL.to_vec(),
        full_file_control: false,
        totp_secret: None,
        totp_last_step: 0,
        must_change_password: true,
        created_ms: now_ms,
    })
}

/// Creates the first admin. Refused once any admin exists, so there is no
/// setup path left open after it. The bootstrap password need not be changed.
pub fn bootstrap_admin(
    store: &mut dyn Store,
    username: &str,
    password: &str,
    params: Argon2Params,
    rng: &mut dyn RngCore,
    now_ms: u64,
) -> Result<Account, BootstrapError> {
    if store.list_accounts()?.iter().any(|a| a.role == Role::Admin) {
        return Err(BootstrapError::AdminExists);
    }
    if !valid_username(username) {
        return Err(BootstrapError::InvalidUsername);
    }
    check_policy(password, &[username])?;
    let hasher = PasswordHasher::new(params, rng);
    let spec = AccountSpec {
        username,
        display_name: username,
        password,
        role: Role::Admin,
    };
    let mut account = new_account(&*store, spec, &hasher, rng, now_ms)?;
    account.must_change_password = false;
    store.insert_account(&account)?;
    store.append_audit(&rsupport_proto::relay::admin::AuditRecord {
        at_ms: now_ms,
        kind: "admin_bootstrapped".into(),
        operator_username: username.to_owned(),
        source: "local".into(),
        ..Default::default()
    })?;
    Ok(account)
}

fn store_error(e: &StoreError) -> RequestResult {
    match e {
        StoreError::AlreadyExists => RequestResult::err(RequestError::AlreadyExists, "name taken"),
        StoreError::NotFound => RequestResult::err(RequestError::NotFound, "no such account"),
        _ => RequestResult::err(RequestError::Internal, "store error"),
    }
}

/// An admin command waiting for its new password to be hashed on the
/// worker pool (the broker never hashes).
#[derive(Debug)]
pub(crate) enum AdminHash {
    /// `CreateAccount`.
    Create {
        username: String,
        display_name: String,
        role: Role,
    },
    /// `ResetPassword`.
    Reset { username: String },
}

impl Broker {
    /// Finishes `CreateAccount` or `ResetPassword` with the hashed password
    /// (`None`: the pool was busy).
    pub(crate) fn finish_admin_hash(
        &mut self,
        conn: ConnId,
        request_id: u64,
        admin: &str,
        change: AdminHash,
        hash: Option<String>,
        now_ms: u64,
    ) {
        let Some(hash) = hash else {
            let busy = RequestResult::err(
                RequestError::LimitReached,
                "the relay is busy; try again in a few seconds",
            );
            return self.admin_reply(conn, request_id, AdminReply::Result(busy));
        };
        let result = match change {
            AdminHash::Create {
                username,
                display_name,
                role,
            } => {
                let spec = AccountSpec {
                    username: &username,
                    display_name: &display_name,
                    password: "",
                    role,
                };
                let made = account_with_hash(&*self.store, spec, hash, &mut *self.rng, now_ms)
                    .and_then(|a| self.store.insert_account(&a));
                match made {
                    Ok(()) => {
                        self.audit(now_ms, "account_created", &username, conn, |r| {
                            r.detail = format!("role={}; by {admin}", crate::auth::role_name(role))
                        });
                        RequestResult::ok()
                    }
                    Err(e) => store_error(&e),
                }
            }
            AdminHash::Reset { username } => {
                let r = self.update_account(
                    conn,
                    admin,
                    &username,
                    "password_reset",
                    now_ms,
                    |a, _| {
                        a.password_hash = Secret::new(hash);
                        a.must_change_password = true;
                        a.credential_version = a.credential_version.saturating_add(1);
                        Ok(String::new())
                    },
                );
                if r.is_ok() {
                    // Whoever used the old password is cut off, the admin too
                    // when resetting their own (except this connection).
                    let keep = (username == admin).then_some(conn);
                    self.cut_off(&username, keep, "password reset by an admin", now_ms);
                }
                r
            }
        };
        self.admin_reply(conn, request_id, AdminReply::Result(result));
    }

    fn admin_reply(&mut self, conn: ConnId, request_id: u64, reply: AdminReply) {
        self.send(
            conn,
            RelayMessage::AdminResponse(AdminResponse { request_id, reply }),
        );
    }

    /// Loads `username`, applies `change`, stores it, audits `kind`.
    fn update_account(
        &mut self,
        conn: ConnId,
        admin: &str,
        username: &str,
        kind: &str,
        now_ms: u64,
        change: impl FnOnce(&mut Account, &mut Self) -> Result<String, RequestResult>,
    ) -> RequestResult {
        let mut account = match self.store.find_account(username) {
            Ok(Some(a)) => a,
            Ok(None) => return RequestResult::err(RequestError::NotFound, "no such account"),
            Err(e) => return store_error(&e),
        };
        let detail = match change(&mut account, self) {
            Ok(d) => d,
            Err(r) => return r,
        };
        if let Err(e) = self.store.update_account(username, &account) {
            return store_error(&e);
        }
        self.audit(now_ms, kind, username, conn, |r| {
            r.detail = if detail.is_empty() {
                format!("by {admin}")
            } else {
                format!("{detail}; by {admin}")
            }
        });
        RequestResult::ok()
    }

    /// Closes every connection logged in as `username`.
    fn kick(&mut self, username: &str, detail: &str) {
        for conn in self.online.get(username).cloned().unwrap_or_default() {
            self.close(conn, rsupport_proto::CloseReason::Unauthorized, detail);
        }
    }

    pub(crate) fn handle_admin(&mut self, conn: ConnId, req: AdminRequest, now_ms: u64) {
        let Some(admin) = self.principal(conn).map(|p| p.username.clone()) else {
            return;
        };
        let id = req.request_id;
        let result = match req.command {
            AdminCommand::CreateAccount {
                username,
                display_name,
                password,
                role,
            } => {
                if !valid_username(&username) || role == Role::Customer {
                    RequestResult::err(RequestError::InvalidArgument, "bad user name or role")
                } else if let Err(e) = check_policy(password.expose(), &[&username, &display_name])
                {
                    RequestResult::err(RequestError::WeakPassword, e.to_string())
                } else {
                    let change = AdminHash::Create {
                        username,
                        display_name,
                        role,
                    };
                    self.start_admin_hash(conn, id, admin, change, password.expose());
                    return;
                }
            }
            AdminCommand::SetAccountEnabled { username, enabled } => {
                if username == admin && !enabled {
                    RequestResult::err(RequestError::InvalidArgument, "cannot disable yourself")
                } else {
                    let r = self.update_account(
                        conn,
                        &admin,
                        &username,
                        if enabled {
                            "account_enabled"
                        } else {
                            "account_disabled"
                        },
                        now_ms,
                        |a, _| {
                            a.enabled = enabled;
                            Ok(String::new())
                        },
                    );
                    if r.is_ok() && !enabled {
                        self.cut_off(&username, None, "account disabled", now_ms);
                    }
                    r
                }
            }
            AdminCommand::RenameAccount {
                username,
                new_username,
                new_display_name,
            } => {
                if !new_username.is_empty() && !valid_username(&new_username) {
                    RequestResult::err(RequestError::InvalidArgument, "bad user name")
                } else {
                    let r = self.update_account(
                        conn,
                        &admin,
                        &username,
                        "account_renamed",
                        now_ms,
                        |a, _| {
                            if !new_username.is_empty() {
                                a.username = new_username.clone();
                            }
                            if !new_display_name.is_empty() {
                                a.display_name = new_display_name.clone();
                            }
                            Ok(format!("new name {}", a.username))
                        },
                    );
                    if r.is_ok() && !new_username.is_empty() && new_username != username {
                        // Sessions keep running; the renamed user logs in again under the new name.
                        self.kick(&username, "account renamed");
                    }
                    r
                }
            }
            AdminCommand::ResetPassword {
                username,
                new_password,
            } => {
                if let Err(e) = check_policy(new_password.expose(), &[&username]) {
                    RequestResult::err(RequestError::WeakPassword, e.to_string())
                } else {
                    let change = AdminHash::Reset { username };
                    self.start_admin_hash(conn, id, admin, change, new_password.expose());
                    return;
                }
            }
            AdminCommand::SetAllowedModes { username, modes } => {
                self.update_account(conn, &admin, &username, "modes_changed", now_ms, |a, _| {
                    let mut m = modes.clone();
                    m.dedup();
                    a.allowed_modes = m;
                    Ok(a.allowed_modes
                        .iter()
                        .map(|m| crate::auth::mode_name(*m))
                        .collect::<Vec<_>>()
                        .join(","))
                })
            }
            AdminCommand::SetFullFileControl { username, enabled } => self.update_account(
                conn,
                &admin,
                &username,
                "file_control_changed",
                now_ms,
                |a, _| {
                    a.full_file_control = enabled;
                    Ok(format!("full_file_control={enabled}"))
                },
            ),
            AdminCommand::UnblockAccount { username } => {
                match self.store.bump_lockout_epoch(&username) {
                    Ok(epoch) => {
                        self.lockouts.clear(&username);
                        self.lockouts.sync_epoch(&username, epoch);
                        self.audit(now_ms, "unblocked", &username, conn, |r| {
                            r.detail = format!("every source's lockout lifted; by {admin}")
                        });
                        RequestResult::ok()
                    }
                    Err(e) => store_error(&e),
                }
            }
            AdminCommand::SetTotp {
                username,
                secret_base32,
            } => {
                let secret = secret_base32.expose();
                let decoded = if secret.is_empty() {
                    Some(Vec::new())
                } else {
                    totp::decode_base32(secret)
                };
                match decoded {
                    Some(bytes) if bytes.is_empty() || bytes.len() >= 10 => {
                        let r = self.update_account(
                            conn,
                            &admin,
                            &username,
                            "totp_changed",
                            now_ms,
                            |a, _| {
                                a.totp_secret = (!bytes.is_empty()).then(|| Secret::new(bytes));
                                a.totp_last_step = 0;
                                a.credential_version = a.credential_version.saturating_add(1);
                                Ok(format!("enabled={}", a.totp_secret.is_some()))
                            },
                        );
                        if r.is_ok() {
                            let keep = (username == admin).then_some(conn);
                            self.cut_off(
                                &username,
                                keep,
                                "second factor changed by an admin",
                                now_ms,
                            );
                        }
                        r
                    }
                    _ => RequestResult::err(
                        RequestError::InvalidArgument,
                        "secret must be base32, at least 80 bits",
                    ),
                }
            }
            AdminCommand::EndSession { session_id } => {
                if self.sessions.contains_key(&session_id) {
                    self.end_session(session_id, EndReason::AdminEnded, now_ms);
                    RequestResult::ok()
                } else {
                    RequestResult::err(RequestError::NotFound, "no such session")
                }
            }
            AdminCommand::UpdateSettings(changes) => {
                let mut next = self.settings.clone();
                next.apply(&changes);
                match self.config.check_settings(&next) {
                    Err(why) => RequestResult::err(RequestError::InvalidArgument, why.to_string()),
                    Ok(()) => match self.store.save_settings(&changes) {
                        Ok(()) => {
                            self.settings = next;
                            self.audit(now_ms, "settings_changed", &admin, conn, |r| {
                                r.detail = format!("{changes:?}")
                            });
                            RequestResult::ok()
                        }
                        Err(e) => store_error(&e),
                    },
                }
            }
            AdminCommand::ListAccounts => {
                let reply = match self.store.list_accounts() {
                    Ok(list) => {
                        let locked = self.lockouts.locked_accounts(now_ms);
                        let summaries = list.iter().map(|a| {
                            let mut s = a.summary();
                            s.blocked_until_ms =
                                locked.get(a.username.as_str()).copied().unwrap_or(0);
                            s
                        });
                        AdminReply::Accounts(summaries.collect())
                    }
                    Err(e) => AdminReply::Result(store_error(&e)),
                };
                return self.admin_reply(conn, id, reply);
            }
            AdminCommand::GetSettings => {
                let s = self.settings.to_wire();
                return self.admin_reply(conn, id, AdminReply::Settings(s));
            }
            AdminCommand::QueryAudit(q) => {
                let reply = self.audit_page(&q);
                return self.admin_reply(conn, id, reply);
            }
            AdminCommand::ListSessions { after_id, limit } => {
                let reply = self.live_sessions(after_id, limit);
                return self.admin_reply(conn, id, reply);
            }
            _ => RequestResult::err(RequestError::InvalidArgument, "unknown command"),
        };
        self.admin_reply(conn, id, AdminReply::Result(result));
    }

    fn audit_page(&self, q: &AuditQuery) -> AdminReply {
        let rows = match q.limit {
            0 => self.config.audit_page_rows,
            n => n,
        }
        .min(MAX_AUDIT_PAGE_ROWS);
        // One extra row tells whether the page is truncated.
        match self.store.query_audit(q, rows as usize + 1) {
            Err(e) => AdminReply::Result(store_error(&e)),
            Ok(mut records) => {
                let mut truncated = records.len() > rows as usize;
                records.truncate(rows as usize);
                shrink_to_frame(&mut records, &mut truncated, |records, truncated| {
                    AdminReply::Audit(AuditPage { records, truncated })
                });
                AdminReply::Audit(AuditPage { records, truncated })
            }
        }
    }

    /// The sessions running now with an id above `after_id`, in id order,
    /// from the broker's own table (not the history): suspended ones too.
    fn live_sessions(&self, after_id: u64, limit: u32) -> AdminReply {
        let limit = match limit {
            0 => LIVE_PAGE_DEFAULT,
            n => n,
        }
        .min(LIVE_PAGE_MAX) as usize;
        let mut ids: Vec<u64> = self
            .sessions
            .keys()
            .copied()
            .filter(|id| *id > after_id)
            .collect();
        ids.sort_unstable();
        let mut truncated = ids.len() > limit;
        ids.truncate(limit);
        let mut sessions: Vec<_> = ids
            .iter()
            .filter_map(|id| self.sessions.get(id).map(|s| s.live(*id)))
            .collect();
        shrink_to_frame(&mut sessions, &mut truncated, |sessions, truncated| {
            AdminReply::Sessions(LiveSessionPage {
                sessions,
                truncated,
            })
        });
        AdminReply::Sessions(LiveSessionPage {
            sessions,
            truncated,
        })
    }
}

/// Halves `items` until the reply `page` makes of them fits in one relay
/// frame; marks the page truncated when anything was left out.
fn shrink_to_frame<T: Clone>(
    items: &mut Vec<T>,
    truncated: &mut bool,
    page: impl Fn(Vec<T>, bool) -> AdminReply,
) {
    while !items.is_empty() {
        let size = RelayMessage::AdminResponse(AdminResponse {
            request_id: 0,
            reply: page(items.clone(), *truncated),
        })
        .encode()
        .len();
        if size <= MAX_AUDIT_PAGE_BYTES {
            return;
        }
        let keep = items.len() / 2;
        items.truncate(keep);
        *truncated = true;
    }
}
