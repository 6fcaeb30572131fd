//! The control channel as a sans-IO state machine: mode requests and consent,
//! pause and resume, revoking control, ending the session.
//!
//! The operator asks for a mode; the customer's side decides — through its
//! own UI, never on the relay's or the operator's word — and enforces the
//! answer locally. Requests the admin's policy forbids are refused without
//! asking. An unanswered request times out as a refusal (deny by default).
//!
//! Run loop: feed peer messages to [`ControlChannel::handle_message`], user
//! actions to the command methods, and the clock to
//! [`ControlChannel::handle_timeout`] when [`ControlChannel::poll_timeout`]
//! says; then drain [`ControlChannel::poll_transmit`] and
//! [`ControlChannel::poll_event`].

use std::collections::VecDeque;
use std::time::Duration;
use web_time::Instant;

use rsupport_proto::control::{ConsentDecision, ControlMessage, RevokeCause};
use rsupport_proto::{ConnectionMode, EndReason};

use super::permissions::{Control, Sharing, Side};

/// Default time the customer has to answer a mode request.
pub const DEFAULT_CONSENT_TIMEOUT: Duration = Duration::from_secs(60);

/// What the relay and the admin allow in this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Modes the operator may request (from the admin's settings, via `Paired`).
    pub allowed_modes: Vec<ConnectionMode>,
    /// How long the customer has to answer a request.
    pub consent_timeout: Duration,
}

impl SessionPolicy {
    /// A policy allowing `modes` with the default consent timeout.
    pub fn allowing(modes: impl IntoIterator<Item = ConnectionMode>) -> Self {
        SessionPolicy {
            allowed_modes: modes.into_iter().collect(),
            consent_timeout: DEFAULT_CONSENT_TIMEOUT,
        }
    }

    /// Whether `mode` may be requested.
    pub fn allows(&self, mode: ConnectionMode) -> bool {
        self.allowed_modes.contains(&mode)
    }
}

/// Something the application should know or act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlEvent {
    /// Customer side: the operator asks for `mode`; answer with
    /// [`ControlChannel::decide`] before the timeout.
    ConsentRequested {
        /// Pass back to `decide`.
        request_id: u32,
        /// The mode asked for.
        mode: ConnectionMode,
        /// The operator's reason, for the prompt.
        reason: String,
    },
    /// Customer side: a request was refused without asking (admin policy).
    RefusedByPolicy {
        /// The mode asked for.
        mode: ConnectionMode,
    },
    /// Customer side: nobody answered in time; the request was refused.
    ConsentTimedOut {
        /// The request.
        request_id: u32,
    },
    /// Either side: the agreed sharing state changed.
    SharingChanged(Sharing),
    /// Operator side: the customer refused (or did not answer).
    ModeRefused {
        /// The mode asked for.
        mode: ConnectionMode,
        /// Deny or timeout.
        decision: ConsentDecision,
    },
    /// The session ended (by either side).
    Ended {
        /// Why.
        reason: EndReason,
        /// Detail from the side that ended it.
        detail: String,
        /// Whether the peer ended it.
        by_peer: bool,
    },
}

/// A command the local application may not give in the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// Only the operator requests modes; only the customer decides.
    #[error("the {0:?} side cannot do this")]
    WrongSide(Side),
    /// The admin's policy does not allow this mode for this operator.
    #[error("mode {0:?} is not allowed for this operator")]
    ModeNotAllowed(ConnectionMode),
    /// No request with this id is waiting for an answer.
    #[error("no pending request {0}")]
    NoSuchRequest(u32),
    /// Only the party whose screen is shared can pause, resume or revoke.
    #[error("only the host can do this")]
    NotHost,
    /// The session is over.
    #[error("the session has ended")]
    Ended,
}

/// The peer broke the protocol; the session must end with `ProtocolError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("peer sent {message} which the {side:?} side never accepts in this state")]
pub struct PeerViolation {
    /// Our side.
    pub side: Side,
    /// What arrived (variant name only: never content).
    pub message: &'static str,
}

