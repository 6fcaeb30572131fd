//! [`ClientError`]: one error type for the paved path, split by blame.
//!
//! | variant | whose fault | what to do |
//! |---|---|---|
//! | [`Unreachable`](ClientError::Unreachable), [`ConnectionLost`](ClientError::ConnectionLost) | the network or the relay's host | check the address, retry |
//! | [`FingerprintMismatch`](ClientError::FingerprintMismatch), [`Certificate`](ClientError::Certificate), [`TlsSetup`](ClientError::TlsSetup) | configuration | fix the pinned fingerprint or CA file |
//! | [`LoginRefused`](ClientError::LoginRefused), [`JoinRefused`](ClientError::JoinRefused), [`RequestRefused`](ClientError::RequestRefused) | the relay said no | show the reason; see the typed fields |
//! | [`NotAllowed`](ClientError::NotAllowed) | this program (API misuse or state) | see [`NotAllowed`] |
//! | [`SessionEnded`](ClientError::SessionEnded) | nobody: the session is over | stop using the handle |
//!
//! `Display` is written for the person in front of the screen: print it
//! (never `Debug`). The `is_*` queries group the variants for programs.

use std::error::Error as StdError;

use rsupport_proto::relay::{JoinRefusal, LoginStatus, RequestError};

/// A boxed error kept as [`source()`](std::error::Error::source).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Something that went wrong talking to the relay or running a session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The relay could not be reached: name lookup, TCP connect or the TLS
    /// handshake's transport failed. The underlying
    /// [`std::io::Error`] is the [`source()`](std::error::Error::source).
    #[error("cannot reach the relay at {addr}: {source}; check the address and port, the network, and that the relay is running")]
    Unreachable {
        /// The `host:port` dialled.
        addr: String,
        /// The cause (an I/O or link error).
        #[source]
        source: BoxError,
    },
    /// The connection to the relay broke or the connection task ended.
    /// Live sessions reconnect by themselves; a lobby needs a new
    /// [`Operator::connect`](crate::Operator::connect).
    #[error("the connection to the relay was lost{}; connect again", source.as_ref().map(|s| format!(" ({s})")).unwrap_or_default())]
    ConnectionLost {
        /// The cause, when known (a link error).
        #[source]
        source: Option<BoxError>,
    },
    /// The relay presented a certificate other than the pinned one.
    #[error("the relay at {addr} presented certificate {seen} but this program pins {expected}; ask your administrator for the relay's current fingerprint")]
    FingerprintMismatch {
        /// The `host:port` dialled.
        addr: String,
        /// The pinned SHA-256 fingerprint (hex with colons).
        expected: String,
        /// The fingerprint of the certificate the relay presented.
        seen: String,
    },
    /// The relay's certificate failed verification against the CA
    /// (expired, wrong name, unknown issuer …).
    #[error("the relay at {addr} presented a certificate this program does not trust: {detail}; check the CA file and the server name")]
    Certificate {
        /// The `host:port` dialled.
        addr: String,
        /// What rustls reported.
        detail: String,
    },
    /// The TLS settings themselves are unusable (malformed fingerprint,
    /// unreadable CA file).
    #[error("the relay's TLS settings are unusable: {detail}")]
    TlsSetup {
        /// What is wrong, naming the file or value.
        detail: String,
    },
    /// End-to-end encryption could not be set up on this machine (its
    /// random number generator failed).
    #[error("cannot set up end-to-end encryption: {detail}")]
    Encryption {
        /// What failed.
        detail: String,
    },
    /// The relay refused the login.
    #[error("{}", login_text(*status, *blocked_until_ms))]
    LoginRefused {
        /// Why.
        status: LoginStatus,
        /// When [`LoginStatus::Blocked`] or [`LoginStatus::RateLimited`]:
        /// when to try again, ms since the Unix epoch (the relay's clock).
        blocked_until_ms: Option<u64>,
    },
    /// The relay refused to join a code or to contact an operator.
    #[error("{}", join_text(*reason, *retry_at_ms))]
    JoinRefused {
        /// Why (deliberately coarse: a guesser learns nothing).
        reason: JoinRefusal,
        /// When [`JoinRefusal::RateLimited`]: earliest time to try again,
        /// ms since the Unix epoch.
        retry_at_ms: Option<u64>,
    },
    /// The relay refused a request (code, transfer, admin action …).
    #[error("the relay refused to {action}: {}", refusal_text(*reason, detail))]
    RequestRefused {
        /// What was asked, in words ("issue a session code").
        action: &'static str,
        /// The relay's machine-readable reason, when it gave one.
        reason: Option<RequestError>,
        /// The relay's text (never secrets).
        detail: String,
    },
    /// This program asked for something not possible now (see [`NotAllowed`]).
    #[error(transparent)]
    NotAllowed(#[from] NotAllowed),
    /// The session is over; the command could not be carried out.
    #[error("the session has ended")]
    SessionEnded,
}

