//! Login with per-source lockouts and TOTP, and changing one's own password.
//!
//! The broker never hashes: a login or password change becomes a
//! [`PasswordJob`] for the driver's worker pool, and the answer goes out
//! when the outcome comes back ([`Broker::handle_password_checked`]).
//! Failures count per (account, source) in [`Lockouts`]; unknown user
//! names take the same path, the same work (a dummy hash at the configured
//! cost) and get the same answers as real ones.

use rsupport_proto::relay::{
    Login, LoginResult, LoginStatus, RelayMessage, RequestError, RequestResult, Secret,
};
use rsupport_proto::{CloseReason, EndReason};

use super::admin::AdminHash;
use super::broker::{Broker, ConnId, Output, Phase, Principal};
use crate::auth::{check_policy, totp, Account, PolicyError};
use crate::hashing::{JobPriority, PasswordJob, PasswordOutcome};
use crate::limits::refusals::Subject;
use crate::lockout::{Gate, Policy, KNOWN_SOURCE_MS};
use crate::Source;

/// How long a busy relay asks a login to wait, ms.
const BUSY_RETRY_MS: u64 = 3_000;
/// One password change per connection per this long, ms.
const CHANGE_PASSWORD_INTERVAL_MS: u64 = 1_000;

/// A password check waiting for its outcome.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) conn: ConnId,
    /// The user name as typed, cut to a valid length (the lockout key).
    user: String,
    source: Source,
    known: bool,
    /// The stored hash the job verifies against (`None`: unknown user).
    hash: Option<Secret<String>>,
    work: Work,
}

#[derive(Debug)]
enum Work {
    Login {
        totp: Secret<String>,
    },
    ChangePassword,
    /// Hash only (no verification): an admin's new password for an account.
    Admin {
        request_id: u64,
        admin: String,
        change: AdminHash,
    },
}

/// `name` cut to the longest valid user name (64 bytes, at a character boundary).
pub(crate) fn cut_username(name: &str) -> &str {
    let mut end = name.len().min(64);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.get(..end).unwrap_or("")
}

impl Broker {
    /// Audits a login refused before any password work: the first of a
    /// kind from `source` at once (with the user name tried), the rest
    /// summarised once a minute ([`crate::limits::refusals`]).
    fn audit_login_refusal(
        &mut self,
        now_ms: u64,
        kind: &'static str,
        conn: ConnId,
        source: Source,
        username: &str,
    ) {
        let username = username.to_owned();
        self.audit_refusal(now_ms, kind, conn, Some(Subject::Source(source)), |r| {
            r.operator_username = username;
        });
    }

    fn login_reply(&mut self, conn: ConnId, result: LoginResult) {
        self.send(conn, RelayMessage::LoginResult(result));
    }

    fn rate_limited(&mut self, conn: ConnId, retry_at_ms: u64) {
        let mut r = LoginResult::failed(LoginStatus::RateLimited);
        r.blocked_until_ms = retry_at_ms;
        self.login_reply(conn, r);
    }

    fn save(&mut self, account: &Account) {
        if let Err(e) = self.store.update_account(&account.username, account) {
            tracing::error!(error = %e, "cannot update account");
        }
    }

    pub(crate) fn lockout_policy(&self) -> Policy {
        Policy {
            max_failures: self.settings.max_failed_logins,
            lockout_ms: self.settings.lockout_ms,
            per_source: self.config.login_failures_per_source,
        }
    }

    fn has_pending(&self, conn: ConnId) -> bool {
        self.pending.values().any(|p| p.conn == conn)
    }