impl PeerViolation {
    /// Whether the session must end for it. A non-host claiming the host's
    /// rights (pausing the host's sharing, revoking the host's grant) tries
    /// to take over the consent state machine: that ends the session with
    /// `ProtocolError`. Any other message in the wrong place changes nothing
    /// here and is dropped and counted (see `session::abuse`).
    pub fn ends_session(&self) -> bool {
        matches!(self.message, "PauseState" | "ControlRevoked")
    }
}

#[derive(Debug, Clone)]
struct Incoming {
    request_id: u32,
    mode: ConnectionMode,
    deadline: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Outgoing {
    request_id: u32,
    mode: ConnectionMode,
}

/// One side's control channel.
#[derive(Debug)]
pub struct ControlChannel {
    side: Side,
    policy: SessionPolicy,
    sharing: Sharing,
    incoming: Option<Incoming>,
    outgoing: Option<Outgoing>,
    next_request_id: u32,
    ended: bool,
    end_reason: Option<EndReason>,
    ended_by_peer: bool,
    transmit: VecDeque<ControlMessage>,
    events: VecDeque<ControlEvent>,
}

impl ControlChannel {
    /// A channel for `side` under `policy`; nothing is shared until consented.
    pub fn new(side: Side, policy: SessionPolicy) -> Self {
        ControlChannel {
            side,
            policy,
            sharing: Sharing::Idle,
            incoming: None,
            outgoing: None,
            next_request_id: 1,
            ended: false,
            end_reason: None,
            ended_by_peer: false,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    // ----- getters

    /// Our side.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The agreed sharing state.
    pub fn sharing(&self) -> Sharing {
        self.sharing
    }

    /// The policy in force.
    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// Whether the session has ended.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Why the session ended, once it has.
    pub fn end_reason(&self) -> Option<EndReason> {
        self.end_reason
    }

    /// Whether the peer ended the session (its `End` arrived), rather than
    /// this side, the relay or a protocol error.
    pub fn ended_by_peer(&self) -> bool {
        self.ended_by_peer
    }

    /// Whether we should capture and send our screen now.
    pub fn sends_screen(&self) -> bool {
        !self.ended && self.sharing.side_sends_screen(self.side)
    }

    /// Whether input from the peer may be injected here now.
    pub fn accepts_input(&self) -> bool {
        !self.ended && self.sharing.side_accepts_input(self.side)
    }

    /// Whether we may send input to the peer now.
    pub fn may_send_input(&self) -> bool {
        !self.ended && self.sharing.side_may_send_input(self.side)
    }

    /// Whether we host in the current mode.
    pub fn is_host(&self) -> bool {
        self.sharing
            .mode()
            .is_some_and(|mode| self.side.hosts_in(mode))
    }

    // ----- commands

    /// Operator: ask the customer for `mode`. Returns the request id.
    pub fn request_mode(
        &mut self,
        mode: ConnectionMode,
        reason: impl Into<String>,
    ) -> Result<u32, ControlError> {
        self.check_live()?;
        if self.side != Side::Operator {
            return Err(ControlError::WrongSide(self.side));
        }
        if !self.policy.allows(mode) {
            return Err(ControlError::ModeNotAllowed(mode));
        }
        let request_id = self.next_id();
        self.outgoing = Some(Outgoing { request_id, mode });
        self.transmit.push_back(ControlMessage::ModeRequest {
            request_id,
            mode,
            reason: reason.into(),
        });
        Ok(request_id)
    }

    /// Operator: ask for control back after the customer revoked it.
    pub fn request_control(&mut self) -> Result<u32, ControlError> {
        self.check_live()?;
        match self.sharing {
            Sharing::Active {
                mode,
                control: Control::Revoked(_),
                ..
            } if self.side == Side::Operator => self.request_mode(mode, ""),
            _ => Err(ControlError::WrongSide(self.side)),
        }
    }

    /// Customer: answer a pending request.
    pub fn decide(&mut self, request_id: u32, allow: bool) -> Result<(), ControlError> {
        self.check_live()?;
        if self.side != Side::Customer {
            return Err(ControlError::WrongSide(self.side));
        }
        let pending = match &self.incoming {
            Some(p) if p.request_id == request_id => p.clone(),
            _ => return Err(ControlError::NoSuchRequest(request_id)),
        };
        self.incoming = None;
        if allow {
            self.set_sharing(Sharing::granted(pending.mode));
            self.answer(request_id, ConsentDecision::Allow);
        } else {
            self.answer(request_id, ConsentDecision::Deny);
        }
        Ok(())
    }

    /// Host: pause or resume sharing. While paused nothing is captured, sent or injected.
    pub fn set_paused(&mut self, paused: bool) -> Result<(), ControlError> {
        self.check_live()?;
        let Sharing::Active { mode, control, .. } = self.sharing else {
            return Err(ControlError::NotHost);
        };
        if !self.side.hosts_in(mode) {
            return Err(ControlError::NotHost);
        }
        self.set_sharing(Sharing::Active {
            mode,
            control,
            paused,
        });
        self.transmit
            .push_back(ControlMessage::PauseState { paused });
        Ok(())
    }

    /// Host: withdraw the viewer's control at once (the user pressed stop,
    /// or local input won). Keeps the screen shared.
    pub fn revoke_control(&mut self, cause: RevokeCause) -> Result<(), ControlError> {
        self.check_live()?;
        let Sharing::Active {
            mode,
            paused,
            control,
        } = self.sharing
        else {
            return Err(ControlError::NotHost);
        };
        if !self.side.hosts_in(mode) {
            return Err(ControlError::NotHost);
        }
        if control == Control::Granted {
            self.set_sharing(Sharing::Active {
                mode,
                paused,
                control: Control::Revoked(cause),
            });
            self.transmit
                .push_back(ControlMessage::ControlRevoked { cause });
        }
        Ok(())
    }

    /// Either side: end the session.
    pub fn end(&mut self, reason: EndReason, detail: impl Into<String>) {
        if self.ended {
            return;
        }
        let detail = detail.into();
        self.transmit.push_back(ControlMessage::End {
            reason,
            detail: detail.clone(),
        });
        self.finish(reason, detail, false);
    }

    /// The relay ended the session (it told the peer too): stop without
    /// sending anything.
    pub fn handle_relay_end(&mut self, reason: EndReason) {
        if !self.ended {
            let detail = crate::e2e::ended_by_peer_detail(reason).unwrap_or_default();
            self.finish(reason, detail.to_owned(), true);
        }
    }

    // ----- inputs

    /// A control message from the peer.
    pub fn handle_message(
        &mut self,
        message: ControlMessage,
        now: Instant,
    ) -> Result<(), PeerViolation> {
        if self.ended {
            return Ok(()); // late messages after the end are dropped
        }
        match (self.side, message) {
            (
                Side::Customer,
                ControlMessage::ModeRequest {
                    request_id,
                    mode,
                    reason,
                },
            ) => self.on_mode_request(request_id, mode, reason, now),
            (Side::Customer, ControlMessage::ControlRequest { request_id }) => {
                match self.sharing.mode() {
                    Some(mode) => self.on_mode_request(request_id, mode, String::new(), now),
                    None => self.answer(request_id, ConsentDecision::Deny),
                }
            }
            (
                Side::Operator,
                ControlMessage::ModeAnswer {
                    request_id,
                    decision,
                    ..
                },
            ) => self.on_mode_answer(request_id, decision),
            (_, ControlMessage::PauseState { paused }) => self.on_peer_pause(paused)?,
            (_, ControlMessage::ControlRevoked { cause }) => self.on_peer_revoke(cause)?,
            (_, ControlMessage::End { reason, detail }) => self.finish(reason, detail, true),
            (
                _,
                ControlMessage::Capabilities(_)
                | ControlMessage::TransferNotice { .. }
                | ControlMessage::InviteNotice { .. }
                | ControlMessage::RecordingNotice { .. }
                | ControlMessage::TimeWarning { .. }
                | ControlMessage::RebootNotice { .. },
            ) => {} // informational; the session layer surfaces these
            (side, other) => {
                return Err(PeerViolation {
                    side,
                    message: variant_name(&other),
                })
            }
        }
        Ok(())
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.incoming.as_ref().map(|p| p.deadline)
    }

    /// Advances time: unanswered requests past their deadline are refused.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(p) = &self.incoming {
            if now >= p.deadline {
                let request_id = p.request_id;
                self.incoming = None;
                self.answer(request_id, ConsentDecision::Timeout);
                self.events
                    .push_back(ControlEvent::ConsentTimedOut { request_id });
            }
        }
    }