/// Why a call was refused locally: API misuse or the session's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotAllowed {
    /// The text given as a session code is not one.
    #[error("that is not a session code: {problem}; type the digits the operator gave you (spaces and dashes are fine)")]
    InvalidCode {
        /// What is wrong with it (the code itself is never echoed).
        problem: String,
    },
    /// The call needs a logged-in operator.
    #[error("not logged in: log in first (after a reconnect, log in again)")]
    NotLoggedIn,
    /// The call needs an admin account.
    #[error("this account is not an admin; log in with an admin account")]
    NotAdmin,
    /// The session's state machine refused the command.
    #[error("not possible in the session's current state: {detail}")]
    SessionState {
        /// Why (for example "input not permitted in the current session state").
        detail: String,
    },
    /// No file offer or transfer with this id.
    #[error("no file transfer {transfer_id} in this session")]
    NoSuchTransfer {
        /// The id given.
        transfer_id: u64,
    },
    /// Offering files failed before anything was sent.
    #[error("cannot offer {path}: {detail}")]
    FileOffer {
        /// The path given.
        path: String,
        /// Why.
        detail: String,
    },
    /// Remote printing is not set up on this side, or the job is unknown.
    #[error("printing: {detail}")]
    Printing {
        /// Why.
        detail: String,
    },
}

impl ClientError {
    /// The relay could not be reached, or the connection to it was lost.
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            ClientError::Unreachable { .. } | ClientError::ConnectionLost { .. }
        )
    }

    /// A certificate or TLS configuration problem.
    pub fn is_tls(&self) -> bool {
        matches!(
            self,
            ClientError::FingerprintMismatch { .. }
                | ClientError::Certificate { .. }
                | ClientError::TlsSetup { .. }
        )
    }

    /// The relay refused: login, join or request.
    pub fn is_refused(&self) -> bool {
        matches!(
            self,
            ClientError::LoginRefused { .. }
                | ClientError::JoinRefused { .. }
                | ClientError::RequestRefused { .. }
        )
    }

    /// This program asked for something not possible now.
    pub fn is_not_allowed(&self) -> bool {
        matches!(self, ClientError::NotAllowed(_))
    }

    /// The session is over.
    pub fn is_session_ended(&self) -> bool {
        matches!(self, ClientError::SessionEnded)
    }

    /// When the relay said to try again (ms since the Unix epoch): the end
    /// of a login block or of a join rate limit.
    pub fn retry_at_ms(&self) -> Option<u64> {
        match self {
            ClientError::LoginRefused {
                blocked_until_ms, ..
            } => *blocked_until_ms,
            ClientError::JoinRefused { retry_at_ms, .. } => *retry_at_ms,
            _ => None,
        }
    }

    pub(crate) fn lost() -> Self {
        ClientError::ConnectionLost { source: None }
    }

    pub(crate) fn link(e: rsupport_net::LinkError) -> Self {
        ClientError::ConnectionLost {
            source: Some(Box::new(e)),
        }
    }

    pub(crate) fn refused(action: &'static str, r: rsupport_proto::relay::RequestResult) -> Self {
        ClientError::RequestRefused {
            action,
            reason: r.error,
            detail: r.detail,
        }
    }

    pub(crate) fn state(e: &dyn std::fmt::Display) -> Self {
        ClientError::NotAllowed(NotAllowed::SessionState {
            detail: e.to_string(),
        })
    }
}

fn login_text(status: LoginStatus, blocked_until_ms: Option<u64>) -> String {
    match status {
        LoginStatus::BadCredentials => {
            "login refused: wrong user name or password; repeated failures lock the account for a while".into()
        }
        LoginStatus::TotpRequired => {
            "login refused: this account needs the six-digit code from its authenticator app".into()
        }
        LoginStatus::BadTotp => {
            "login refused: the authenticator code is wrong or expired; wait for the next code".into()
        }
        LoginStatus::Blocked => match blocked_until_ms {
            Some(ms) => format!(
                "login refused: account locked until {} after too many failed attempts; an administrator can unblock it",
                utc(ms)
            ),
            None => "login refused: account locked after too many failed attempts; an administrator can unblock it".into(),
        },
        LoginStatus::Disabled => {
            "login refused: an administrator disabled this account; ask them to enable it".into()
        }
        LoginStatus::NotAllowed => {
            "login refused: this connection is already logged in or may not log in now".into()
        }
        LoginStatus::RateLimited => match blocked_until_ms {
            Some(ms) => format!(
                "login not checked: too many failed attempts from this network, or the relay is busy; try again after {}",
                utc(ms)
            ),
            None => "login not checked: too many failed attempts from this network, or the relay is busy; try again in a few minutes".into(),
        },
        _ => "login refused by the relay".into(),
    }
}

