//! [`Console`]: an operator's connection to the relay, sans-IO.
//!
//! The page owns the WebSocket and the timers; the console takes the bytes
//! that arrive ([`Console::receive`]) and the time ([`Console::handle_timeout`])
//! and gives back bytes to send ([`Console::poll_outgoing`]), events to show
//! ([`Console::poll_event`]) and when to wake it next
//! ([`Console::poll_timeout`]). The same code runs natively in the tests,
//! against a real relay.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use bytes::BytesMut;
use rsupport_core::e2e::SplitCode;
use rsupport_proto::envelope::Envelope;
use rsupport_proto::framing::{encode_frame, FrameDecoder, FrameKind, FrameLimits};
use rsupport_proto::relay::{
    Hello, Login, LoginResult, LoginStatus, PairingOrigin, RelayMessage, RequestResult, Secret,
};
use rsupport_proto::screen::CopyRect;
use rsupport_proto::{EndReason, Rect, Role, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};
use web_time::Instant;

use crate::events::ConsoleEvent;
use crate::live::LiveSession;

/// Keep-alive interval, well under the relay's idle timeout (120 s).
const PING_EVERY: Duration = Duration::from_secs(30);
/// Most events kept for a page that stopped reading; older ones go first.
const MAX_QUEUED_EVENTS: usize = 4096;

/// Why a request to the console could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// Not connected to the relay (yet, or any more).
    #[error("not connected to the relay; wait for it or reload the page")]
    NotConnected,
    /// The request needs a login first.
    #[error("log in first")]
    NotLoggedIn,
    /// No such session (it ended, or the id is wrong).
    #[error("there is no session {0} here; it may have ended")]
    NoSession(u64),
    /// The session refused the request in its current state.
    #[error("{0}")]
    Session(String),
    /// The relay sent bytes that are not the relay protocol.
    #[error("the relay sent something this console cannot read ({0}); reload the page")]
    Protocol(String),
}

/// A request whose answer (`RequestResult`, `CodeIssued`) is still due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Awaiting {
    IssueCode,
    ChangePassword,
    CancelCode,
}

impl Awaiting {
    fn action(self) -> &'static str {
        match self {
            Awaiting::IssueCode => "issue a session code",
            Awaiting::ChangePassword => "change the password",
            Awaiting::CancelCode => "cancel the session code",
        }
    }
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// `Hello` sent, waiting for `HelloAck`.
    Greeting,
    /// Talking to the relay.
    Ready,
    /// The WebSocket dropped while sessions were live: the page dials again
    /// and [`Console::reconnected`] resumes them.
    Disconnected,
    /// The relay closed the connection, or sent garbage.
    Closed,
}

/// An operator's console connection (see the module docs).
#[derive(Debug)]
pub struct Console {
    pub(crate) phase: Phase,
    pub(crate) inbound: BytesMut,
    pub(crate) decoder: FrameDecoder,
    limits: FrameLimits,
    pub(crate) outbound: VecDeque<Vec<u8>>,
    pub(crate) logged_in: bool,
    display_name: String,
    pub(crate) awaiting: VecDeque<Awaiting>,
    /// Codes issued here whose secret digits key the session they start.
    issued: Vec<SplitCode>,
    pub(crate) sessions: BTreeMap<u64, LiveSession>,
    pub(crate) events: VecDeque<ConsoleEvent>,
    pub(crate) last_sent: Option<Instant>,
    next_nonce: u64,
    /// Sessions still to resume on a new connection, and the one whose
    /// `Resume` is unanswered (the relay answers one at a time).
    pub(crate) resume_queue: VecDeque<u64>,
    pub(crate) resuming: Option<u64>,
    /// This connection replaced one that dropped (see `resume`).
    pub(crate) redialed: bool,
    /// The software name for `Hello` on a new connection.
    software: String,
}

impl Console {
    /// A console that says hello as `software` ("acme-helpdesk-web/1.0").
    pub fn new(software: &str) -> Console {
        let mut console = Console {
            phase: Phase::Greeting,
            inbound: BytesMut::new(),
            decoder: FrameDecoder::new(FrameLimits::default()),
            limits: FrameLimits::default(),
            outbound: VecDeque::new(),
            logged_in: false,
            display_name: String::new(),
            awaiting: VecDeque::new(),
            issued: Vec::new(),
            sessions: BTreeMap::new(),
            events: VecDeque::new(),
            last_sent: None,
            next_nonce: 1,
            resume_queue: VecDeque::new(),
            resuming: None,
            redialed: false,
            software: software.to_owned(),
        };
        console.hello();
        console
    }

    pub(crate) fn hello(&mut self) {
        self.send(&RelayMessage::Hello(Hello {
            min_version: MIN_PROTOCOL_VERSION,
            max_version: PROTOCOL_VERSION,
            role: Role::Operator,
            software: self.software.clone(),
        }));
    }

