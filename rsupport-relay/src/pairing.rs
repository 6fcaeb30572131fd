//! Session codes, pairing, licence limits and session end (chat-first
//! contact is in `contact`).
//!
//! **End-to-end encryption.** Sessions between two programs that speak
//! protocol 2 ([`E2E_PROTOCOL_VERSION`]) are encrypted between them; the
//! relay only routes. When either program speaks only protocol 1 the
//! session would be plaintext: it is paired with `Paired.plaintext` set if
//! [`Settings::allow_plaintext_sessions`](crate::Settings::allow_plaintext_sessions)
//! is on, and refused otherwise ([`JoinRefusal::NotEncrypted`] to a
//! customer that can read it; a protocol-1 customer, which cannot, is
//! closed with [`CloseReason::VersionMismatch`] and a text saying so). Such a
//! refusal never uses a code up.
//!
//! A session code's secret digits key the endpoints' key exchange; the
//! relay sees only the routing digits it issued. A party that leaves with
//! [`EndReason::KeyExchangeFailed`] reports a wrong secret (or meddling): for
//! a session from a code, that counts as one wrong code for the source the
//! customer joined from (see `limits::code_rule`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rsupport_proto::limits::CODE_SECRET_DIGITS;
use rsupport_proto::relay::admin::{LiveSession, PartyLink};
use rsupport_proto::relay::{
    CustomerInfo, JoinRefusal, Paired, PairingOrigin, RelayMessage, RequestError, RequestResult,
    Secret,
};
use rsupport_proto::text::clean_display_text;
use rsupport_proto::{CloseReason, ConnectionMode, EndReason, Role, E2E_PROTOCOL_VERSION};
use sha2::{Digest, Sha256};

use super::broker::{Broker, ConnId, Output, TrafficMeter};
use super::codes::{code_key, normalize_code};
use super::limits::contacts::{MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS};
use crate::Source;

/// A chat-first contact waiting for the operator's answer.
#[derive(Debug)]
pub(crate) struct Contact {
    pub(crate) customer_conn: ConnId,
    pub(crate) operator_conn: ConnId,
    pub(crate) customer: CustomerInfo,
    pub(crate) expires_at_ms: u64,
}

/// Where one party of a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// Connected; frames are routed to and from this connection.
    Attached(ConnId),
    /// The connection dropped; the party may resume until `until_ms`.
    Suspended { until_ms: u64 },
}

impl Link {
    pub(crate) fn conn(self) -> Option<ConnId> {
        match self {
            Link::Attached(c) => Some(c),
            Link::Suspended { .. } => None,
        }
    }

    pub(crate) fn is(self, conn: ConnId) -> bool {
        self == Link::Attached(conn)
    }

    pub(crate) fn suspended_until(self) -> Option<u64> {
        match self {
            Link::Attached(_) => None,
            Link::Suspended { until_ms } => Some(until_ms),
        }
    }
}

/// A running session between an operator and a customer, each attached by
/// a connection or suspended waiting for it to resume.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) operator_link: Link,
    pub(crate) customer_link: Link,
    /// SHA-256 of each party's current resume token (tokens are 256-bit
    /// random, so a plain hash is as strong as a slow KDF here).
    pub(crate) operator_token: [u8; 32],
    pub(crate) customer_token: [u8; 32],
    pub(crate) operator_username: String,
    /// The operator account's credential version at pairing (or transfer):
    /// a `Resume` after a password or TOTP change is refused.
    pub(crate) operator_credential_version: u64,
    pub(crate) customer: CustomerInfo,
    pub(crate) modes: Vec<ConnectionMode>,
    pub(crate) full_file_control: bool,
    /// Not end-to-end encrypted: a party speaks protocol 1 and the relay
    /// allowed it. Repeated in every `Paired` of the session.
    pub(crate) plaintext: bool,
    /// For a session from a session code: the source the customer joined
    /// from, charged a wrong code when the key exchange fails.
    pub(crate) code_source: Option<Source>,
    pub(crate) started_ms: u64,
    /// Licence end, if the relay limits session time.
    pub(crate) deadline_ms: Option<u64>,
    pub(crate) warn_at_ms: Option<u64>,
    pub(crate) meter: Arc<TrafficMeter>,
}