fn join_text(reason: JoinRefusal, retry_at_ms: Option<u64>) -> String {
    match reason {
        JoinRefusal::InvalidCode => {
            "the session code is not valid (wrong, already used, cancelled or expired); ask the operator for a new one".into()
        }
        JoinRefusal::RateLimited => match retry_at_ms {
            Some(ms) => format!(
                "too many wrong codes from this network; try again after {}",
                utc(ms)
            ),
            None => "too many wrong codes from this network; try again later".into(),
        },
        JoinRefusal::LicenceLimit => {
            "the relay's licence allows no more sessions right now; try again when one has ended".into()
        }
        JoinRefusal::OperatorOffline => {
            "the operator is not online right now; try again in a moment or call them".into()
        }
        JoinRefusal::Declined => "the operator declined the request".into(),
        JoinRefusal::NotEncrypted => {
            "one side's program cannot encrypt the session end to end and this relay does not allow sessions it could read; update the older program".into()
        }
        _ => "the relay refused to connect you".into(),
    }
}

fn refusal_text(reason: Option<RequestError>, detail: &str) -> String {
    let what = match reason {
        Some(RequestError::NotAuthorized) => "not permitted for this account",
        Some(RequestError::NotFound) => "not found",
        Some(RequestError::AlreadyExists) => "it already exists",
        Some(RequestError::WeakPassword) => "the password does not meet the policy",
        Some(RequestError::BadCredentials) => "the current password is wrong",
        Some(RequestError::InvalidArgument) => "a value is not acceptable",
        Some(RequestError::LimitReached) => "a limit was reached",
        Some(RequestError::Internal) => "the relay failed internally; see its log",
        Some(RequestError::ModeNotAllowed) => "the mode is not allowed for this operator",
        _ => "refused",
    };
    if detail.is_empty() {
        what.to_owned()
    } else {
        format!("{what} ({detail})")
    }
}

/// `2026-03-01 14:05 UTC` for ms since the Unix epoch.
pub(crate) fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_epoch_times() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        // 2026-12-01 14:05:30 UTC
        assert_eq!(utc(1_796_133_930_000), "2026-12-01 14:05 UTC");
    }

    #[test]
    fn texts_say_what_happened_and_what_to_do() {
        let e = ClientError::LoginRefused {
            status: LoginStatus::Blocked,
            blocked_until_ms: Some(1_796_133_930_000),
        };
        let t = e.to_string();
        assert!(t.contains("locked until 2026-12-01 14:05 UTC"), "{t}");
        assert!(t.contains("administrator can unblock"), "{t}");
        assert!(e.is_refused() && !e.is_connect());
        assert_eq!(e.retry_at_ms(), Some(1_796_133_930_000));
        let e = ClientError::LoginRefused {
            status: LoginStatus::RateLimited,
            blocked_until_ms: Some(1_796_133_930_000),
        };
        let t = e.to_string();
        assert!(t.contains("try again after 2026-12-01 14:05 UTC"), "{t}");

        let e = ClientError::FingerprintMismatch {
            addr: "relay.example.com:7443".into(),
            expected: "12:34".into(),
            seen: "AB:CD".into(),
        };
        let t = e.to_string();
        assert!(
            t.contains("relay.example.com:7443 presented certificate AB:CD"),
            "{t}"
        );
        assert!(t.contains("pins 12:34"), "{t}");
        assert!(e.is_tls());

        let e = ClientError::refused(
            "cancel the code",
            rsupport_proto::relay::RequestResult::err(RequestError::NotFound, "no such code"),
        );
        assert_eq!(
            e.to_string(),
            "the relay refused to cancel the code: not found (no such code)"
        );
        assert!(!format!("{e}").contains("Some("));
    }

    #[test]
    fn connection_errors_keep_their_source() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = ClientError::Unreachable {
            addr: "127.0.0.1:1".into(),
            source: Box::new(io),
        };
        let source = e.source().expect("a source");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        assert!(e
            .to_string()
            .starts_with("cannot reach the relay at 127.0.0.1:1"));
    }
}