    fn is_known_source(&self, username: &str, source: Source, now_ms: u64) -> bool {
        self.store
            .is_known_source(
                username,
                &source.to_string(),
                now_ms.saturating_sub(KNOWN_SOURCE_MS),
            )
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot read known sources");
                false
            })
    }

    /// Has `password` hashed on the worker pool for an admin command; the
    /// command finishes in `finish_admin_hash`.
    pub(crate) fn start_admin_hash(
        &mut self,
        conn: ConnId,
        request_id: u64,
        admin: String,
        change: AdminHash,
        password: &str,
    ) {
        let source = self
            .conns
            .get(&conn)
            .map_or(Source::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| {
                Source::of(c.info.source)
            });
        let pending = Pending {
            conn,
            user: String::new(),
            source,
            known: true,
            hash: None,
            work: Work::Admin {
                request_id,
                admin,
                change,
            },
        };
        self.start_job(pending, "", Some(password));
    }

    /// Hands a password check to the driver's worker pool.
    fn start_job(&mut self, pending: Pending, password: &str, new: Option<&str>) {
        let id = self.next_job;
        self.next_job += 1;
        let mut salt = [0u8; 16];
        self.rng.fill_bytes(&mut salt);
        let job = PasswordJob {
            id,
            priority: if pending.known {
                JobPriority::Known
            } else {
                JobPriority::Unknown
            },
            password: Secret::new(password.to_owned()),
            hash: pending
                .hash
                .clone()
                .unwrap_or_else(|| Secret::new(self.hasher.dummy_hash().to_owned())),
            new_password: new.map(|n| Secret::new(n.to_owned())),
            hash_only: matches!(pending.work, Work::Admin { .. }),
            rehash_outdated: pending.hash.is_some(),
            params: self.hasher.params(),
            salt,
        };
        self.pending.insert(id, pending);
        self.push(Output::CheckPassword(job));
    }

    pub(crate) fn handle_login(&mut self, conn: ConnId, login: Login, now_ms: u64) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if !matches!(c.phase, Phase::Anonymous) {
            self.login_reply(conn, LoginResult::failed(LoginStatus::NotAllowed));
            return;
        }
        let source = Source::of(c.info.source);
        let client_cert = c.info.client_cert;
        let user = cut_username(&login.username).to_owned();
        if self.has_pending(conn) {
            self.audit_login_refusal(now_ms, "login_refused_slowed", conn, source, &user);
            self.rate_limited(conn, now_ms.saturating_add(1000));
            return;
        }
        if self.config.require_client_cert_for_operators && !client_cert {
            self.audit_login_refusal(now_ms, "login_refused_no_certificate", conn, source, &user);
            self.login_reply(conn, LoginResult::failed(LoginStatus::NotAllowed));
            return;
        }
        let account = if crate::valid_username(&login.username) {
            match self.store.find_account(&login.username) {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read account");
                    self.login_reply(conn, LoginResult::failed(LoginStatus::NotAllowed));
                    return;
                }
            }
        } else {
            None
        };
        if let Some(a) = &account {
            self.lockouts.sync_epoch(&a.username, a.lockout_epoch);
        }
        let known = account.is_some() && self.is_known_source(&user, source, now_ms);
        let policy = self.lockout_policy();
        if let Gate::Wait { retry_at_ms, why } =
            self.lockouts.admit(&user, source, known, policy, now_ms)
        {
            self.audit_login_refusal(now_ms, why.audit_kind(), conn, source, &user);
            self.rate_limited(conn, retry_at_ms);
            return;
        }
        let pending = Pending {
            conn,
            user,
            source,
            known,
            hash: account.map(|a| a.password_hash),
            work: Work::Login { totp: login.totp },
        };
        self.start_job(pending, login.password.expose(), None);
    }

    /// The outcome of a [`PasswordJob`] from
    /// [`Output::CheckPassword`](crate::Output::CheckPassword): finishes the
    /// login or password change it belongs to. Unknown job ids are ignored.
    pub fn handle_password_checked(&mut self, job: u64, outcome: PasswordOutcome, now_ms: u64) {
        let Some(p) = self.pending.remove(&job) else {
            return;
        };
        if let Work::Admin {
            request_id,
            admin,
            change,
        } = p.work
        {
            let hash = match outcome {
                PasswordOutcome::Checked { new_hash, .. } => new_hash.map(Secret::into_inner),
                _ => None,
            };
            return self.finish_admin_hash(p.conn, request_id, &admin, change, hash, now_ms);
        }
        let (matched, new_hash) = match outcome {
            PasswordOutcome::Checked { matched, new_hash } => (matched, new_hash),
            _ => {
                self.lockouts.release(&p.user, p.source);
                self.audit_login_refusal(now_ms, "login_refused_busy", p.conn, p.source, &p.user);
                let retry_at = now_ms.saturating_add(BUSY_RETRY_MS);
                match p.work {
                    Work::Login { .. } => self.rate_limited(p.conn, retry_at),
                    Work::ChangePassword | Work::Admin { .. } => self.reply(
                        p.conn,
                        RequestResult::err(
                            RequestError::LimitReached,
                            "the relay is busy; try again in a few seconds",
                        ),
                    ),
                }
                return;
            }
        };
        // The account as it is now; a password changed while hashing makes
        // the verdict stale, so it counts as wrong.
        let account = match &p.hash {
            Some(_) => self.store.find_account(&p.user).ok().flatten(),
            None => None,
        }
        .filter(|a| {
            matched && Some(a.password_hash.expose()) == p.hash.as_ref().map(|h| h.expose())
        });
        match p.work {
            Work::Login { ref totp } => {
                let totp = totp.clone();
                self.finish_login(&p, account, totp.expose(), new_hash, now_ms)
            }
            Work::ChangePassword => self.finish_change_password(&p, account, new_hash, now_ms),
            Work::Admin { .. } => {} // finished above
        }
    }

    /// Counts a failed password or TOTP of `p`'s (account, source) and
    /// audits it. Returns whether the source is now locked out.
    fn count_failure(&mut self, p: &Pending, what: &str, now_ms: u64) -> bool {
        let policy = self.lockout_policy();
        let (failures, locked) = self
            .lockouts
            .failed(&p.user, p.source, p.known, policy, now_ms);
        let user = p.user.clone();
        self.audit(now_ms, "login_failed", &user, p.conn, |r| {
            r.detail = format!("{what}; failure {failures} from this source")
        });
        if locked {
            let until = now_ms.saturating_add(policy.lockout_ms);
            self.audit(now_ms, "source_locked_out", &user, p.conn, |r| {
                r.detail = format!(
                    "source {} refused for this account until_ms={until}",
                    p.source
                )
            });
        }
        locked
    }

    fn finish_login(
        &mut self,
        p: &Pending,
        account: Option<Account>,
        typed_totp: &str,
        new_hash: Option<Secret<String>>,
        now_ms: u64,
    ) {
        let Some(mut account) = account else {
            let what = if p.hash.is_some() {
                "bad password"
            } else {
                "unknown user"
            };
            let _ = self.count_failure(p, what, now_ms);
            self.login_reply(p.conn, LoginResult::failed(LoginStatus::BadCredentials));
            return;
        };
        if !account.enabled {
            self.lockouts.release(&p.user, p.source);
            self.audit(now_ms, "login_failed", &account.username, p.conn, |r| {
                r.detail = "disabled".into()
            });
            self.login_reply(p.conn, LoginResult::failed(LoginStatus::Disabled));
            return;
        }
        if let Some(secret) = account.totp_secret.clone() {
            // Only now, with the password right, is TOTP mentioned; a
            // missing code counts like a wrong one, so the right password
            // alone cannot be confirmed more often than the lockout allows.
            if typed_totp.is_empty() {
                let _ = self.count_failure(p, "no totp", now_ms);
                self.login_reply(p.conn, LoginResult::failed(LoginStatus::TotpRequired));
                return;
            }
            match totp::verify(secret.expose(), typed_totp, now_ms, account.totp_last_step) {
                Some(step) => account.totp_last_step = step,
                None => {
                    let _ = self.count_failure(p, "bad totp", now_ms);
                    self.login_reply(p.conn, LoginResult::failed(LoginStatus::BadTotp));
                    return;
                }
            }
        }
        self.lockouts.succeeded(&p.user, p.source);
        if let Some(h) = new_hash {
            account.password_hash = h;
        }
        self.save(&account);
        if let Err(e) = self
            .store
            .remember_source(&account.username, &p.source.to_string(), now_ms)
        {
            tracing::error!(error = %e, "cannot remember a login source");
        }
        let still_waiting = self
            .conns
            .get(&p.conn)
            .is_some_and(|c| matches!(c.phase, Phase::Anonymous));
        if !still_waiting {
            return; // hung up (or closed) while the password was checked
        }
        self.audit(now_ms, "login_ok", &account.username, p.conn, |_| {});
        let principal = Principal {
            username: account.username.clone(),
            role: account.role,
            display_name: account.display_name.clone(),
            must_change_password: account.must_change_password,
        };
        if let Some(c) = self.conns.get_mut(&p.conn) {
            c.phase = Phase::LoggedIn(principal);
        }
        self.online
            .entry(account.username.clone())
            .or_default()
            .push(p.conn);
        self.login_reply(
            p.conn,
            LoginResult {
                status: LoginStatus::Ok,
                blocked_until_ms: 0,
                role: Some(account.role),
                operator_id: account.operator_id,
                display_name: account.display_name,
                allowed_modes: account.allowed_modes,
                full_file_control: account.full_file_control,
                must_change_password: account.must_change_password,
            },
        );
    }

    pub(crate) fn handle_change_password(
        &mut self,
        conn: ConnId,
        old: &str,
        new: &str,
        now_ms: u64,
    ) {
        let Some((username, display_name)) = self
            .principal(conn)
            .map(|p| (p.username.clone(), p.display_name.clone()))
        else {
            return;
        };
        let pending = self.has_pending(conn);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let source = Source::of(c.info.source);
        // One change per connection per interval, whatever its outcome, so
        // a logged-in user cannot keep the workers busy.
        if c.password_change_not_before_ms > now_ms || pending {
            self.reply(
                conn,
                RequestResult::err(
                    RequestError::LimitReached,
                    "a password change is already being checked; wait a second and try again",
                ),
            );
            return;
        }
        c.password_change_not_before_ms = now_ms.saturating_add(CHANGE_PASSWORD_INTERVAL_MS);
        if old == new {
            self.reply(
                conn,
                RequestResult::err(
                    RequestError::WeakPassword,
                    PolicyError::SameAsOld.to_string(),
                ),
            );
            return;
        }
        if let Err(e) = check_policy(new, &[&username, &display_name]) {
            self.reply(
                conn,
                RequestResult::err(RequestError::WeakPassword, e.to_string()),
            );
            return;
        }
        let Ok(Some(account)) = self.store.find_account(&username) else {
            self.reply(
                conn,
                RequestResult::err(RequestError::Internal, "account unavailable"),
            );
            return;
        };
        self.lockouts.sync_epoch(&username, account.lockout_epoch);
        let policy = self.lockout_policy();
        // A logged-in user is a known source for the queue, but its wrong
        // old passwords count like failed logins from this source.
        if let Gate::Wait { retry_at_ms, why } =
            self.lockouts.admit(&username, source, true, policy, now_ms)
        {
            self.audit_login_refusal(now_ms, why.audit_kind(), conn, source, &username);
            let secs = retry_at_ms.saturating_sub(now_ms).div_ceil(1000);
            self.reply(
                conn,
                RequestResult::err(
                    RequestError::LimitReached,
                    format!("too many wrong passwords; try again in {secs} s"),
                ),
            );
            return;
        }
        let pending = Pending {
            conn,
            user: username,
            source,
            known: true,
            hash: Some(account.password_hash),
            work: Work::ChangePassword,
        };
        self.start_job(pending, old, Some(new));
    }

    fn finish_change_password(
        &mut self,
        p: &Pending,
        account: Option<Account>,
        new_hash: Option<Secret<String>>,
        now_ms: u64,
    ) {
        let (Some(mut account), Some(new_hash)) = (account, new_hash) else {
            if self.count_failure(p, "bad password on change", now_ms) {
                self.close(p.conn, CloseReason::RateLimited, "too many wrong passwords");
            } else {
                self.reply(
                    p.conn,
                    RequestResult::err(RequestError::BadCredentials, "wrong password"),
                );
            }
            return;
        };
        // A password is changed only for the user still logged in on the
        // connection that asked (not after it hung up, or was cut off); a
        // wrong old password above counts either way.
        let asker = self.principal(p.conn).map(|pr| pr.username.clone());
        if asker.as_deref() != Some(p.user.as_str()) {
            self.lockouts.release(&p.user, p.source);
            return;
        }
        self.lockouts.succeeded(&p.user, p.source);
        account.password_hash = new_hash;
        account.must_change_password = false;
        account.credential_version = account.credential_version.saturating_add(1);
        self.save(&account);
        if let Some(super::broker::Conn {
            phase: Phase::LoggedIn(pr),
            ..
        }) = self.conns.get_mut(&p.conn)
        {
            pr.must_change_password = false;
        }
        self.audit(
            now_ms,
            "password_changed",
            &account.username,
            p.conn,
            |_| {},
        );
        // Whoever else holds the old password is cut off: other consoles are
        // closed and sessions not run from this connection end.
        self.cut_off(&account.username, Some(p.conn), "password changed", now_ms);
        self.reply(p.conn, RequestResult::ok());
    }

    /// Ends `username`'s sessions and closes its logged-in connections,
    /// except `keep` and the sessions attached to it.
    pub(crate) fn cut_off(
        &mut self,
        username: &str,
        keep: Option<ConnId>,
        detail: &str,
        now_ms: u64,
    ) {
        let sessions: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                s.operator_username == username && keep.is_none_or(|k| !s.operator_link.is(k))
            })
            .map(|(&id, _)| id)
            .collect();
        for id in sessions {
            self.end_session(id, EndReason::AdminEnded, now_ms);
        }
        // The sessions kept (run from `keep`) go on under the new credentials.
        let version = self
            .store
            .find_account(username)
            .ok()
            .flatten()
            .map(|a| a.credential_version);
        let kept: Vec<u64> = match (keep, version) {
            (Some(k), Some(v)) => self
                .sessions
                .iter_mut()
                .filter(|(_, s)| s.operator_username == username && s.operator_link.is(k))
                .map(|(&id, s)| {
                    s.operator_credential_version = v;
                    id
                })
                .collect(),
            _ => Vec::new(),
        };
        for id in kept {
            self.persist_session(id);
        }
        for conn in self.online.get(username).cloned().unwrap_or_default() {
            if Some(conn) != keep {
                self.close(conn, CloseReason::Unauthorized, detail);
            }
        }
    }
}
