//! Web login sessions: each holds an in-process connection to the relay,
//! logged in as the user, so the relay's own rules (login limits,
//! lockouts, TOTP, roles, audit) apply to every API call.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use rsupport_net::RelayConnection;
use rsupport_proto::relay::{
    AdminCommand, AdminReply, AdminRequest, Login, LoginResult, LoginStatus, RelayMessage,
    RequestResult, Secret,
};
use rsupport_proto::Role;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::io::DuplexStream;

use crate::server::Dialer;

/// A web session ends after this long without a request.
pub(crate) const IDLE: Duration = Duration::from_secs(30 * 60);
/// Web sessions one account may hold; a new login ends the oldest.
pub(crate) const PER_ACCOUNT: usize = 5;
/// Web sessions relay-wide; beyond, logins are refused.
pub(crate) const TOTAL: usize = 1000;
/// How long one exchange with the relay may take (a login waits for argon2).
const EXCHANGE: Duration = Duration::from_secs(30);

/// The relay stopped answering on a session's connection.
#[derive(Debug)]
pub(crate) struct LinkDown;

/// The in-process connection of one web session.
pub(crate) struct AdminLink {
    conn: tokio::sync::Mutex<RelayConnection<DuplexStream>>,
    next_id: AtomicU64,
}

impl AdminLink {
    /// Sends `message` and returns the first answer `pick` takes (others,
    /// such as presence updates, are skipped).
    async fn exchange<T>(
        &self,
        message: RelayMessage,
        mut pick: impl FnMut(RelayMessage) -> Option<T>,
    ) -> Result<T, LinkDown> {
        let mut conn = self.conn.lock().await;
        tokio::time::timeout(EXCHANGE, async {
            conn.send(&message).await.map_err(|_| LinkDown)?;
            loop {
                let answer = conn.recv_relay().await.map_err(|_| LinkDown)?;
                if let Some(t) = pick(answer) {
                    return Ok(t);
                }
            }
        })
        .await
        .map_err(|_| LinkDown)?
    }

    /// One admin command and the relay's reply.
    pub(crate) async fn admin(&self, command: AdminCommand) -> Result<AdminReply, LinkDown> {
        let request_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request = RelayMessage::AdminRequest(AdminRequest {
            request_id,
            command,
        });
        self.exchange(request, |m| match m {
            RelayMessage::AdminResponse(r) if r.request_id == request_id => Some(Ok(r.reply)),
            RelayMessage::RequestResult(r) => Some(Err(r)),
            _ => None,
        })
        .await?
        .or_else(|r| Ok(AdminReply::Result(r)))
    }

    /// Changes the user's own password.
    pub(crate) async fn change_password(
        &self,
        old: String,
        new: String,
    ) -> Result<RequestResult, LinkDown> {
        let message = RelayMessage::ChangePassword {
            old_password: Secret::new(old),
            new_password: Secret::new(new),
        };
        self.exchange(message, |m| match m {
            RelayMessage::RequestResult(r) => Some(r),
            _ => None,
        })
        .await
    }

    /// Keeps the connection alive.
    async fn ping(&self) -> Result<(), LinkDown> {
        let nonce = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.exchange(RelayMessage::Ping { nonce }, |m| match m {
            RelayMessage::Pong { nonce: n } if n == nonce => Some(()),
            _ => None,
        })
        .await
    }
}

/// Logs in on a new in-process connection from `addr`. The link is
/// returned only when the relay let the user in.
pub(crate) async fn login(
    dialer: &Dialer,
    addr: SocketAddr,
    username: String,
    password: String,
    totp: String,
) -> Result<(LoginResult, Option<AdminLink>), LinkDown> {
    let mut conn = RelayConnection::new(dialer.open(addr));
    tokio::time::timeout(EXCHANGE, conn.hello(Role::Admin, "rsupport-web-api"))
        .await
        .map_err(|_| LinkDown)?
        .map_err(|_| LinkDown)?;
    let link = AdminLink {
        conn: tokio::sync::Mutex::new(conn),
        next_id: AtomicU64::new(1),
    };
    let message = RelayMessage::Login(Login {
        username,
        password: Secret::new(password),
        totp: Secret::new(totp),
    });
    let result = link
        .exchange(message, |m| match m {
            RelayMessage::LoginResult(r) => Some(r),
            _ => None,
        })
        .await?;
    let link = (result.status == LoginStatus::Ok).then_some(link);
    Ok((result, link))
}

