//! Login with lockout and TOTP, and changing one's own password.

use rsupport_proto::relay::{
    Login, LoginResult, LoginStatus, RelayMessage, RequestError, RequestResult, Secret,
};

use super::broker::{Broker, ConnId, Phase, Principal};
use crate::auth::{check_policy, totp, Account};

impl Broker {
    fn login_reply(&mut self, conn: ConnId, result: LoginResult) {
        self.send(conn, RelayMessage::LoginResult(result));
    }

    fn save(&mut self, account: &Account) {
        if let Err(e) = self.store.update_account(&account.username, account) {
            tracing::error!(error = %e, "cannot update account");
        }
    }

    /// Counts a failed login against the source's allowance.
    fn note_source_failure(&mut self, conn: ConnId, now_ms: u64) {
        let Some(source) = self.conns.get(&conn).map(|c| c.info.source) else {
            return;
        };
        if self.login_limiter.record_failure(source, now_ms) {
            self.audit(now_ms, "login_rate_limited", "", conn, |r| {
                r.detail = "failed-login allowance of this source or the relay spent".into()
            });
        }
    }

    /// Counts a failed password or TOTP; blocks the account at the limit.
    /// Returns the status to report.
    fn count_failure(
        &mut self,
        conn: ConnId,
        account: &mut Account,
        now_ms: u64,
        what: &str,
    ) -> LoginStatus {
        self.note_source_failure(conn, now_ms);
        account.failed_logins += 1;
        let failures = account.failed_logins;
        let username = account.username.clone();
        self.audit(now_ms, "login_failed", &username, conn, |r| {
            r.detail = format!("{what}; failure {failures}")
        });
        if account.failed_logins >= self.settings.max_failed_logins {
            account.failed_logins = 0;
            account.blocked_until_ms = now_ms.saturating_add(self.settings.lockout_ms);
            let until = account.blocked_until_ms;
            self.audit(now_ms, "blocked", &username, conn, |r| {
                r.detail = format!("until_ms={until}")
            });
            self.save(account);
            return LoginStatus::Blocked;
        }
        self.save(account);
        if what == "bad totp" {
            LoginStatus::BadTotp
        } else {
            LoginStatus::BadCredentials
        }
    }

    pub(crate) fn handle_login(&mut self, conn: ConnId, login: Login, now_ms: u64) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if !matches!(c.phase, Phase::Anonymous) {
            self.login_reply(conn, LoginResult::failed(LoginStatus::NotAllowed));
            return;
        }
        // Before any password work: a source that keeps failing is cut off,
        // so neither password spraying nor hashing floods get far.
        let source = c.info.source;
        if self.login_limiter.check(source, now_ms).is_err() {
            self.close(
                conn,
                rsupport_proto::CloseReason::RateLimited,
                "too many failed logins",
            );
            return;
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if self.config.require_client_cert_for_operators && !c.info.client_cert {
            self.audit(now_ms, "login_failed", &login.username, conn, |r| {
                r.detail = "no client certificate".into()
            });
            self.login_reply(conn, LoginResult::failed(LoginStatus::NotAllowed));
            return;
        }
        let account = match self.store.find_account(&login.username) {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "cannot read account");
                self.login_reply(conn, LoginResult::failed(LoginStatus::NotAllowed));
                return;
            }
        };
        let Some(mut account) = account else {
            // Same work as a real check, so timing does not reveal which names exist.
            self.hasher.verify_dummy(login.password.expose());
            self.note_source_failure(conn, now_ms);
            self.audit(now_ms, "login_failed", &login.username, conn, |r| {
                r.detail = "unknown user".into()
            });
            self.login_reply(conn, LoginResult::failed(LoginStatus::BadCredentials));
            return;
        };
        if account.is_blocked(now_ms) {
            self.audit(now_ms, "login_blocked", &account.username, conn, |_| {});
            let mut r = LoginResult::failed(LoginStatus::Blocked);
            r.blocked_until_ms = account.blocked_until_ms;
            self.login_reply(conn, r);
            return;
        }
        if account.blocked_until_ms != 0 {
            account.blocked_until_ms = 0;
            self.audit(now_ms, "unblocked", &account.username, conn, |r| {
                r.detail = "lockout expired".into()
            });
            self.save(&account);
        }
        if !self
            .hasher
            .verify(login.password.expose(), account.password_hash.expose())
        {
            let status = self.count_failure(conn, &mut account, now_ms, "bad password");
            let mut r = LoginResult::failed(status);
            r.blocked_until_ms = account.blocked_until_ms;
            self.login_reply(conn, r);
            return;
        }
        if !account.enabled {
            self.audit(now_ms, "login_failed", &account.username, conn, |r| {
                r.detail = "disabled".into()
            });
            self.login_reply(conn, LoginResult::failed(LoginStatus::Disabled));
            return;
        }
        if let Some(secret) = account.totp_secret.clone() {
            if login.totp.expose().is_empty() {
                self.login_reply(conn, LoginResult::failed(LoginStatus::TotpRequired));
                return;
            }
            match totp::verify(
                secret.expose(),
                login.totp.expose(),
                now_ms,
                account.totp_last_step,
            ) {
                Some(step) => account.totp_last_step = step,
                None => {
                    let status = self.count_failure(conn, &mut account, now_ms, "bad totp");
                    let mut r = LoginResult::failed(status);
                    r.blocked_until_ms = account.blocked_until_ms;
                    self.login_reply(conn, r);
                    return;
                }
            }
        }
        account.failed_logins = 0;
        self.save(&account);
        self.audit(now_ms, "login_ok", &account.username, conn, |_| {});
        let principal = Principal {
            username: account.username.clone(),
            role: account.role,
            display_name: account.display_name.clone(),
            must_change_password: account.must_change_password,
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.phase = Phase::LoggedIn(principal);
        }
        self.online
            .entry(account.username.clone())
            .or_default()
            .push(conn);
        self.login_reply(
            conn,
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
        let Some(username) = self.principal(conn).map(|p| p.username.clone()) else {
            return;
        };
        let Ok(Some(mut account)) = self.store.find_account(&username) else {
            self.reply(
                conn,
                RequestResult::err(RequestError::Internal, "account unavailable"),
            );
            return;
        };
        if !self.hasher.verify(old, account.password_hash.expose()) {
            let status = self.count_failure(conn, &mut account, now_ms, "bad password on change");
            if status == LoginStatus::Blocked {
                self.close(
                    conn,
                    rsupport_proto::CloseReason::RateLimited,
                    "account blocked",
                );
            } else {
                self.reply(
                    conn,
                    RequestResult::err(RequestError::BadCredentials, "wrong password"),
                );
            }
            return;
        }
        if let Err(e) = check_policy(new) {
            self.reply(
                conn,
                RequestResult::err(RequestError::WeakPassword, e.to_string()),
            );
            return;
        }
        account.password_hash = Secret::new(self.hasher.hash(new, &mut *self.rng));
        account.must_change_password = false;
        account.failed_logins = 0;
        self.save(&account);
        if let Some(super::broker::Conn {
            phase: Phase::LoggedIn(p),
            ..
        }) = self.conns.get_mut(&conn)
        {
            p.must_change_password = false;
        }
        self.audit(now_ms, "password_changed", &username, conn, |_| {});
        self.reply(conn, RequestResult::ok());
    }
}
