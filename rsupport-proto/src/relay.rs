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
use crate::limits::{
    MAX_CHAT_TEXT, MAX_CODE, MAX_MODES, MAX_NAME, MAX_NOTE, MAX_PRESENCE, MAX_SECRET, MAX_TOKEN,
    MAX_URL,
};
use crate::pb::{self, relay_message::Body};
use crate::wire::{self, check_bytes, check_count, check_str, required, wire_enum, Wire};

pub mod admin;

pub use admin::{AdminCommand, AdminReply, AdminRequest, AdminResponse};

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
    Resume {
        /// From `Paired`.
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
    /// Set when blocked: when the block ends (ms since epoch).
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

pub(crate) fn modes_to_wire(modes: &[ConnectionMode]) -> Vec<i32> {
    modes.iter().map(|m| m.to_wire()).collect()
}

pub(crate) fn modes_from_wire(
    field: &'static str,
    modes: Vec<i32>,
) -> Result<Vec<ConnectionMode>, DecodeError> {
    check_count(field, &modes, MAX_MODES)?;
    modes
        .into_iter()
        .map(|m| ConnectionMode::from_wire(field, m))
        .collect()
}

fn secret_str(field: &'static str, s: String) -> Result<Secret<String>, DecodeError> {
    check_str(field, &s, MAX_SECRET)?;
    Ok(Secret(s))
}

fn code_str(field: &'static str, s: String) -> Result<Secret<String>, DecodeError> {
    check_str(field, &s, MAX_CODE)?;
    Ok(Secret(s))
}

fn name(field: &'static str, s: String) -> Result<String, DecodeError> {
    check_str(field, &s, MAX_NAME)?;
    Ok(s)
}

fn note(field: &'static str, s: String) -> Result<String, DecodeError> {
    check_str(field, &s, MAX_NOTE)?;
    Ok(s)
}

impl Wire for CustomerInfo {
    type Pb = pb::CustomerInfo;

    fn to_pb(&self) -> pb::CustomerInfo {
        pb::CustomerInfo {
            name: self.name.clone(),
            description: self.description.clone(),
            os: self.os.clone(),
            hostname: self.hostname.clone(),
        }
    }

    fn from_pb(pb: pb::CustomerInfo) -> Result<Self, DecodeError> {
        Ok(CustomerInfo {
            name: name("customer.name", pb.name)?,
            description: note("customer.description", pb.description)?,
            os: name("customer.os", pb.os)?,
            hostname: name("customer.hostname", pb.hostname)?,
        })
    }
}

/// An absent customer block decodes as empty: every field in it is optional.
fn customer_from(pb: Option<pb::CustomerInfo>) -> Result<CustomerInfo, DecodeError> {
    pb.map_or(Ok(CustomerInfo::default()), CustomerInfo::from_pb)
}

impl Wire for RequestResult {
    type Pb = pb::RequestResult;

    fn to_pb(&self) -> pb::RequestResult {
        pb::RequestResult {
            ok: self.error.is_none(),
            error: self.error.map_or(0, RequestError::to_wire),
            detail: self.detail.clone(),
        }
    }

    fn from_pb(pb: pb::RequestResult) -> Result<Self, DecodeError> {
        let error = RequestError::from_wire_opt("request_result.error", pb.error)?;
        match (pb.ok, error) {
            (true, Some(_)) => Err(DecodeError::Invalid {
                field: "request_result.error",
                reason: "set on success",
            }),
            (false, None) => Err(DecodeError::MissingField("request_result.error")),
            _ => Ok(RequestResult {
                error,
                detail: note("request_result.detail", pb.detail)?,
            }),
        }
    }
}

impl Wire for OperatorPresence {
    type Pb = pb::OperatorPresence;

    fn to_pb(&self) -> pb::OperatorPresence {
        pb::OperatorPresence {
            operator_id: self.operator_id.clone(),
            display_name: self.display_name.clone(),
            online: self.online,
            active_sessions: self.active_sessions,
        }
    }

    fn from_pb(pb: pb::OperatorPresence) -> Result<Self, DecodeError> {
        Ok(OperatorPresence {
            operator_id: name("presence.operator_id", pb.operator_id)?,
            display_name: name("presence.display_name", pb.display_name)?,
            online: pb.online,
            active_sessions: pb.active_sessions,
        })
    }
}

impl Wire for RelayMessage {
    type Pb = pb::RelayMessage;

    fn to_pb(&self) -> pb::RelayMessage {
        let body = match self {
            RelayMessage::Hello(h) => Body::Hello(pb::Hello {
                min_version: h.min_version,
                max_version: h.max_version,
                role: h.role.to_wire(),
                software: h.software.clone(),
            }),
            RelayMessage::HelloAck(a) => Body::HelloAck(pb::HelloAck {
                version: a.version,
                relay_name: a.relay_name.clone(),
                now_ms: a.now_ms,
            }),
            RelayMessage::Login(l) => Body::Login(pb::Login {
                username: l.username.clone(),
                password: l.password.0.clone(),
                totp: l.totp.0.clone(),
            }),
            RelayMessage::LoginResult(r) => Body::LoginResult(pb::LoginResult {
                status: r.status.to_wire(),
                blocked_until_ms: r.blocked_until_ms,
                role: r.role.map_or(0, Role::to_wire),
                operator_id: r.operator_id.clone(),
                display_name: r.display_name.clone(),
                allowed_modes: modes_to_wire(&r.allowed_modes),
                full_file_control: r.full_file_control,
                must_change_password: r.must_change_password,
            }),
            RelayMessage::ChangePassword {
                old_password,
                new_password,
            } => Body::ChangePassword(pb::ChangePassword {
                old_password: old_password.0.clone(),
                new_password: new_password.0.clone(),
            }),
            RelayMessage::RequestResult(r) => Body::RequestResult(r.to_pb()),
            RelayMessage::IssueCode { ttl_secs } => Body::IssueCode(pb::IssueCode {
                ttl_secs: *ttl_secs,
            }),
            RelayMessage::CodeIssued(c) => Body::CodeIssued(pb::CodeIssued {
                code: c.code.0.clone(),
                expires_at_ms: c.expires_at_ms,
                join_link: c.join_link.clone(),
            }),
            RelayMessage::CancelCode { code } => Body::CancelCode(pb::CancelCode {
                code: code.0.clone(),
            }),
            RelayMessage::JoinByCode { code, customer } => Body::JoinByCode(pb::JoinByCode {
                code: code.0.clone(),
                customer: Some(customer.to_pb()),
            }),
            RelayMessage::ContactOperator(c) => Body::ContactOperator(pb::ContactOperator {
                operator_id: c.operator_id.clone(),
                customer: Some(c.customer.to_pb()),
                first_message: c.first_message.clone(),
            }),
            RelayMessage::ContactRequest(c) => Body::ContactRequest(pb::ContactRequest {
                contact_id: c.contact_id,
                customer: Some(c.customer.to_pb()),
                first_message: c.first_message.clone(),
            }),
            RelayMessage::ContactAnswer { contact_id, accept } => {
                Body::ContactAnswer(pb::ContactAnswer {
                    contact_id: *contact_id,
                    accept: *accept,
                })
            }
            RelayMessage::Paired(p) => Body::Paired(pb::Paired {
                session_id: p.session_id,
                peer_role: p.peer_role.to_wire(),
                peer_name: p.peer_name.clone(),
                customer: Some(p.customer.to_pb()),
                time_limit_ms: p.time_limit_ms,
                resume_token: p.resume_token.0.clone(),
                origin: p.origin.to_wire(),
                allowed_modes: modes_to_wire(&p.allowed_modes),
                full_file_control: p.full_file_control,
            }),
            RelayMessage::JoinRefused {
                reason,
                retry_after_ms,
            } => Body::JoinRefused(pb::JoinRefused {
                reason: reason.to_wire(),
                retry_after_ms: *retry_after_ms,
            }),
            RelayMessage::LeaveSession { session_id, reason } => {
                Body::LeaveSession(pb::LeaveSession {
                    session_id: *session_id,
                    reason: reason.to_wire(),
                })
            }
            RelayMessage::SessionEnded {
                session_id,
                reason,
                duration_ms,
            } => Body::SessionEnded(pb::SessionEnded {
                session_id: *session_id,
                reason: reason.to_wire(),
                duration_ms: *duration_ms,
            }),
            RelayMessage::TimeLimitWarning {
                session_id,
                remaining_ms,
            } => Body::TimeLimitWarning(pb::TimeLimitWarning {
                session_id: *session_id,
                remaining_ms: *remaining_ms,
            }),
            RelayMessage::AdminRequest(r) => Body::AdminRequest(r.to_pb()),
            RelayMessage::AdminResponse(r) => Body::AdminResponse(r.to_pb()),
            RelayMessage::Ping { nonce } => Body::Ping(pb::Ping { nonce: *nonce }),
            RelayMessage::Pong { nonce } => Body::Pong(pb::Pong { nonce: *nonce }),
            RelayMessage::Close { reason, detail } => Body::Close(pb::Close {
                reason: reason.to_wire(),
                detail: detail.clone(),
            }),
            RelayMessage::Resume { resume_token } => Body::Resume(pb::Resume {
                resume_token: resume_token.0.clone(),
            }),
            RelayMessage::TransferSession(h) => Body::TransferSession(pb::TransferSession {
                session_id: h.session_id,
                to_operator_id: h.operator_id.clone(),
                note: h.note.clone(),
            }),
            RelayMessage::InviteOperator(h) => Body::InviteOperator(pb::InviteOperator {
                session_id: h.session_id,
                operator_id: h.operator_id.clone(),
                note: h.note.clone(),
            }),
            RelayMessage::SessionOffer(o) => Body::SessionOffer(pb::SessionOffer {
                offer_id: o.offer_id,
                session_id: o.session_id,
                from_operator_id: o.from_operator_id.clone(),
                customer: Some(o.customer.to_pb()),
                note: o.note.clone(),
                transfer: o.transfer,
            }),
            RelayMessage::SessionOfferAnswer { offer_id, accept } => {
                Body::SessionOfferAnswer(pb::SessionOfferAnswer {
                    offer_id: *offer_id,
                    accept: *accept,
                })
            }
            RelayMessage::PresenceUpdate { operators } => {
                Body::PresenceUpdate(pb::PresenceUpdate {
                    operators: operators.iter().map(Wire::to_pb).collect(),
                })
            }
        };
        pb::RelayMessage { body: Some(body) }
    }

    fn from_pb(pb: pb::RelayMessage) -> Result<Self, DecodeError> {
        Ok(match required("relay.body", pb.body)? {
            Body::Hello(h) => RelayMessage::Hello(Hello {
                min_version: h.min_version,
                max_version: h.max_version,
                role: Role::from_wire("hello.role", h.role)?,
                software: name("hello.software", h.software)?,
            }),
            Body::HelloAck(a) => RelayMessage::HelloAck(HelloAck {
                version: a.version,
                relay_name: name("hello_ack.relay_name", a.relay_name)?,
                now_ms: a.now_ms,
            }),
            Body::Login(l) => RelayMessage::Login(Login {
                username: name("login.username", l.username)?,
                password: secret_str("login.password", l.password)?,
                totp: code_str("login.totp", l.totp)?,
            }),
            Body::LoginResult(r) => RelayMessage::LoginResult(LoginResult {
                status: LoginStatus::from_wire("login_result.status", r.status)?,
                blocked_until_ms: r.blocked_until_ms,
                role: Role::from_wire_opt("login_result.role", r.role)?,
                operator_id: name("login_result.operator_id", r.operator_id)?,
                display_name: name("login_result.display_name", r.display_name)?,
                allowed_modes: modes_from_wire("login_result.allowed_modes", r.allowed_modes)?,
                full_file_control: r.full_file_control,
                must_change_password: r.must_change_password,
            }),
            Body::ChangePassword(c) => RelayMessage::ChangePassword {
                old_password: secret_str("change_password.old_password", c.old_password)?,
                new_password: secret_str("change_password.new_password", c.new_password)?,
            },
            Body::RequestResult(r) => RelayMessage::RequestResult(RequestResult::from_pb(r)?),
            Body::IssueCode(i) => RelayMessage::IssueCode {
                ttl_secs: i.ttl_secs,
            },
            Body::CodeIssued(c) => {
                check_str("code_issued.join_link", &c.join_link, MAX_URL)?;
                RelayMessage::CodeIssued(CodeIssued {
                    code: code_str("code_issued.code", c.code)?,
                    expires_at_ms: c.expires_at_ms,
                    join_link: c.join_link,
                })
            }
            Body::CancelCode(c) => RelayMessage::CancelCode {
                code: code_str("cancel_code.code", c.code)?,
            },
            Body::JoinByCode(j) => RelayMessage::JoinByCode {
                code: code_str("join_by_code.code", j.code)?,
                customer: customer_from(j.customer)?,
            },
            Body::ContactOperator(c) => {
                check_str(
                    "contact_operator.first_message",
                    &c.first_message,
                    MAX_CHAT_TEXT,
                )?;
                RelayMessage::ContactOperator(ContactOperator {
                    operator_id: name("contact_operator.operator_id", c.operator_id)?,
                    customer: customer_from(c.customer)?,
                    first_message: c.first_message,
                })
            }
            Body::ContactRequest(c) => {
                check_str(
                    "contact_request.first_message",
                    &c.first_message,
                    MAX_CHAT_TEXT,
                )?;
                RelayMessage::ContactRequest(ContactRequest {
                    contact_id: c.contact_id,
                    customer: customer_from(c.customer)?,
                    first_message: c.first_message,
                })
            }
            Body::ContactAnswer(a) => RelayMessage::ContactAnswer {
                contact_id: a.contact_id,
                accept: a.accept,
            },
            Body::Paired(p) => {
                check_bytes("paired.resume_token", &p.resume_token, MAX_TOKEN)?;
                RelayMessage::Paired(Paired {
                    session_id: p.session_id,
                    peer_role: Role::from_wire("paired.peer_role", p.peer_role)?,
                    peer_name: name("paired.peer_name", p.peer_name)?,
                    customer: customer_from(p.customer)?,
                    time_limit_ms: p.time_limit_ms,
                    resume_token: Secret(p.resume_token),
                    origin: PairingOrigin::from_wire("paired.origin", p.origin)?,
                    allowed_modes: modes_from_wire("paired.allowed_modes", p.allowed_modes)?,
                    full_file_control: p.full_file_control,
                })
            }
            Body::JoinRefused(r) => RelayMessage::JoinRefused {
                reason: JoinRefusal::from_wire("join_refused.reason", r.reason)?,
                retry_after_ms: r.retry_after_ms,
            },
            Body::LeaveSession(l) => RelayMessage::LeaveSession {
                session_id: l.session_id,
                reason: EndReason::from_wire("leave_session.reason", l.reason)?,
            },
            Body::SessionEnded(e) => RelayMessage::SessionEnded {
                session_id: e.session_id,
                reason: EndReason::from_wire("session_ended.reason", e.reason)?,
                duration_ms: e.duration_ms,
            },
            Body::TimeLimitWarning(w) => RelayMessage::TimeLimitWarning {
                session_id: w.session_id,
                remaining_ms: w.remaining_ms,
            },
            Body::AdminRequest(r) => RelayMessage::AdminRequest(AdminRequest::from_pb(r)?),
            Body::AdminResponse(r) => RelayMessage::AdminResponse(AdminResponse::from_pb(r)?),
            Body::Ping(p) => RelayMessage::Ping { nonce: p.nonce },
            Body::Pong(p) => RelayMessage::Pong { nonce: p.nonce },
            Body::Close(c) => RelayMessage::Close {
                reason: CloseReason::from_wire("close.reason", c.reason)?,
                detail: note("close.detail", c.detail)?,
            },
            Body::Resume(r) => {
                check_bytes("resume.resume_token", &r.resume_token, MAX_TOKEN)?;
                RelayMessage::Resume {
                    resume_token: Secret(r.resume_token),
                }
            }
            Body::TransferSession(t) => RelayMessage::TransferSession(SessionHandover {
                session_id: t.session_id,
                operator_id: name("transfer_session.to_operator_id", t.to_operator_id)?,
                note: note("transfer_session.note", t.note)?,
            }),
            Body::InviteOperator(i) => RelayMessage::InviteOperator(SessionHandover {
                session_id: i.session_id,
                operator_id: name("invite_operator.operator_id", i.operator_id)?,
                note: note("invite_operator.note", i.note)?,
            }),
            Body::SessionOffer(o) => RelayMessage::SessionOffer(SessionOffer {
                offer_id: o.offer_id,
                session_id: o.session_id,
                from_operator_id: name("session_offer.from_operator_id", o.from_operator_id)?,
                customer: customer_from(o.customer)?,
                note: note("session_offer.note", o.note)?,
                transfer: o.transfer,
            }),
            Body::SessionOfferAnswer(a) => RelayMessage::SessionOfferAnswer {
                offer_id: a.offer_id,
                accept: a.accept,
            },
            Body::PresenceUpdate(p) => {
                check_count("presence.operators", &p.operators, MAX_PRESENCE)?;
                RelayMessage::PresenceUpdate {
                    operators: wire::from_pb_vec(p.operators)?,
                }
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
