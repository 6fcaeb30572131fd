//! Relay control: what a party and the relay say to each other in
//! [`FrameKind::Relay`](crate::framing::FrameKind::Relay) frames.
//!
//! Every connection starts with [`Hello`] / [`HelloAck`]. Operators then log
//! in and ask for session codes; customers join with a code or contact an
//! operator by ID; the relay answers with [`Paired`] and from then on routes
//! `Session` frames between the two. Administrators use [`AdminRequest`]
//! (see [`admin`]).
//!
//! Secrets (passwords, TOTP codes, session codes, resume tokens) are wrapped
//! in [`Secret`], whose `Debug` output is redacted, so a `tracing` call that
//! prints a message never leaks them.

use bytes::Bytes;

use crate::common::{CloseReason, ConnectionMode, EndReason, Role};
use crate::error::DecodeError;
use crate::wire::{self, wire_enum};

pub mod admin;
mod codec;

pub use admin::{AdminCommand, AdminReply, AdminRequest, AdminResponse};
pub(crate) use codec::{modes_from_wire, modes_to_wire};

/// A secret value (password, code, token) whose `Debug` output is redacted.
///
/// Read it with [`Secret::expose`]; the name makes every read visible in review.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret itself. Never log it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<&str> for Secret<String> {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

impl From<String> for Secret<String> {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

wire_enum! {
    /// Outcome of a login.
    pub enum LoginStatus => LoginStatus {
        /// Logged in.
        Ok => Ok,
        /// Wrong user name or password (never says which).
        BadCredentials => BadCredentials,
        /// The account has TOTP and no code was given.
        TotpRequired => TotpRequired,
        /// The TOTP code was wrong.
        BadTotp => BadTotp,
        /// Too many failures; see `blocked_until_ms`.
        Blocked => Blocked,
        /// An admin disabled the account.
        Disabled => Disabled,
        /// Already logged in, or another state problem.
        NotAllowed => NotAllowed,
        /// Too many attempts from this source, or the relay is busy: nothing
        /// was checked; try again at `blocked_until_ms` (relay clock). Any
        /// user name may get it, so it reveals nothing about accounts.
        RateLimited => RateLimited,
    }
}

wire_enum! {
    /// Machine-readable request errors.
    pub enum RequestError => RequestError {
        /// The sender may not do this.
        NotAuthorized => NotAuthorized,
        /// No such account, code or session.
        NotFound => NotFound,
        /// The name is taken.
        AlreadyExists => AlreadyExists,
        /// The password does not meet the policy.
        WeakPassword => WeakPassword,
        /// The old password was wrong.
        BadCredentials => BadCredentials,
        /// A field value is not acceptable.
        InvalidArgument => InvalidArgument,
        /// A licence or rate limit was reached.
        LimitReached => LimitReached,
        /// The relay failed internally.
        Internal => Internal,
        /// The operator may not use this connection mode.
        ModeNotAllowed => ModeNotAllowed,
    }
}

wire_enum! {
    /// How a session was started.
    pub enum PairingOrigin => PairingOrigin {
        /// The customer entered a session code.
        SessionCode => SessionCode,
        /// Chat-first contact by operator ID.
        Contact => Contact,
        /// A colleague handed the session over.
        Transfer => Transfer,
        /// A colleague invited this operator.
        Invite => Invite,
        /// A party came back with a resume token.
        Resumed => Resumed,
    }
}

wire_enum! {
    /// Why a join or contact failed. Deliberately coarse: a guesser learns nothing.
    pub enum JoinRefusal => JoinRefusal {
        /// Unknown, used, expired or cancelled code.
        InvalidCode => InvalidCode,
        /// Too many failures from this source or relay-wide.
        RateLimited => RateLimited,
        /// Licence: too many concurrent sessions.
        LicenceLimit => LicenceLimit,
        /// The addressed operator is not online.
        OperatorOffline => OperatorOffline,
        /// The operator declined the contact.
        Declined => Declined,
        /// One side's program cannot encrypt end to end (it speaks protocol
        /// 1) and this relay does not allow plaintext sessions: update the
        /// program.
        NotEncrypted => NotEncrypted,
    }
}

/// One relay-control message. The direction is noted on each variant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayMessage {
    /// party → relay, first message of every connection.
    Hello(Hello),
    /// relay → party, answer to `Hello`.
    HelloAck(HelloAck),
    /// operator → relay.
    Login(Login),
    /// relay → operator.
    LoginResult(LoginResult),
    /// operator → relay: change one's own password.
    ChangePassword {
        /// Current password.
        old_password: Secret<String>,
        /// New password.
        new_password: Secret<String>,
    },
    /// relay → party: outcome of a request without a richer answer.
    RequestResult(RequestResult),
    /// operator → relay: ask for a session code.
    IssueCode {
        /// Requested TTL in seconds; 0 = relay default. The relay may shorten it.
        ttl_secs: u32,
    },
    /// relay → operator: a fresh code.
    CodeIssued(CodeIssued),
    /// operator → relay: withdraw an unused code.
    CancelCode {
        /// The code.
        code: Secret<String>,
    },
    /// customer → relay: join with a session code.
    JoinByCode {
        /// The code the customer typed.
        code: Secret<String>,
        /// What the customer tells about itself.
        customer: CustomerInfo,
    },
    /// customer → relay: chat-first contact by operator ID.
    ContactOperator(ContactOperator),
    /// relay → operator: a customer asks for this operator.
    ContactRequest(ContactRequest),
    /// operator → relay: accept or decline a contact.
    ContactAnswer {
        /// From the `ContactRequest`.
        contact_id: u64,
        /// Accepted?
        accept: bool,
    },
    /// relay → both parties: a session exists between them.
    Paired(Paired),
    /// relay → customer: the join or contact failed.
    JoinRefused {
        /// Why (coarse).
        reason: JoinRefusal,
        /// When rate limited: earliest time to try again (ms since epoch), else 0.
        retry_after_ms: u64,
    },
    /// party → relay: leave a session.
    LeaveSession {
        /// The session.
        session_id: u64,
        /// Why.
        reason: EndReason,
    },
    /// relay → party: the session is over.
    SessionEnded {
        /// The session.
        session_id: u64,
        /// Why.
        reason: EndReason,
        /// Total duration, ms.
        duration_ms: u64,
    },
    /// relay → both parties: the licence time limit is near.
    TimeLimitWarning {
        /// The session.
        session_id: u64,
        /// Time left, ms.
        remaining_ms: u64,
    },
    /// admin → relay.
    AdminRequest(AdminRequest),
    /// relay → admin.
    AdminResponse(AdminResponse),
    /// Either way; answered with `Pong`.
    Ping {
        /// Echoed.
        nonce: u64,
    },
    /// Either way.
    Pong {
        /// From the `Ping`.
        nonce: u64,
    },
    /// Either way, just before hanging up.
    Close {
        /// Why.
        reason: CloseReason,
        /// Human-readable detail (never secrets).
        detail: String,
    },
    /// party → relay: rejoin a session after a dropped connection or reboot.
    /// Answered with `Paired` (origin `Resumed`, a fresh token) or a
    /// `RequestResult` error (`NotFound`).
    Resume {
        /// The session to rejoin.
        session_id: u64,
        /// From the last `Paired` of this session (it changes on every resume).
        resume_token: Secret<Bytes>,
    },
    /// operator → relay: hand the session to a colleague.
    TransferSession(SessionHandover),
    /// operator → relay: invite a colleague into the session.
    InviteOperator(SessionHandover),
    /// relay → operator: a colleague offers a session or an invitation.
    SessionOffer(SessionOffer),
    /// operator → relay: answer to `SessionOffer`.
    SessionOfferAnswer {
        /// From the offer.
        offer_id: u64,
        /// Accepted?
        accept: bool,
    },
    /// relay → operator: operators online (for transfer and invite pickers).
    PresenceUpdate {
        /// One entry per operator.
        operators: Vec<OperatorPresence>,
    },
    /// relay → party: the peer's connection dropped. Frames to and from it
    /// are lost until it resumes; the session ends if it does not within
    /// `grace_ms`.
    PeerSuspended {
        /// The session.
        session_id: u64,
        /// How long the relay waits for the peer, ms.
        grace_ms: u64,
    },
    /// relay → party: the peer resumed; frames flow again.
    PeerResumed {
        /// The session.
        session_id: u64,
    },
}

