//! Reconnect and resume: when the relay connection drops while sessions are
//! live, the connection task keeps them, dials again with backoff and sends
//! `Resume` for each; the relay's notices about the peer (`PeerSuspended`,
//! `PeerResumed`) drive the same pause/repair cycle on the side that stayed.
//!
//! ```text
//! connection lost ─► every session: connection_lost(), Connection(Reconnecting)
//!                    dial again: 0.25 s, 0.5 s, … 5 s, until RESUME_WINDOW
//!                    Hello, then Resume one session at a time
//! Paired(Resumed) ─► swap in the rotated token, reconnected(), Connection(Resumed)
//! RequestResult   ─► that resume failed: the session ends (PeerLost)
//! ```
//!
//! Resumes go one at a time, and other commands wait meanwhile, because
//! `RequestResult` carries no request id: the first answer after a
//! `Resume` is its answer.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use rsupport_proto::relay::{PairingOrigin, RelayMessage};
use rsupport_proto::{CloseReason, EndReason};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::debug;

use super::{ConnectionTask, LobbyItem, Slot};
use crate::ClientError;
use rsupport_core::session::{ConnectionState, SessionEvent};
use rsupport_core::Side;
use rsupport_net::{LinkError, RelayConnection};

/// Opens a new connection to the relay and says hello as the task's party.
pub(crate) type Dialer<S> = Box<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<RelayConnection<S>, ClientError>> + Send>>
        + Send,
>;

/// First pause between dial attempts; it doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(250);
/// Longest pause between dial attempts.
const MAX_RETRY: Duration = Duration::from_secs(5);
/// How long to keep trying: the relay's default grace period. A relay
/// configured shorter answers the late `Resume` with `NotFound`.
const RESUME_WINDOW: Duration = Duration::from_secs(120);
/// One dial attempt (TCP, TLS, Hello) may take this long.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Resumes in progress on a fresh connection.
#[derive(Debug, Default)]
pub(super) struct Resuming {
    /// The session whose `Resume` is unanswered.
    pub(super) awaiting: Option<u64>,
    /// Sessions still to resume.
    queue: VecDeque<u64>,
}

/// Whether a connection that ended this way is worth resuming on: it
/// dropped, or the relay stopped; not when the relay refused us.
fn worth_resuming(error: &LinkError) -> bool {
    match error {
        LinkError::Io(_) | LinkError::Eof => true,
        LinkError::Closed { reason, .. } => matches!(
            reason,
            CloseReason::Shutdown
                | CloseReason::Timeout
                | CloseReason::SlowConsumer
                | CloseReason::Overloaded
        ),
        _ => false,
    }
}

/// Which end of the path to the peer changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Our relay connection.
    Ours,
    /// The peer's (the relay's notices).
    Peer,
}

impl Slot {
    /// One end of the path broke: the session pauses when the path closes.
    fn path_lost(&mut self, end: End, state: ConnectionState) {
        let was_open = self.path_open();
        match end {
            End::Ours => {
                self.cut = true;
                // What the relay said about the peer no longer holds; it
                // says again when we resume.
                self.peer_away = false;
            }
            End::Peer => self.peer_away = true,
        }
        if was_open {
            self.session.connection_lost();
        }
        self.emit(SessionEvent::Connection(state));
    }