/// One logged-in browser: what its cookie names, and the times that decide
/// when it ends.
struct WebSession {
    view: SessionView,
    created: Instant,
    last_used: Instant,
}

/// Web sessions by the SHA-256 of their cookie token (the token itself is
/// never kept).
#[derive(Default)]
pub(crate) struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], WebSession>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// 256 random bits as 64 hex digits.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a request's session cookie names.
#[derive(Clone)]
pub(crate) struct SessionView {
    /// Login name.
    pub(crate) username: String,
    /// Display name.
    pub(crate) display_name: String,
    /// Operator or admin.
    pub(crate) role: Role,
    /// Until the user chose a new password, nothing else is allowed.
    pub(crate) must_change_password: bool,
    /// Sent back in `X-CSRF-Token` on every state-changing request.
    pub(crate) csrf: String,
    /// The connection to the relay.
    pub(crate) link: Arc<AdminLink>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], WebSession>> {
        self.by_hash.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a new session; returns its cookie token, or `None` when the
    /// relay holds [`TOTAL`] sessions already.
    pub(crate) fn insert(
        &self,
        result: &LoginResult,
        username: &str,
        link: AdminLink,
    ) -> Option<(String, String)> {
        let mut map = self.lock();
        let mine: Vec<([u8; 32], Instant)> = map
            .iter()
            .filter(|(_, s)| s.view.username == username)
            .map(|(k, s)| (*k, s.created))
            .collect();
        if mine.len() >= PER_ACCOUNT {
            if let Some((oldest, _)) = mine.iter().min_by_key(|(_, t)| *t) {
                map.remove(oldest);
            }
        }
        if map.len() >= TOTAL {
            return None;
        }
        let token = random_token();
        let csrf = random_token();
        let now = Instant::now();
        map.insert(
            digest(&token),
            WebSession {
                view: SessionView {
                    username: username.to_owned(),
                    display_name: result.display_name.clone(),
                    role: result.role.unwrap_or(Role::Operator),
                    must_change_password: result.must_change_password,
                    csrf: csrf.clone(),
                    link: Arc::new(link),
                },
                created: now,
                last_used: now,
            },
        );
        Some((token, csrf))
    }

    /// The session `token` names, if it is live; marks it used.
    pub(crate) fn get(&self, token: &str) -> Option<SessionView> {
        let hash = digest(token);
        let mut map = self.lock();
        let session = map.get_mut(&hash)?;
        // The map found it by digest; compare the digests in constant time too.
        if !bool::from(digest(token).ct_eq(&hash)) {
            return None;
        }
        if session.last_used.elapsed() > IDLE {
            map.remove(&hash);
            return None;
        }
        session.last_used = Instant::now();
        Some(session.view.clone())
    }

    /// The password was changed: the session may do more now.
    pub(crate) fn password_changed(&self, token: &str) {
        if let Some(s) = self.lock().get_mut(&digest(token)) {
            s.view.must_change_password = false;
        }
    }

    /// Ends the session `token` names (its connection closes with it).
    pub(crate) fn remove(&self, token: &str) {
        self.lock().remove(&digest(token));
    }

    /// Ends idle sessions and pings the others; those whose connection is
    /// gone are ended too.
    pub(crate) async fn sweep(&self) {
        let live: Vec<([u8; 32], Arc<AdminLink>)> = {
            let mut map = self.lock();
            map.retain(|_, s| s.last_used.elapsed() <= IDLE);
            map.iter().map(|(k, s)| (*k, s.view.link.clone())).collect()
        };
        for (hash, link) in live {
            if link.ping().await.is_err() {
                self.lock().remove(&hash);
            }
        }
    }
}