impl Session {
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        [
            self.warn_at_ms.or(self.deadline_ms),
            self.operator_link.suspended_until(),
            self.customer_link.suspended_until(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether `conn` is attached to this session (as either party).
    pub(crate) fn has(&self, conn: ConnId) -> bool {
        self.operator_link.is(conn) || self.customer_link.is(conn)
    }

    /// The attached connections.
    pub(crate) fn conns(&self) -> impl Iterator<Item = ConnId> {
        [self.operator_link.conn(), self.customer_link.conn()]
            .into_iter()
            .flatten()
    }

    /// What an admin's list of live sessions shows of this one.
    pub(crate) fn live(&self, session_id: u64) -> LiveSession {
        let party = |link: Link| match link.suspended_until() {
            None => PartyLink::Connected,
            Some(until_ms) => PartyLink::Suspended { until_ms },
        };
        LiveSession {
            session_id,
            operator_username: self.operator_username.clone(),
            customer_name: self.customer.name.clone(),
            customer_description: self.customer.description.clone(),
            started_ms: self.started_ms,
            allowed_modes: self.modes.clone(),
            end_to_end: !self.plaintext,
            operator: party(self.operator_link),
            customer: party(self.customer_link),
            time_limit_ms: self.deadline_ms,
        }
    }

    /// The earliest end of a suspension, if a party is suspended.
    pub(crate) fn suspension_ends(&self) -> Option<u64> {
        [
            self.operator_link.suspended_until(),
            self.customer_link.suspended_until(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// How a session comes about, for [`Broker::pair`].
#[derive(Debug)]
pub(crate) struct Pairing {
    pub(crate) origin: PairingOrigin,
    /// The routing code the customer joined with; empty for a contact.
    pub(crate) code: String,
    /// The source a code was joined from.
    pub(crate) code_source: Option<Source>,
    /// Not end-to-end encrypted (allowed by the settings).
    pub(crate) plaintext: bool,
}

/// SHA-256 of a resume token: what the relay stores and compares.
pub(crate) fn token_hash(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// What a customer says about themselves, as an operator will see it:
/// without control, bidi and zero-width characters, and capped in length.
pub(crate) fn clean_customer(c: CustomerInfo) -> CustomerInfo {
    CustomerInfo {
        name: clean_display_text(&c.name, MAX_NAME_CHARS),
        description: clean_display_text(&c.description, MAX_DESCRIPTION_CHARS),
        os: clean_display_text(&c.os, MAX_NAME_CHARS),
        hostname: clean_display_text(&c.hostname, MAX_NAME_CHARS),
    }
}

pub(crate) fn customer_label(c: &CustomerInfo) -> String {
    match (c.name.is_empty(), c.description.is_empty()) {
        (false, false) => format!("{} ({})", c.name, c.description),
        (false, true) => c.name.clone(),
        _ => c.description.clone(),
    }
}

/// Why a protocol-1 customer is closed when plaintext sessions are off (it
/// cannot read [`JoinRefusal::NotEncrypted`]).
const CUSTOMER_CANNOT_ENCRYPT: &str = "this relay allows only end-to-end encrypted sessions, \
     which this program cannot do (it speaks protocol 1): update the program";

/// The answer to a protocol-1 operator that accepted a contact when
/// plaintext sessions are off.
pub(crate) const OPERATOR_CANNOT_ENCRYPT: &str = "your program cannot encrypt sessions end to end \
     (it speaks protocol 1) and this relay does not allow plaintext sessions: update the program";

/// The audit detail of a plaintext session.
const PLAINTEXT_DETAIL: &str = "not end-to-end encrypted: a party speaks protocol 1 and \
     allow_plaintext_sessions is on";

/// Whether two programs would share a plaintext session.
pub(crate) fn plaintext_between(operator_version: u32, customer_version: u32) -> bool {
    operator_version.min(customer_version) < E2E_PROTOCOL_VERSION
}

impl Broker {
    pub(crate) fn refuse(&mut self, conn: ConnId, reason: JoinRefusal, retry_after_ms: u64) {
        self.send(
            conn,
            RelayMessage::JoinRefused {
                reason,
                retry_after_ms,
            },
        );
    }

    /// The protocol version `conn` negotiated (0 when it is gone).
    pub(crate) fn version_of(&self, conn: ConnId) -> u32 {
        self.conns.get(&conn).map_or(0, |c| c.version)
    }

    /// A protocol-1 customer asks for a session while plaintext sessions
    /// are off: it is closed with a text it can show (`true`), without its
    /// code being looked at or counted.
    fn closed_for_plaintext(&mut self, conn: ConnId, now_ms: u64) -> bool {
        let cannot = self.conns.get(&conn).is_some_and(|c| !c.encrypts());
        if !cannot || self.settings.allow_plaintext_sessions {
            return false;
        }
        self.audit_refusal(now_ms, "plaintext_refused", conn, None, |r| {
            r.detail = "the customer's program cannot encrypt end to end (protocol 1) and \
                        allow_plaintext_sessions is off"
                .into()
        });
        self.close(conn, CloseReason::VersionMismatch, CUSTOMER_CANNOT_ENCRYPT);
        true
    }

    pub(crate) fn customer_busy(&self, conn: ConnId) -> bool {
        self.conns
            .get(&conn)
            .is_some_and(|c| !c.sessions.is_empty() || c.contact.is_some())
    }

    /// The source of a customer that may join or ask for a contact now:
    /// not already in a session (answered so) and able to encrypt, or
    /// allowed not to (otherwise closed). `None`: nothing more to do.
    pub(crate) fn customer_may_ask(&mut self, conn: ConnId, now_ms: u64) -> Option<Source> {
        if self.customer_busy(conn) {
            self.reply(
                conn,
                RequestResult::err(RequestError::InvalidArgument, "already in a session"),
            );
            return None;
        }
        let source = self.conns.get(&conn).map(|c| Source::of(c.info.source))?;
        (!self.closed_for_plaintext(conn, now_ms)).then_some(source)
    }

    pub(crate) fn handle_join(
        &mut self,
        conn: ConnId,
        code: &str,
        customer: CustomerInfo,
        now_ms: u64,
    ) {
        let Some(source) = self.customer_may_ask(conn, now_ms) else {
            return;
        };
        // A source that failed too often or too recently is not looked at;
        // a source without failures always is (see `limits::codes`).
        if let Err(refused) = self.code_limits.check(source, now_ms) {
            let pressure = self.code_limits.under_pressure();
            self.audit_refusal(now_ms, "code_rate_limited", conn, None, |r| {
                r.detail = if pressure {
                    "this source sent wrong codes while the relay is under a guessing flood"
                } else {
                    "wrong codes from this source: slowed down or allowance spent"
                }
                .into()
            });
            self.refuse(conn, JoinRefusal::RateLimited, refused.retry_at_ms);
            return;
        }
        let customer = clean_customer(customer);
        let routing = self.routing_code(conn, code);
        let key = code_key(&routing);
        let found = self
            .codes
            .get(&key)
            .filter(|c| c.expires_at_ms > now_ms)
            .map(|c| (c.username.clone(), c.issuer));
        let Some((username, issuer)) = found else {
            let spent = self.code_limits.record_failure(source, now_ms);
            self.audit(now_ms, "code_failed", "", conn, |r| {
                r.customer = customer_label(&customer)
            });
            if spent {
                self.audit(now_ms, "code_rate_limited", "", conn, |r| {
                    r.detail = "this source's allowance of wrong codes is spent".into()
                });
            }
            self.refuse(conn, JoinRefusal::InvalidCode, 0);
            return;
        };
        // The console that issued the code gets the customer (codes of a
        // console that left are cancelled when it goes).
        if self
            .principal(issuer)
            .is_none_or(|p| p.username != username)
        {
            self.codes.remove(&key);
            self.refuse(conn, JoinRefusal::InvalidCode, 0);
            return;
        }
        let plaintext = plaintext_between(self.version_of(issuer), self.version_of(conn));
        if plaintext && !self.settings.allow_plaintext_sessions {
            // The customer can encrypt (see `closed_for_plaintext`), so the
            // operator's program cannot. The code stays usable.
            self.audit_refusal(now_ms, "plaintext_refused", conn, None, |r| {
                r.operator_username = username.clone();
                r.detail = "the operator's program cannot encrypt end to end (protocol 1) \
                            and allow_plaintext_sessions is off"
                    .into();
            });
            self.refuse(conn, JoinRefusal::NotEncrypted, 0);
            return;
        }
        if self.sessions.len() >= self.settings.max_concurrent_sessions as usize {
            self.audit(now_ms, "licence_limit", &username, conn, |_| {});
            self.refuse(conn, JoinRefusal::LicenceLimit, 0);
            return;
        }
        // Single use: the code is gone before the pairing starts.
        self.codes.remove(&key);
        self.audit(now_ms, "code_used", &username, conn, |r| {
            r.customer = customer_label(&customer)
        });
        self.pair(
            issuer,
            conn,
            customer,
            Pairing {
                origin: PairingOrigin::SessionCode,
                code: routing,
                code_source: Some(source),
                plaintext,
            },
            now_ms,
        );
    }

    /// The part of a typed code the relay issued and looks up. A protocol-2
    /// program sends only that; a protocol-1 customer sends all it was
    /// given to type, which for an operator whose program adds the secret
    /// digits is `code_length +` [`CODE_SECRET_DIGITS`] digits: those are
    /// cut off (and never kept). One lookup per attempt either way.
    fn routing_code(&self, conn: ConnId, code: &str) -> String {
        let mut code = normalize_code(code);
        let full = self.settings.code_length as usize + CODE_SECRET_DIGITS;
        let v1 = self.conns.get(&conn).is_some_and(|c| !c.encrypts());
        if v1 && code.len() == full && code.is_ascii() {
            code.truncate(self.settings.code_length as usize);
        }
        code
    }

    pub(crate) fn pair(
        &mut self,
        operator_conn: ConnId,
        customer_conn: ConnId,
        customer: CustomerInfo,
        pairing: Pairing,
        now_ms: u64,
    ) {
        let Pairing {
            origin,
            code,
            code_source,
            plaintext,
        } = pairing;
        let Some(p) = self.principal(operator_conn).cloned() else {
            return;
        };
        // Read the account now, so an admin's latest mode changes apply.
        let account = self.store.find_account(&p.username).ok().flatten();
        let (modes, full_file_control, operator_credential_version) = account
            .map(|a| (a.allowed_modes, a.full_file_control, a.credential_version))
            .unwrap_or_default();
        let session_id = self.fresh_id();
        let limit = self.settings.max_session_ms;
        let deadline_ms = (limit > 0).then(|| now_ms.saturating_add(limit));
        let warn_at_ms = deadline_ms
            .map(|d| d.saturating_sub(self.settings.time_warning_ms))
            .filter(|&w| w > now_ms);
        let meter = Arc::new(TrafficMeter::default());
        let (operator_token, operator_hash) = self.fresh_token();
        let (customer_token, customer_hash) = self.fresh_token();
        self.sessions.insert(
            session_id,
            Session {
                operator_link: Link::Attached(operator_conn),
                customer_link: Link::Attached(customer_conn),
                operator_token: operator_hash,
                customer_token: customer_hash,
                operator_username: p.username.clone(),
                operator_credential_version,
                customer: customer.clone(),
                modes: modes.clone(),
                full_file_control,
                plaintext,
                code_source,
                started_ms: now_ms,
                deadline_ms,
                warn_at_ms,
                meter: meter.clone(),
            },
        );
        self.persist_session(session_id);
        for c in [operator_conn, customer_conn] {
            if let Some(cc) = self.conns.get_mut(&c) {
                cc.sessions.insert(session_id);
            }
        }
        self.route_pair(session_id, operator_conn, customer_conn, &meter);
        let label = customer_label(&customer);
        self.audit(now_ms, "session_started", &p.username, customer_conn, |r| {
            r.session_id = session_id;
            r.customer = label;
            r.modes = modes.clone();
            r.started_ms = now_ms;
            r.detail = if plaintext {
                PLAINTEXT_DETAIL
            } else {
                "end-to-end encrypted"
            }
            .into();
        });
        let time_limit_ms = limit;
        // Only the operator hears the code: its program checks that the
        // customer came with the code it showed (the customer knows it).
        for (to, peer_role, peer_name, token, code) in [
            (
                operator_conn,
                Role::Customer,
                customer.name.clone(),
                operator_token,
                code,
            ),
            (
                customer_conn,
                Role::Operator,
                p.display_name.clone(),
                customer_token,
                String::new(),
            ),
        ] {
            self.send(
                to,
                RelayMessage::Paired(Paired {
                    session_id,
                    peer_role,
                    peer_name,
                    customer: customer.clone(),
                    time_limit_ms,
                    resume_token: Secret::new(token),
                    origin,
                    allowed_modes: modes.clone(),
                    full_file_control,
                    remote_printing: self.settings.remote_printing,
                    code,
                    plaintext,
                }),
            );
        }
    }

    pub(crate) fn handle_leave(
        &mut self,
        conn: ConnId,
        session_id: u64,
        reason: EndReason,
        now_ms: u64,
    ) {
        let member = self.sessions.get(&session_id).is_some_and(|s| s.has(conn));
        if !member {
            self.reply(
                conn,
                RequestResult::err(RequestError::NotFound, "no such session"),
            );
            return;
        }
        let is_operator = self
            .sessions
            .get(&session_id)
            .is_some_and(|s| s.operator_link.is(conn));
        // A party may give its own reason, but not claim to be the other side or the relay.
        let reason = match reason {
            EndReason::ConsentDenied
            | EndReason::ProtocolError
            | EndReason::PeerMisbehaved
            | EndReason::KeyExchangeFailed
            | EndReason::Tampered
            | EndReason::NotEncrypted => reason,
            _ if is_operator => EndReason::OperatorEnded,
            _ => EndReason::CustomerEnded,
        };
        if reason == EndReason::KeyExchangeFailed {
            self.key_exchange_failed(session_id, conn, is_operator, now_ms);
        }
        self.end_session(session_id, reason, now_ms);
    }

    /// A party reports that the end-to-end key exchange failed: for a
    /// session from a code, the customer's source is charged one wrong code
    /// (a wrong secret half is a wrong code; see `limits::code_rule`).
    fn key_exchange_failed(
        &mut self,
        session_id: u64,
        conn: ConnId,
        by_operator: bool,
        now_ms: u64,
    ) {
        let Some(s) = self.sessions.get(&session_id) else {
            return;
        };
        let (username, label, code_source) = (
            s.operator_username.clone(),
            customer_label(&s.customer),
            s.code_source,
        );
        let spent = code_source.map(|src| self.code_limits.record_failure(src, now_ms));
        self.audit(now_ms, "key_exchange_failed", &username, conn, |r| {
            r.session_id = session_id;
            r.customer = label;
            if let Some(src) = code_source {
                // The row names whom it was charged to, not who reported it.
                r.source = src.to_string();
            }
            let by = if by_operator { "operator" } else { "customer" };
            r.detail = match spent {
                Some(true) => format!(
                    "reported by the {by}; counted as a wrong code for the customer's source, \
                     whose allowance is now spent"
                ),
                Some(false) => {
                    format!(
                        "reported by the {by}; counted as a wrong code for the customer's source"
                    )
                }
                None => format!("reported by the {by}; not a session from a code"),
            };
        });
    }

    /// Ends a session: tells both sides, removes routes, writes the audit row.
    pub(crate) fn end_session(&mut self, session_id: u64, reason: EndReason, now_ms: u64) {
        let Some(s) = self.sessions.remove(&session_id) else {
            return;
        };
        let duration_ms = now_ms.saturating_sub(s.started_ms);
        if let Err(e) = self.store.delete_session(session_id) {
            tracing::error!(error = %e, "cannot forget an ended session");
        }
        for c in s.conns() {
            if let Some(cc) = self.conns.get_mut(&c) {
                cc.sessions.remove(&session_id);
                self.push(Output::Unroute {
                    conn: c,
                    session_id,
                });
                self.send(
                    c,
                    RelayMessage::SessionEnded {
                        session_id,
                        reason,
                        duration_ms,
                    },
                );
            }
        }
        let label = customer_label(&s.customer);
        let audit_conn = s
            .customer_link
            .conn()
            .or(s.operator_link.conn())
            .unwrap_or(0);
        let (to_op, to_cu) = (
            s.meter.to_operator.load(Ordering::Relaxed),
            s.meter.to_customer.load(Ordering::Relaxed),
        );
        self.audit(
            now_ms,
            "session_ended",
            &s.operator_username,
            audit_conn,
            |r| {
                r.session_id = session_id;
                r.customer = label;
                r.modes = s.modes;
                r.started_ms = s.started_ms;
                r.ended_ms = now_ms;
                r.bytes_to_operator = to_op;
                r.bytes_to_customer = to_cu;
                r.end_reason = Some(reason);
                r.detail = format!("duration_ms={duration_ms}");
            },
        );
    }

    pub(crate) fn check_session_limits(&mut self, now_ms: u64) {
        let mut warn = Vec::new();
        let mut end = Vec::new();
        for (&id, s) in &mut self.sessions {
            if let Some(d) = s.deadline_ms.filter(|&d| d <= now_ms) {
                let _ = d;
                end.push(id);
            } else if s.warn_at_ms.is_some_and(|w| w <= now_ms) {
                s.warn_at_ms = None;
                let remaining = s.deadline_ms.map_or(0, |d| d.saturating_sub(now_ms));
                warn.push((id, s.conns().collect::<Vec<_>>(), remaining));
            }
        }
        for (session_id, conns, remaining_ms) in warn {
            for c in conns {
                self.send(
                    c,
                    RelayMessage::TimeLimitWarning {
                        session_id,
                        remaining_ms,
                    },
                );
            }
        }
        for id in end {
            self.end_session(id, EndReason::TimeLimit, now_ms);
        }
    }
}
