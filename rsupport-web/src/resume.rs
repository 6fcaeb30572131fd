//! Reconnect and resume in the browser: when the WebSocket drops while
//! sessions are live, the console keeps them (their keys, screens, file
//! transfers) and the page dials again; on the new connection every session
//! is resumed with its rotating token, one at a time (the relay's failure
//! answer carries no request id), and transfers continue where they
//! stopped. The relay's notices about the customer's connection
//! (`PeerSuspended`, `PeerResumed`) pause and repair the same way.
//!
//! A new connection is not logged in: sessions need no login to resume,
//! but issuing codes does (the page asks for the password again; the SDK
//! keeps none).

use bytes::BytesMut;
use rsupport_core::session::ConnectionState;
use rsupport_proto::relay::{PairingOrigin, RelayMessage};
use rsupport_proto::EndReason;
use web_time::Instant;

use crate::console::{Console, Phase};
use crate::events::ConsoleEvent;
use crate::live::PathEnd;

impl Console {
    /// The WebSocket closed. With live sessions the console waits for
    /// [`reconnected`](Self::reconnected) ([`wants_reconnect`](Self::wants_reconnect));
    /// without, it is closed for good.
    pub fn connection_lost(&mut self) {
        if self.phase == Phase::Closed {
            return;
        }
        let live = self.sessions.values().any(|l| !l.session.is_ended());
        if !live {
            self.close(
                "the connection to the relay dropped; reload the page to connect again".into(),
            );
            return;
        }
        self.phase = Phase::Disconnected;
        self.reset_link();
        for live in self.sessions.values_mut() {
            live.path_lost(PathEnd::Ours, ConnectionState::Reconnecting);
            live.drain_events(&mut self.events);
        }
        self.events.push_back(ConsoleEvent::Reconnecting);
    }

    /// Whether the page should dial the relay again (sessions wait).
    pub fn wants_reconnect(&self) -> bool {
        self.phase == Phase::Disconnected
    }

    /// A new WebSocket is open: say hello; sessions resume once the relay
    /// answers.
    pub fn reconnected(&mut self) {
        if self.phase != Phase::Disconnected {
            return;
        }
        self.reset_link();
        self.phase = Phase::Greeting;
        self.redialed = true;
        self.resume_queue = self.sessions.keys().copied().collect();
        self.hello();
    }

    /// The page gave up dialing: the sessions end.
    pub fn give_up(&mut self) {
        self.close("the relay could not be reached again; the sessions ended".into());
    }

    fn reset_link(&mut self) {
        self.inbound = BytesMut::new();
        self.decoder = rsupport_proto::framing::FrameDecoder::new(Default::default());
        self.outbound.clear();
        self.awaiting.clear();
        self.logged_in = false;
        self.resuming = None;
        self.last_sent = None;
    }

    /// Sends `Resume` for the next session waiting for one.
    pub(crate) fn resume_next(&mut self) {
        self.resuming = None;
        while let Some(id) = self.resume_queue.pop_front() {
            let Some(live) = self.sessions.get(&id) else {
                continue;
            };
            let resume = RelayMessage::Resume {
                session_id: id,
                resume_token: live.token.clone(),
            };
            self.resuming = Some(id);
            self.send(&resume);
            return;
        }
        // Every session resumed (or ended): say so once, and only after a
        // drop, not on the first connection.
        if self.phase == Phase::Ready && std::mem::take(&mut self.redialed) {
            self.events.push_back(ConsoleEvent::Reconnected);
        }
    }

    /// Handles the relay's messages about the path between the parties;
    /// gives back the others.
    pub(crate) fn on_path_notice(
        &mut self,
        message: RelayMessage,
        now: Instant,
    ) -> Option<RelayMessage> {
        match message {
            RelayMessage::Paired(p)
                if p.origin == PairingOrigin::Resumed
                    && self.sessions.contains_key(&p.session_id) =>
            {
                if let Some(live) = self.sessions.get_mut(&p.session_id) {
                    live.token = p.resume_token;
                    live.path_back(PathEnd::Ours, ConnectionState::Resumed, now);
                }
                if self.resuming == Some(p.session_id) {
                    self.resume_next();
                }
                None
            }
            RelayMessage::RequestResult(r) if r.error.is_some() && self.resuming.is_some() => {
                if let Some(live) = self.resuming.and_then(|id| self.sessions.get_mut(&id)) {
                    // The relay no longer has it (grace period over).
                    live.relay_ended(EndReason::PeerLost);
                }
                self.resume_next();
                None
            }
            RelayMessage::PeerSuspended {
                session_id,
                grace_ms,
            } => {
                if let Some(live) = self.sessions.get_mut(&session_id) {
                    live.path_lost(PathEnd::Peer, ConnectionState::PeerSuspended { grace_ms });
                }
                None
            }
            RelayMessage::PeerResumed { session_id } => {
                if let Some(live) = self.sessions.get_mut(&session_id) {
                    live.path_back(PathEnd::Peer, ConnectionState::PeerResumed, now);
                }
                None
            }
            other => Some(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsupport_proto::framing::{encode_frame, FrameKind, FrameLimits};
    use rsupport_proto::relay::HelloAck;

    fn hello_ack() -> Vec<u8> {
        let ack = RelayMessage::HelloAck(HelloAck {
            version: rsupport_proto::PROTOCOL_VERSION,
            relay_name: "relay".into(),
            now_ms: 0,
        });
        let mut out = bytes::BytesMut::new();
        let encoded = encode_frame(
            FrameKind::Relay,
            &ack.encode(),
            &FrameLimits::default(),
            &mut out,
        );
        assert!(encoded.is_ok());
        out.to_vec()
    }

    #[test]
    fn the_first_connection_is_no_reconnection() {
        let mut console = Console::new("test");
        console.receive(&hello_ack(), Instant::now());
        let events: Vec<_> = std::iter::from_fn(|| console.poll_event()).collect();
        assert_eq!(
            events,
            vec![ConsoleEvent::Connected {
                relay_name: "relay".into()
            }]
        );
        assert!(!console.wants_reconnect());
    }

    #[test]
    fn a_drop_without_sessions_closes_for_good() {
        let mut console = Console::new("test");
        console.receive(&hello_ack(), Instant::now());
        console.connection_lost();
        assert!(!console.wants_reconnect());
        let last = std::iter::from_fn(|| console.poll_event()).last();
        assert!(
            matches!(last, Some(ConsoleEvent::Closed { .. })),
            "{last:?}"
        );
    }
}
