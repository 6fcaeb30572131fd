//! Errors of the endpoint API.

use rsupport_proto::relay::{JoinRefusal, LoginStatus};

/// Something that went wrong talking to the relay or running a session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// TLS set-up failed (bad CA file or fingerprint).
    #[error("tls: {0}")]
    Tls(String),
    /// The connection to the relay failed or closed.
    #[error("relay connection: {0}")]
    Connection(String),
    /// The login was refused.
    #[error("login refused: {status:?}")]
    Login {
        /// Why.
        status: LoginStatus,
        /// When blocked: until when (ms since epoch).
        blocked_until_ms: u64,
    },
    /// The relay refused a request.
    #[error("request refused: {0}")]
    Refused(String),
    /// Joining with a code or contacting an operator failed.
    #[error("join refused: {reason:?}")]
    JoinRefused {
        /// Why (deliberately coarse).
        reason: JoinRefusal,
        /// When rate limited: earliest retry (ms since epoch).
        retry_after_ms: u64,
    },
    /// The session is over; the command could not be carried out.
    #[error("the session has ended")]
    SessionEnded,
    /// The state machine refused a command (e.g. input without control).
    #[error("not allowed now: {0}")]
    NotAllowed(String),
}

impl From<rsupport_net::LinkError> for EndpointError {
    fn from(e: rsupport_net::LinkError) -> Self {
        EndpointError::Connection(e.to_string())
    }
}