    // ----- the page's requests

    /// Logs in; the answer is [`ConsoleEvent::LoggedIn`] or
    /// [`ConsoleEvent::LoginRefused`]. `totp` is empty without a second factor.
    pub fn login(
        &mut self,
        username: &str,
        password: &str,
        totp: &str,
    ) -> Result<(), ConsoleError> {
        self.require_ready()?;
        self.send(&RelayMessage::Login(Login {
            username: username.to_owned(),
            password: Secret::new(password.to_owned()),
            totp: Secret::new(totp.to_owned()),
        }));
        Ok(())
    }

    /// Changes our own password (required at first login).
    pub fn change_password(&mut self, old: &str, new: &str) -> Result<(), ConsoleError> {
        self.require_login()?;
        self.awaiting.push_back(Awaiting::ChangePassword);
        self.send(&RelayMessage::ChangePassword {
            old_password: Secret::new(old.to_owned()),
            new_password: Secret::new(new.to_owned()),
        });
        Ok(())
    }

    /// Asks for a session code (`ttl_secs` 0: the relay's default lifetime).
    pub fn issue_code(&mut self, ttl_secs: u32) -> Result<(), ConsoleError> {
        self.require_login()?;
        self.awaiting.push_back(Awaiting::IssueCode);
        self.send(&RelayMessage::IssueCode { ttl_secs });
        Ok(())
    }

    /// Withdraws an unused code (all its digits, as shown).
    pub fn cancel_code(&mut self, code: &str) -> Result<(), ConsoleError> {
        self.require_login()?;
        let Some(at) = self.issued.iter().position(|c| c.full() == code) else {
            return Err(ConsoleError::Session(
                "this code was not issued here, or it was already used".into(),
            ));
        };
        let split = self.issued.remove(at);
        self.awaiting.push_back(Awaiting::CancelCode);
        self.send(&RelayMessage::CancelCode {
            code: Secret::new(split.routing),
        });
        Ok(())
    }

    /// Accepts or declines a customer's chat-first contact.
    pub fn answer_contact(&mut self, contact: u64, accept: bool) -> Result<(), ConsoleError> {
        self.require_login()?;
        self.send(&RelayMessage::ContactAnswer {
            contact_id: contact,
            accept,
        });
        Ok(())
    }

    /// The live session `id`, for its requests (modes, input, chat, screen).
    pub fn session(&mut self, id: u64) -> Result<&mut LiveSession, ConsoleError> {
        self.sessions
            .get_mut(&id)
            .ok_or(ConsoleError::NoSession(id))
    }

    /// Ends session `id` (the operator hangs up).
    pub fn end_session(&mut self, id: u64, now: Instant) -> Result<(), ConsoleError> {
        let live = self.session(id)?;
        live.session.end(EndReason::OperatorEnded, "");
        self.pump(now);
        Ok(())
    }

    /// What changed on session `id`'s screen since the last call: the copies
    /// to replay on the picture shown (a scroll), then the rectangles to
    /// redraw (see `ScreenViewer::take_changes`).
    pub fn take_changes(&mut self, id: u64) -> (Vec<CopyRect>, Vec<Rect>) {
        self.sessions
            .get_mut(&id)
            .map(|live| live.session.viewer().take_changes())
            .unwrap_or_default()
    }

    /// RGBA pixels (what a canvas `ImageData` holds) of a rectangle of session
    /// `id`'s screen; empty when the rectangle is outside it.
    pub fn rgba(&self, id: u64, rect: Rect) -> Vec<u8> {
        let mut out = Vec::new();
        self.rgba_into(id, rect, &mut out);
        out
    }

    /// As [`rgba`](Self::rgba), into a buffer reused between frames; false
    /// (and `out` empty) when there is nothing to show there.
    pub fn rgba_into(&self, id: u64, rect: Rect, out: &mut Vec<u8>) -> bool {
        match self.sessions.get(&id) {
            Some(live) => live.rgba_into(rect, out),
            None => {
                out.clear();
                false
            }
        }
    }

    /// The cursor image `shape_id` as (width, height, hot x, hot y, RGBA).
    pub fn cursor_image(
        &mut self,
        id: u64,
        shape_id: u64,
    ) -> Option<(u32, u32, u32, u32, Vec<u8>)> {
        self.sessions.get_mut(&id)?.cursor_image(shape_id)
    }

    // ----- IO