    // ----- outputs

    /// The next message to send to the peer.
    pub fn poll_transmit(&mut self) -> Option<ControlMessage> {
        self.transmit.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<ControlEvent> {
        self.events.pop_front()
    }

    // ----- internals

    fn on_mode_request(
        &mut self,
        request_id: u32,
        mode: ConnectionMode,
        reason: String,
        now: Instant,
    ) {
        if !self.policy.allows(mode) {
            self.answer(request_id, ConsentDecision::Deny);
            self.events
                .push_back(ControlEvent::RefusedByPolicy { mode });
            return;
        }
        // A newer request supersedes an unanswered one; the old one is refused.
        if let Some(old) = self.incoming.take() {
            self.answer(old.request_id, ConsentDecision::Deny);
        }
        self.incoming = Some(Incoming {
            request_id,
            mode,
            deadline: now + self.policy.consent_timeout,
        });
        self.events.push_back(ControlEvent::ConsentRequested {
            request_id,
            mode,
            reason,
        });
    }

    fn on_mode_answer(&mut self, request_id: u32, decision: ConsentDecision) {
        let Some(out) = self.outgoing.filter(|o| o.request_id == request_id) else {
            return; // an answer to a request we no longer wait for
        };
        self.outgoing = None;
        match decision {
            ConsentDecision::Allow => self.set_sharing(Sharing::granted(out.mode)),
            other => self.events.push_back(ControlEvent::ModeRefused {
                mode: out.mode,
                decision: other,
            }),
        }
    }

    fn on_peer_pause(&mut self, paused: bool) -> Result<(), PeerViolation> {
        match self.sharing {
            Sharing::Active { mode, control, .. } if !self.side.hosts_in(mode) => {
                self.set_sharing(Sharing::Active {
                    mode,
                    control,
                    paused,
                });
                Ok(())
            }
            Sharing::Idle => Ok(()), // crossed with a stop; harmless
            _ => Err(PeerViolation {
                side: self.side,
                message: "PauseState",
            }),
        }
    }

    fn on_peer_revoke(&mut self, cause: RevokeCause) -> Result<(), PeerViolation> {
        match self.sharing {
            Sharing::Active { mode, paused, .. } if !self.side.hosts_in(mode) => {
                self.set_sharing(Sharing::Active {
                    mode,
                    paused,
                    control: Control::Revoked(cause),
                });
                Ok(())
            }
            Sharing::Idle => Ok(()),
            _ => Err(PeerViolation {
                side: self.side,
                message: "ControlRevoked",
            }),
        }
    }

    fn answer(&mut self, request_id: u32, decision: ConsentDecision) {
        self.transmit.push_back(ControlMessage::ModeAnswer {
            request_id,
            decision,
            mode: self.sharing.mode(),
        });
    }

    fn set_sharing(&mut self, sharing: Sharing) {
        if self.sharing != sharing {
            self.sharing = sharing;
            self.events.push_back(ControlEvent::SharingChanged(sharing));
        }
    }

    fn finish(&mut self, reason: EndReason, detail: String, by_peer: bool) {
        self.ended = true;
        self.end_reason = Some(reason);
        self.ended_by_peer = by_peer;
        self.incoming = None;
        self.outgoing = None;
        self.sharing = Sharing::Idle;
        self.events.push_back(ControlEvent::Ended {
            reason,
            detail,
            by_peer,
        });
    }

    fn check_live(&self) -> Result<(), ControlError> {
        if self.ended {
            Err(ControlError::Ended)
        } else {
            Ok(())
        }
    }

    fn next_id(&mut self) -> u32 {
        let id = self.next_request_id;
        self.next_request_id = self.next_request_id.wrapping_add(1).max(1);
        id
    }
}

fn variant_name(m: &ControlMessage) -> &'static str {
    match m {
        ControlMessage::ModeRequest { .. } => "ModeRequest",
        ControlMessage::ModeAnswer { .. } => "ModeAnswer",
        ControlMessage::ControlRequest { .. } => "ControlRequest",
        _ => "control message",
    }
}

#[cfg(test)]
#[path = "control_tests.rs"]
mod tests;
