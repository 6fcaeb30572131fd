//! Conversions between the relay domain types and the generated protobuf
//! types, with the field caps every decoder enforces.

use crate::common::{CloseReason, ConnectionMode, EndReason, Role};
use crate::error::DecodeError;
use crate::limits::{
    MAX_CHAT_TEXT, MAX_CODE, MAX_MODES, MAX_NAME, MAX_NOTE, MAX_PRESENCE, MAX_SECRET, MAX_TOKEN,
    MAX_URL,
};
use crate::pb::{self, relay_message::Body};
use crate::wire::{self, check_bytes, check_count, check_str, required, Wire};

use super::*;

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
    Ok(Secret::new(s))
}

fn code_str(field: &'static str, s: String) -> Result<Secret<String>, DecodeError> {
    check_str(field, &s, MAX_CODE)?;
    Ok(Secret::new(s))
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
                password: l.password.expose().clone(),
                totp: l.totp.expose().clone(),
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
                old_password: old_password.expose().clone(),
                new_password: new_password.expose().clone(),
            }),
            RelayMessage::RequestResult(r) => Body::RequestResult(r.to_pb()),
            RelayMessage::IssueCode { ttl_secs } => Body::IssueCode(pb::IssueCode {
                ttl_secs: *ttl_secs,
            }),
            RelayMessage::CodeIssued(c) => Body::CodeIssued(pb::CodeIssued {
                code: c.code.expose().clone(),
                expires_at_ms: c.expires_at_ms,
                join_link: c.join_link.clone(),
            }),
            RelayMessage::CancelCode { code } => Body::CancelCode(pb::CancelCode {
                code: code.expose().clone(),
            }),
            RelayMessage::JoinByCode { code, customer } => Body::JoinByCode(pb::JoinByCode {
                code: code.expose().clone(),
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
                resume_token: p.resume_token.expose().clone(),
                origin: p.origin.to_wire(),
                allowed_modes: modes_to_wire(&p.allowed_modes),
                full_file_control: p.full_file_control,
                remote_printing: p.remote_printing,
                code: p.code.clone(),
                plaintext: p.plaintext,
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
            RelayMessage::Resume {
                session_id,
                resume_token,
            } => Body::Resume(pb::Resume {
                resume_token: resume_token.expose().clone(),
                session_id: *session_id,
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
            RelayMessage::PeerSuspended {
                session_id,
                grace_ms,
            } => Body::PeerSuspended(pb::PeerSuspended {
                session_id: *session_id,
                grace_ms: *grace_ms,
            }),
            RelayMessage::PeerResumed { session_id } => Body::PeerResumed(pb::PeerResumed {
                session_id: *session_id,
            }),
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
                    resume_token: Secret::new(p.resume_token),
                    origin: PairingOrigin::from_wire("paired.origin", p.origin)?,
                    allowed_modes: modes_from_wire("paired.allowed_modes", p.allowed_modes)?,
                    full_file_control: p.full_file_control,
                    remote_printing: p.remote_printing,
                    code: {
                        check_str("paired.code", &p.code, MAX_CODE)?;
                        p.code
                    },
                    plaintext: p.plaintext,
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
                    session_id: r.session_id,
                    resume_token: Secret::new(r.resume_token),
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
            Body::PeerSuspended(p) => RelayMessage::PeerSuspended {
                session_id: p.session_id,
                grace_ms: p.grace_ms,
            },
            Body::PeerResumed(p) => RelayMessage::PeerResumed {
                session_id: p.session_id,
            },
        })
    }
}