/// First message of every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Lowest protocol version the sender speaks.
    pub min_version: u32,
    /// Highest protocol version the sender speaks.
    pub max_version: u32,
    /// Which kind of party connects.
    pub role: Role,
    /// Free text such as "acme-helpdesk/4.2"; for the audit log.
    pub software: String,
}

/// Answer to `Hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloAck {
    /// The version both sides will speak.
    pub version: u32,
    /// The relay's display name.
    pub relay_name: String,
    /// The relay's clock (ms since epoch), so parties show matching expiry times.
    pub now_ms: u64,
}

/// Operator login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// User name.
    pub username: String,
    /// Password.
    pub password: Secret<String>,
    /// TOTP code when the account has a second factor, else empty.
    pub totp: Secret<String>,
}

/// Answer to `Login`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginResult {
    /// Outcome.
    pub status: LoginStatus,
    /// Set when blocked or rate-limited: when to try again (ms since epoch,
    /// relay clock).
    pub blocked_until_ms: u64,
    /// Set when logged in.
    pub role: Option<Role>,
    /// The ID customers address in chat-first contact.
    pub operator_id: String,
    /// Display name.
    pub display_name: String,
    /// Connection modes this operator may use.
    pub allowed_modes: Vec<ConnectionMode>,
    /// File offers skip the customer's prompt in control modes.
    pub full_file_control: bool,
    /// The password must be changed before anything else.
    pub must_change_password: bool,
}