    /// Bytes that arrived on the WebSocket. A relay that breaks the
    /// protocol closes the console (reported as [`ConsoleEvent::Closed`]).
    pub fn receive(&mut self, bytes: &[u8], now: Instant) {
        if self.phase == Phase::Closed {
            return;
        }
        self.inbound.extend_from_slice(bytes);
        loop {
            match self.decoder.decode(&mut self.inbound) {
                Ok(Some(frame)) => {
                    let handled = match frame.kind {
                        FrameKind::Relay => RelayMessage::decode(frame.body)
                            .map(|m| self.on_relay(m, now))
                            .map_err(|e| e.to_string()),
                        _ => Envelope::decode(frame.body)
                            .map(|e| self.on_envelope(e, now))
                            .map_err(|e| e.to_string()),
                    };
                    if let Err(what) = handled {
                        self.close(ConsoleError::Protocol(what).to_string());
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.close(ConsoleError::Protocol(e.to_string()).to_string());
                    return;
                }
            }
        }
        self.pump(now);
    }

    /// The next bytes to send on the WebSocket.
    pub fn poll_outgoing(&mut self) -> Option<Vec<u8>> {
        self.outbound.pop_front()
    }

    /// The next event for the page.
    pub fn poll_event(&mut self) -> Option<ConsoleEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.phase, Phase::Closed | Phase::Disconnected) {
            return self
                .sessions
                .values()
                .filter_map(LiveSession::poll_timeout)
                .min();
        }
        let ping = self.last_sent.map(|t| t + PING_EVERY);
        self.sessions
            .values()
            .filter_map(LiveSession::poll_timeout)
            .chain(ping)
            .min()
    }

    /// Runs timers due at `now` (consent timeouts, keep-alive, key exchange).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Closed {
            return;
        }
        for live in self.sessions.values_mut() {
            live.handle_timeout(now);
        }
        if self.phase == Phase::Ready && self.last_sent.is_some_and(|t| now >= t + PING_EVERY) {
            let nonce = self.next_nonce;
            self.next_nonce += 1;
            self.send(&RelayMessage::Ping { nonce });
            self.last_sent = Some(now);
        }
        self.pump(now);
    }

    /// Moves what the sessions want to send into the outgoing queue, their
    /// events into the page's, and leaves the relay for ended sessions.
    /// Call after every request made through [`session`](Self::session).
    pub fn pump(&mut self, now: Instant) {
        let mut frames = Vec::new();
        let mut leave = Vec::new();
        // While disconnected or resuming, what the sessions want to send
        // waits in them (their records are numbered; none may be lost).
        let online = self.phase == Phase::Ready;
        for (id, live) in &mut self.sessions {
            live.run_io(now, &mut self.events);
            // Events first: answering them (print jobs) queues messages.
            live.drain_events(&mut self.events);
            if !online || !live.path_open() {
                continue;
            }
            while let Some(envelope) = live.session.poll_transmit() {
                frames.push(envelope.encode());
            }
            if let Some(reason) = live.leave_now(now) {
                leave.push((*id, reason));
            }
        }
        for body in frames {
            self.frame(FrameKind::Session, &body, now);
        }
        for (session_id, reason) in leave {
            self.send(&RelayMessage::LeaveSession { session_id, reason });
        }
        while self.events.len() > MAX_QUEUED_EVENTS {
            self.events.pop_front();
        }
    }

    // ----- what the relay says

    fn on_relay(&mut self, message: RelayMessage, now: Instant) {
        let Some(message) = self.on_path_notice(message, now) else {
            return;
        };
        match message {
            RelayMessage::HelloAck(ack) => {
                self.phase = Phase::Ready;
                self.last_sent = Some(now);
                self.resume_next();
                self.events.push_back(ConsoleEvent::Connected {
                    relay_name: ack.relay_name,
                });
            }
            RelayMessage::LoginResult(result) => self.on_login(result),
            RelayMessage::CodeIssued(issued) => {
                self.take_awaiting(Awaiting::IssueCode);
                match SplitCode::extend(issued.code.expose()) {
                    Ok(code) => {
                        let join_link = if issued.join_link.is_empty() {
                            String::new()
                        } else {
                            format!("{}#{}", issued.join_link, code.secret.expose())
                        };
                        self.events.push_back(ConsoleEvent::CodeIssued {
                            code: code.full(),
                            join_link,
                            expires_at_ms: issued.expires_at_ms,
                        });
                        self.issued.push(code);
                    }
                    Err(e) => self.events.push_back(ConsoleEvent::Refused {
                        action: Awaiting::IssueCode.action(),
                        message: e.to_string(),
                    }),
                }
            }
            RelayMessage::RequestResult(result) => self.on_result(result),
            RelayMessage::Paired(paired) => {
                let secret = (paired.origin == PairingOrigin::SessionCode)
                    .then(|| self.issued.iter().position(|c| c.routing == paired.code))
                    .flatten()
                    .map(|at| self.issued.remove(at).secret);
                let Some(live) = LiveSession::start(&paired, &self.display_name, secret) else {
                    self.send(&RelayMessage::LeaveSession {
                        session_id: paired.session_id,
                        reason: EndReason::ProtocolError,
                    });
                    return;
                };
                self.events.push_back(ConsoleEvent::SessionStarted {
                    session: paired.session_id,
                    peer_name: paired.peer_name.clone(),
                    allowed_modes: paired.allowed_modes.clone(),
                    by_contact: paired.origin == PairingOrigin::Contact,
                });
                self.sessions.insert(paired.session_id, live);
            }
            RelayMessage::SessionEnded {
                session_id, reason, ..
            } => {
                if let Some(mut live) = self.sessions.remove(&session_id) {
                    live.relay_ended(reason);
                    live.drain_events(&mut self.events);
                }
            }
            RelayMessage::TimeLimitWarning {
                session_id,
                remaining_ms,
            } => self.events.push_back(ConsoleEvent::Notice {
                session: session_id,
                text: format!(
                    "the relay ends this session in {} minutes (its time limit)",
                    remaining_ms.div_ceil(60_000)
                ),
            }),
            RelayMessage::Ping { nonce } => self.send(&RelayMessage::Pong { nonce }),
            RelayMessage::Close { detail, .. } => {
                let detail = if detail.is_empty() {
                    "the relay closed the connection; reload the page to connect again".into()
                } else {
                    detail
                };
                self.close(detail);
            }
            RelayMessage::ContactRequest(request) => {
                self.events.push_back(ConsoleEvent::ContactRequest {
                    contact: request.contact_id,
                    name: request.customer.name,
                    description: request.customer.description,
                    first_message: request.first_message,
                })
            }
            // Presence lists and transfer offers: not in the browser yet.
            _ => {}
        }
    }

    fn on_login(&mut self, result: LoginResult) {
        if result.status != LoginStatus::Ok {
            self.events.push_back(ConsoleEvent::LoginRefused {
                status: result.status,
                blocked_until_ms: result.blocked_until_ms,
            });
            return;
        }
        self.logged_in = true;
        self.display_name = result.display_name.clone();
        self.events.push_back(ConsoleEvent::LoggedIn {
            operator_id: result.operator_id,
            display_name: result.display_name,
            role: result.role.unwrap_or(Role::Operator),
            allowed_modes: result.allowed_modes,
            must_change_password: result.must_change_password,
        });
    }

    fn on_result(&mut self, result: RequestResult) {
        // Answers to our LeaveSession for a session the peer left first.
        let Some(request) = self.awaiting.pop_front() else {
            return;
        };
        match (request, result.is_ok()) {
            (Awaiting::ChangePassword, true) => {
                self.events.push_back(ConsoleEvent::PasswordChanged)
            }
            (Awaiting::CancelCode, true) => {}
            (request, _) => self.events.push_back(ConsoleEvent::Refused {
                action: request.action(),
                message: if result.detail.is_empty() {
                    format!("the relay refused to {}", request.action())
                } else {
                    result.detail
                },
            }),
        }
    }

    fn on_envelope(&mut self, envelope: Envelope, now: Instant) {
        if let Some(live) = self.sessions.get_mut(&envelope.session_id) {
            live.handle_envelope(envelope, now);
        }
    }

    // ----- helpers

    fn take_awaiting(&mut self, request: Awaiting) {
        if let Some(at) = self.awaiting.iter().position(|a| *a == request) {
            self.awaiting.remove(at);
        }
    }

    fn require_ready(&self) -> Result<(), ConsoleError> {
        match self.phase {
            Phase::Ready => Ok(()),
            _ => Err(ConsoleError::NotConnected),
        }
    }

    fn require_login(&self) -> Result<(), ConsoleError> {
        self.require_ready()?;
        if self.logged_in {
            Ok(())
        } else {
            Err(ConsoleError::NotLoggedIn)
        }
    }

    pub(crate) fn send(&mut self, message: &RelayMessage) {
        let body = message.encode();
        let mut out = BytesMut::new();
        if encode_frame(FrameKind::Relay, &body, &self.limits, &mut out).is_ok() {
            self.outbound.push_back(out.to_vec());
        }
    }

    fn frame(&mut self, kind: FrameKind, body: &[u8], now: Instant) {
        let mut out = BytesMut::new();
        if encode_frame(kind, body, &self.limits, &mut out).is_ok() {
            self.outbound.push_back(out.to_vec());
            self.last_sent = Some(now);
        }
    }

    pub(crate) fn close(&mut self, detail: String) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        for live in self.sessions.values_mut() {
            live.session.connection_lost();
            live.session.relay_ended(EndReason::PeerLost);
            live.drain_events(&mut self.events);
        }
        self.sessions.clear();
        self.events.push_back(ConsoleEvent::Closed { detail });
    }
}