    /// One end of the path is back: the session repairs once both are.
    fn path_back(&mut self, end: End, state: ConnectionState) {
        let mut was_open = self.path_open();
        if end == End::Peer && !self.peer_away && was_open {
            // Back without having been reported gone (the relay saw the
            // new connection before the old one's drop): frames may still
            // have been lost on the way.
            self.session.connection_lost();
            was_open = false;
        }
        match end {
            End::Ours => self.cut = false,
            End::Peer => self.peer_away = false,
        }
        // Repair once per outage: a second `reconnected` would rewind
        // transfers that already resumed.
        if !was_open && self.path_open() {
            self.session.reconnected(Instant::now());
        }
        self.emit(SessionEvent::Connection(state));
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> ConnectionTask<S> {
    /// A customer that has not joined yet, closed by the relay's deadline
    /// to join after Hello (its user is still reading the code off the
    /// phone): waits for its next request, then dials again and sends it
    /// there. `false` when that is not the case, when the customer handle
    /// is gone, or when the dial fails (the join then reports the lost
    /// connection).
    pub(super) async fn redial_for_next_request(&mut self, error: &LinkError) -> bool {
        let closed_for_waiting = matches!(
            error,
            LinkError::Closed {
                reason: CloseReason::Timeout,
                ..
            }
        );
        if self.side != Side::Customer || !self.sessions.is_empty() || !closed_for_waiting {
            return false;
        }
        let Some(command) = self.commands.recv().await else {
            return false;
        };
        let Some(dial) = &self.dial else {
            return false;
        };
        match tokio::time::timeout(DIAL_TIMEOUT, dial()).await {
            Ok(Ok(conn)) => self.conn = conn,
            Ok(Err(e)) => {
                debug!("dialling again for the customer's request failed: {e}");
                return false;
            }
            Err(_) => return false,
        }
        self.on_command(command).await;
        true
    }

    /// The connection ended with `error`. Keeps live sessions and resumes
    /// them on a new connection; false when there is nothing to resume or
    /// the relay could not be reached in time (the sessions then end).
    pub(super) async fn try_reconnect(&mut self, error: &LinkError) -> bool {
        let live = self.sessions.values().any(|s| !s.session.is_ended());
        if self.dial.is_none() || !live || !worth_resuming(error) {
            return false;
        }
        debug!(
            sessions = self.sessions.len(),
            "relay connection lost ({error}); resuming"
        );
        for slot in self.sessions.values_mut() {
            slot.path_lost(End::Ours, ConnectionState::Reconnecting);
        }
        self.send_lobby(LobbyItem::Reconnecting);
        let give_up = Instant::now() + RESUME_WINDOW;
        let mut wait = FIRST_RETRY;
        let conn = loop {
            if let Some(dial) = &self.dial {
                match tokio::time::timeout(DIAL_TIMEOUT, dial()).await {
                    Ok(Ok(conn)) => break Some(conn),
                    Ok(Err(e)) => debug!("reconnect failed: {e}"),
                    Err(_) => debug!("reconnect timed out"),
                }
            }
            if Instant::now() + wait >= give_up {
                break None;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_RETRY);
        };
        let Some(conn) = conn else {
            for slot in self.sessions.values_mut() {
                slot.left = true; // the relay ends it too, when its grace is over
                slot.session.relay_ended(EndReason::PeerLost);
            }
            // Delivers the end events; nothing reaches the (dead) connection.
            let _ = self.flush().await;
            return false;
        };
        self.conn = conn;
        self.resuming.queue = self.sessions.keys().copied().collect();
        self.resume_next().await;
        // A logged-in operator is anonymous on the new connection.
        self.send_lobby(LobbyItem::Reconnected);
        true
    }

    /// Sends `Resume` for the next session in the queue.
    async fn resume_next(&mut self) {
        self.resuming.awaiting = None;
        while let Some(id) = self.resuming.queue.pop_front() {
            let Some(slot) = self.sessions.get(&id) else {
                continue;
            };
            let resume = RelayMessage::Resume {
                session_id: id,
                resume_token: slot.token.clone(),
            };
            self.resuming.awaiting = Some(id);
            if let Err(e) = self.conn.send(&resume).await {
                // The next receive fails too and starts another reconnect.
                debug!("sending Resume failed: {e}");
            }
            return;
        }
    }

    /// Handles relay messages about the path between the parties; returns
    /// the message back when it is not one of those.
    pub(super) async fn on_path_notice(&mut self, message: RelayMessage) -> Option<RelayMessage> {
        match message {
            RelayMessage::Paired(p)
                if p.origin == PairingOrigin::Resumed
                    && self.sessions.contains_key(&p.session_id) =>
            {
                if let Some(slot) = self.sessions.get_mut(&p.session_id) {
                    slot.token = p.resume_token;
                    slot.path_back(End::Ours, ConnectionState::Resumed);
                }
                if self.resuming.awaiting == Some(p.session_id) {
                    self.resume_next().await;
                }
                None
            }
            RelayMessage::RequestResult(r)
                if r.error.is_some() && self.resuming.awaiting.is_some() =>
            {
                if let Some(slot) = self
                    .resuming
                    .awaiting
                    .and_then(|id| self.sessions.get_mut(&id))
                {
                    debug!("resume refused: {}", r.detail);
                    slot.left = true; // the relay no longer has it
                    slot.session.relay_ended(EndReason::PeerLost);
                }
                self.resume_next().await;
                None
            }
            RelayMessage::PeerSuspended {
                session_id,
                grace_ms,
            } => {
                if let Some(slot) = self.sessions.get_mut(&session_id) {
                    slot.path_lost(End::Peer, ConnectionState::PeerSuspended { grace_ms });
                }
                None
            }
            RelayMessage::PeerResumed { session_id } => {
                if let Some(slot) = self.sessions.get_mut(&session_id) {
                    slot.path_back(End::Peer, ConnectionState::PeerResumed);
                }
                None
            }
            other => Some(other),
        }
    }
}