impl LoginResult {
    /// A failed login with `status` and nothing else set.
    pub fn failed(status: LoginStatus) -> Self {
        LoginResult {
            status,
            blocked_until_ms: 0,
            role: None,
            operator_id: String::new(),
            display_name: String::new(),
            allowed_modes: Vec::new(),
            full_file_control: false,
            must_change_password: false,
        }
    }
}

/// Outcome of a request without a richer answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestResult {
    /// `None` when it worked.
    pub error: Option<RequestError>,
    /// Human-readable detail (never secrets).
    pub detail: String,
}

impl RequestResult {
    /// Success.
    pub fn ok() -> Self {
        RequestResult {
            error: None,
            detail: String::new(),
        }
    }

    /// Failure with a detail text.
    pub fn err(error: RequestError, detail: impl Into<String>) -> Self {
        RequestResult {
            error: Some(error),
            detail: detail.into(),
        }
    }

    /// Whether it worked.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// A fresh session code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeIssued {
    /// Digits only.
    pub code: Secret<String>,
    /// When it stops working (ms since epoch).
    pub expires_at_ms: u64,
    /// Link built from the relay's URL template, or empty.
    pub join_link: String,
}

/// What a customer tells about itself (shown to the operator; audited).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerInfo {
    /// Name the customer typed.
    pub name: String,
    /// Company, ticket number, problem.
    pub description: String,
    /// Operating system, e.g. "Debian 12".
    pub os: String,
    /// Machine name.
    pub hostname: String,
}

/// Chat-first contact by operator ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactOperator {
    /// The operator addressed.
    pub operator_id: String,
    /// Who asks.
    pub customer: CustomerInfo,
    /// Opening chat line.
    pub first_message: String,
}

/// relay → operator: a customer wants this operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRequest {
    /// Echo in `ContactAnswer`.
    pub contact_id: u64,
    /// Who asks.
    pub customer: CustomerInfo,
    /// Opening chat line.
    pub first_message: String,
}

/// A session now exists between the receiver and a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paired {
    /// Put this in every `Envelope`.
    pub session_id: u64,
    /// Who the peer is.
    pub peer_role: Role,
    /// Operator display name (for the customer) or customer name (for the operator).
    pub peer_name: String,
    /// The customer's information.
    pub customer: CustomerInfo,
    /// Licence time limit for this session, ms; 0 = none.
    pub time_limit_ms: u64,
    /// Lets this party resume after a dropped connection.
    pub resume_token: Secret<Bytes>,
    /// How the session started.
    pub origin: PairingOrigin,
    /// Modes the operator may request in this session.
    pub allowed_modes: Vec<ConnectionMode>,
    /// The operator has full file transfer control.
    pub full_file_control: bool,
    /// The administrator allows remote printing; it still works only in
    /// control and manage modes.
    pub remote_printing: bool,
    /// To the operator of a session-code pairing: the code as the relay
    /// issued it (the secret digits the operator's program added never
    /// reach the relay). Empty otherwise.
    pub code: String,
    /// Not end-to-end encrypted: a peer speaks protocol 1 and the relay
    /// allows plaintext sessions. Both sides show it.
    pub plaintext: bool,
}

/// Hand a session to, or invite into it, another operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionHandover {
    /// The session.
    pub session_id: u64,
    /// The colleague.
    pub operator_id: String,
    /// Note for the colleague.
    pub note: String,
}

/// relay → operator: a colleague transfers a session or invites this operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOffer {
    /// Echo in the answer.
    pub offer_id: u64,
    /// The session.
    pub session_id: u64,
    /// Operator ID of the colleague.
    pub from_operator_id: String,
    /// The customer.
    pub customer: CustomerInfo,
    /// Note from the colleague.
    pub note: String,
    /// A transfer (true) or an invitation (false).
    pub transfer: bool,
}

/// One operator's presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorPresence {
    /// Operator ID.
    pub operator_id: String,
    /// Display name.
    pub display_name: String,
    /// Online now.
    pub online: bool,
    /// Sessions running.
    pub active_sessions: u32,
}

impl RelayMessage {
    /// Encodes the message as a relay frame body.
    pub fn encode(&self) -> Bytes {
        wire::encode(self)
    }

    /// Decodes a relay frame body. Bounded and panic-free for any input.
    pub fn decode(body: Bytes) -> Result<Self, DecodeError> {
        wire::decode(body)
    }
}

#[cfg(test)]
pub(crate) mod tests;
