//! [`SecureChannel`]: the session's side of end-to-end encryption — runs the
//! key exchange, then seals what the session sends and opens what arrives.

use std::collections::VecDeque;
use web_time::Instant;

use bytes::Bytes;
use rsupport_proto::e2e::Handshake;
use rsupport_proto::envelope::{Envelope, PayloadProtection, Priority};
use rsupport_proto::EndReason;

use super::handshake::{Exchange, ExchangeError, Step};
use super::keys::SessionKeys;
use super::record::{RecordError, RecordLayer};
use super::{KeyExchange, Protection, EXCHANGE_TIMEOUT};
use crate::Side;

/// Sealed envelopes kept while the exchange completes (the peer may send
/// right after its confirmation; ours may still be on the way).
const MAX_EARLY: usize = 256;

enum State {
    Plaintext,
    Exchanging(Box<Exchange>),
    Open(Box<RecordLayer>),
    Failed,
}

/// What an envelope from the peer gave.
#[derive(Debug)]
pub(crate) enum Received {
    /// Encoded session messages to decode and handle, in order.
    Messages(Vec<Bytes>),
    /// A payload this session cannot use (say why): dropped and counted
    /// like a malformed message.
    Unusable(&'static str),
    /// The channel cannot go on: end the session with this reason.
    Broken(EndReason, String),
}

/// One session's end-to-end state.
pub(crate) struct SecureChannel {
    session_id: u64,
    side: Side,
    state: State,
    outgoing: VecDeque<Handshake>,
    early: VecDeque<Envelope>,
    deadline: Option<Instant>,
    protection: Protection,
    announced: bool,
    /// The exchange could not even start (no system randomness).
    start_failed: bool,
    /// A record from the peer was refused: nothing more is opened, but
    /// this side may still seal its own end for the peer to read.
    receive_broken: bool,
}

impl std::fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureChannel")
            .field("session_id", &self.session_id)
            .field("protection", &self.protection)
            .finish_non_exhaustive()
    }
}

impl SecureChannel {
    /// A channel for `side` of `session_id`; a customer's first exchange
    /// message is queued at once. A failure to start (no system randomness)
    /// shows on the first [`receive`](Self::receive) or timeout.
    pub(crate) fn new(side: Side, session_id: u64, method: KeyExchange) -> Self {
        let mut channel = SecureChannel {
            session_id,
            side,
            state: State::Plaintext,
            outgoing: VecDeque::new(),
            early: VecDeque::new(),
            deadline: None,
            protection: Protection::Plaintext,
            announced: false,
            start_failed: false,
            receive_broken: false,
        };
        if matches!(method, KeyExchange::Plaintext) {
            return channel;
        }
        channel.protection = Protection::Negotiating;
        match Exchange::start(side, session_id, method) {
            Ok((exchange, step)) => {
                channel.state = State::Exchanging(Box::new(exchange));
                channel.outgoing.extend(step.send);
            }
            Err(_) => {
                channel.state = State::Failed;
                channel.start_failed = true;
            }
        }
        channel
    }

    /// Whether session messages may be sent now (keys agreed, or plaintext).
    pub(crate) fn ready(&self) -> bool {
        matches!(self.state, State::Plaintext | State::Open(_))
    }

    /// How the session is protected now.
    pub(crate) fn protection(&self) -> &Protection {
        &self.protection
    }

    /// The protection to announce once: plaintext at once, encryption when
    /// the keys are agreed.
    pub(crate) fn poll_announcement(&mut self) -> Option<Protection> {
        if self.announced || self.protection == Protection::Negotiating {
            return None;
        }
        self.announced = true;
        Some(self.protection.clone())
    }

    /// The next key-exchange envelope to send.
    pub(crate) fn poll_handshake(&mut self) -> Option<Envelope> {
        let message = self.outgoing.pop_front()?;
        Some(Envelope {
            session_id: self.session_id,
            priority: Priority::Control,
            protection: PayloadProtection::Handshake,
            seq: 0,
            payload: message.encode(),
        })
    }

    /// Wraps an encoded session message for the relay: sealed, or plain in a
    /// plaintext session. `Err` when the keys are used up.
    pub(crate) fn wrap(
        &mut self,
        priority: Priority,
        encoded: Bytes,
        plain_seq: u64,
    ) -> Result<Envelope, RecordError> {
        let (protection, seq, payload) = match &mut self.state {
            State::Open(record) => {
                let (seq, payload) = record.seal(priority, encoded)?;
                (PayloadProtection::Sealed, seq, payload)
            }
            _ => (PayloadProtection::Plain, plain_seq, encoded),
        };
        Ok(Envelope {
            session_id: self.session_id,
            priority,
            protection,
            seq,
            payload,
        })
    }

    /// An envelope from the peer.
    pub(crate) fn receive(&mut self, envelope: Envelope, now: Instant) -> Received {
        self.deadline.get_or_insert(now + EXCHANGE_TIMEOUT);
        if self.receive_broken {
            return Received::Messages(Vec::new());
        }
        match (&mut self.state, envelope.protection) {
            (State::Failed, _) => Received::Messages(Vec::new()),
            (State::Plaintext, PayloadProtection::Plain) => {
                Received::Messages(vec![envelope.payload])
            }
            // A plaintext session has no keys to open or agree with.
            (State::Plaintext, _) => {
                Received::Unusable("a sealed or key-exchange message in a plaintext session")
            }
            (_, PayloadProtection::Plain) => self.tampered_because(
                "a message arrived without end-to-end protection in an encrypted session; \
                 someone between you tried to inject it, so the session was ended"
                    .to_owned(),
            ),
            (State::Exchanging(_), PayloadProtection::Handshake) => self.on_handshake(envelope),
            (State::Exchanging(_), PayloadProtection::Sealed) => {
                if self.early.len() >= MAX_EARLY {
                    return self.fail(
                        EndReason::Tampered,
                        "sealed messages arrived before the key exchange finished",
                    );
                }
                self.early.push_back(envelope);
                Received::Messages(Vec::new())
            }
            (State::Open(_), PayloadProtection::Handshake) => {
                // A late `Failed` from the peer is its word, not a forgery
                // we could detect; anything else after agreement is.
                match Handshake::decode(envelope.payload) {
                    Ok(Handshake::Failed { reason }) => self.fail(
                        EndReason::KeyExchangeFailed,
                        &ExchangeError::PeerFailed(rsupport_proto::text::clean_display_text(
                            &reason, 256,
                        ))
                        .to_string(),
                    ),
                    _ => self.fail(
                        EndReason::Tampered,
                        "a key-exchange message arrived after the keys were agreed",
                    ),
                }
            }
            (State::Open(record), PayloadProtection::Sealed) => {
                match record.open(envelope.priority, envelope.seq, &envelope.payload) {
                    Ok(message) => Received::Messages(vec![message]),
                    Err(e) => self.tampered(e),
                }
            }
            _ => Received::Unusable("a message protected in a way this version does not know"),
        }
    }

    fn tampered(&mut self, e: RecordError) -> Received {
        self.tampered_because(format!(
            "{e}; someone between you changed the traffic, so the session was ended"
        ))
    }

    fn tampered_because(&mut self, detail: String) -> Received {
        if matches!(self.state, State::Open(_)) {
            // Our own direction is sound: the peer can still read why we end.
            self.receive_broken = true;
            return Received::Broken(EndReason::Tampered, detail);
        }
        self.fail(EndReason::Tampered, &detail)
    }

    fn on_handshake(&mut self, envelope: Envelope) -> Received {
        let State::Exchanging(exchange) = &mut self.state else {
            return Received::Messages(Vec::new());
        };
        let step = match Handshake::decode(envelope.payload) {
            Ok(message) => exchange.handle(message),
            Err(_) => Err(ExchangeError::Unexpected("a message that does not decode")),
        };
        match step {
            Ok(Step { send, agreed }) => {
                self.outgoing.extend(send);
                match agreed {
                    Some(agreed) => self.open(&agreed.keys, agreed.verification),
                    None => Received::Messages(Vec::new()),
                }
            }
            Err(e) => {
                if !matches!(e, ExchangeError::PeerFailed(_)) {
                    self.outgoing.push_back(Handshake::Failed {
                        reason: e.to_string(),
                    });
                }
                self.fail(EndReason::KeyExchangeFailed, &e.to_string())
            }
        }
    }

    fn open(&mut self, keys: &SessionKeys, verification: super::Verification) -> Received {
        let mut record = RecordLayer::new(self.side, self.session_id, keys);
        self.protection = Protection::Encrypted {
            fingerprint: keys.fingerprint(),
            verification,
        };
        let mut messages = Vec::with_capacity(self.early.len());
        for env in std::mem::take(&mut self.early) {
            match record.open(env.priority, env.seq, &env.payload) {
                Ok(m) => messages.push(m),
                Err(e) => return self.tampered(e),
            }
        }
        self.state = State::Open(Box::new(record));
        self.deadline = None;
        Received::Messages(messages)
    }

    fn fail(&mut self, reason: EndReason, detail: &str) -> Received {
        self.state = State::Failed;
        self.early.clear();
        self.deadline = None;
        Received::Broken(reason, detail.to_owned())
    }

    /// The path broke: records in flight may be lost.
    pub(crate) fn connection_lost(&mut self) {
        if let State::Open(record) = &mut self.state {
            record.path_broken();
        }
    }

    /// The path was repaired: send in a new epoch from now on.
    pub(crate) fn reconnected(&mut self) -> Option<Received> {
        if let State::Open(record) = &mut self.state {
            if let Err(e) = record.next_send_epoch() {
                return Some(self.tampered(e));
            }
        }
        None
    }

    /// When [`handle_timeout`](Self::handle_timeout) must run.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Exchanging(_) => self.deadline,
            _ => None,
        }
    }

    /// Ends a key exchange that took too long, or that could not start.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Option<Received> {
        let deadline = *self.deadline.get_or_insert(now + EXCHANGE_TIMEOUT);
        match self.state {
            State::Exchanging(_) if now >= deadline => Some(self.fail(
                EndReason::KeyExchangeFailed,
                &ExchangeError::Timeout.to_string(),
            )),
            State::Failed if self.start_failed => {
                self.start_failed = false;
                Some(Received::Broken(
                    EndReason::KeyExchangeFailed,
                    ExchangeError::Random.to_string(),
                ))
            }
            _ => None,
        }
    }
}
