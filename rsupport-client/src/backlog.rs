//! Events and backpressure: bounded channels from the connection task to
//! the handles and the lobby, envelopes held for a session whose product
//! is behind, and the viewers' shared framebuffer (see the crate docs,
//! "Events and backpressure").

use std::time::{Duration, Instant};

use rsupport_core::session::screen::ViewerScreenEvent;
use rsupport_core::session::{SessionEvent, Side};
use rsupport_proto::envelope::Envelope;
use rsupport_proto::relay::RelayMessage;
use rsupport_proto::{EndReason, Rect};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tracing::warn;

use super::{ConnectionTask, LobbyItem, Slot};

/// How often a session whose product is behind is looked at again.
pub(super) const BACKLOG_TICK: Duration = Duration::from_millis(10);

/// Events a session handle buffers before the session is held back.
///
/// Policy ("Events and backpressure" in the crate docs): control, chat,
/// file, print and connection events are never dropped. When a handle's
/// channel is full, that session's incoming messages wait in
/// `Slot::held` (its peer's flow control then slows the peer), the
/// session's own events wait in the session, and every other session and
/// the lobby go on. Frame and cursor notices are coalesced (at most one of
/// each queued; see `Latest`) and pixels go through `ViewerShared`.
pub(crate) const EVENT_CAPACITY: usize = 256;
/// Lobby items buffered before they wait in the task (see `lobby_backlog`).
pub(crate) const LOBBY_CAPACITY: usize = 64;
/// Messages held for one session whose product stopped reading; past
/// this the session ends rather than memory growing without bound.
pub(super) const MAX_HELD: usize = 4096;
/// Room a handle's channel needs before a held message is released.
const RELEASE_ROOM: usize = 16;

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> ConnectionTask<S> {
    /// Sends a lobby item, or keeps it until the lobby has room.
    pub(super) fn send_lobby(&mut self, item: LobbyItem) {
        if self.lobby_backlog.is_empty() {
            if let Err(mpsc::error::TrySendError::Full(item)) = self.lobby.try_send(item) {
                self.lobby_backlog.push_back(item);
            }
        } else {
            if matches!(item, LobbyItem::Relay(RelayMessage::PresenceUpdate { .. })) {
                // Superseded: only the newest presence list matters.
                self.lobby_backlog.retain(|i| {
                    !matches!(i, LobbyItem::Relay(RelayMessage::PresenceUpdate { .. }))
                });
            }
            self.lobby_backlog.push_back(item);
        }
    }

    pub(super) fn drain_lobby_backlog(&mut self) {
        while let Some(item) = self.lobby_backlog.pop_front() {
            match self.lobby.try_send(item) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(item)) => {
                    self.lobby_backlog.push_front(item);
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.lobby_backlog.clear();
                    return;
                }
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Viewers waiting for frames learn that none will come.
        self.screen.close();
    }
}

impl Slot {
    /// The product is behind on this session's events: new envelopes wait.
    pub(super) fn behind(&self) -> bool {
        !self.held.is_empty()
            || !self.overflow.is_empty()
            || self.print.as_ref().is_some_and(|p| p.backed_up())
            || (self.events.capacity() == 0 && !self.events.is_closed())
    }

    pub(super) fn handle_envelope(&mut self, envelope: Envelope) {
        let id = envelope.session_id;
        if let Err(e) = self.session.handle_envelope(envelope, Instant::now()) {
            warn!(session = id, "peer protocol error: {e}");
            self.session.end(EndReason::ProtocolError, "protocol error");
        }
    }

    /// Keeps an envelope until the handle has room; ends the session when
    /// its product has stopped reading for good.
    pub(super) fn hold(&mut self, envelope: Envelope) {
        if self.held.len() >= MAX_HELD {
            if !self.session.is_ended() {
                warn!(
                    session = envelope.session_id,
                    "the program stopped reading this session's events; ending it"
                );
                let reason = match self.session.side() {
                    Side::Operator => EndReason::OperatorEnded,
                    Side::Customer => EndReason::CustomerEnded,
                };
                self.session
                    .end(reason, "the program stopped reading session events");
            }
            return;
        }
        self.held.push_back(envelope);
    }

    /// Gives an event to the handle: frame and cursor notices coalesce;
    /// others queue, waiting in `overflow` while the channel is full.
    pub(super) fn emit(&mut self, event: SessionEvent) {
        let Some(event) = self.latest.offer(event) else {
            return;
        };
        if !self.overflow.is_empty() {
            self.overflow.push_back(event);
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(event)) = self.events.try_send(event) {
            self.overflow.push_back(event);
        }
        // Closed: nobody reads this session's events any more.
    }

    /// Moves events to the handle while it has room: first the task's own,
    /// then the session's, then held envelopes one at a time.
    /// Returns whether everything the session had for the handle reached it.
    pub(super) fn pump_events(&mut self) -> bool {
        let mut drained;
        if let Some(print) = self.print.as_mut() {
            print.flush();
        }
        while let Some(event) = self.overflow.pop_front() {
            match self.events.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => {
                    self.overflow.push_front(event);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => self.overflow.clear(),
            }
        }
        loop {
            let closed = self.events.is_closed();
            drained = false;
            while self.overflow.is_empty() && (closed || self.events.capacity() > 0) {
                let Some(event) = self.session.poll_event() else {
                    drained = true;
                    break;
                };
                if let Some(event) = self.on_event(event) {
                    if matches!(
                        event,
                        SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated { .. })
                    ) {
                        // Pixels first, so the notice never runs ahead of them.
                        self.publish_screen();
                    }
                    self.emit(event);
                }
            }
            let print_room = self.print.as_ref().is_none_or(|p| !p.backed_up());
            let room = (closed || self.events.capacity() >= RELEASE_ROOM) && print_room;
            if !self.overflow.is_empty() || !room {
                break;
            }
            let Some(envelope) = self.held.pop_front() else {
                break;
            };
            self.handle_envelope(envelope);
        }
        self.publish_screen();
        if self.held.is_empty() {
            if let Some(reason) = self.pending_end.take() {
                self.session.relay_ended(reason);
                return self.pump_events();
            }
        }
        drained && self.overflow.is_empty()
    }

    /// Copies what changed into the viewers' shared frame (never waits).
    pub(super) fn publish_screen(&mut self) {
        let damage = self.session.viewer().take_damage();
        self.screen_pending.extend(damage);
        if self.screen_pending.len() > 64 {
            let all = std::mem::take(&mut self.screen_pending);
            self.screen_pending.push(Rect::bounding(&all));
        }
        match self.session.framebuffer() {
            Some(frame) => {
                if (!self.screen_pending.is_empty() || !self.screen_shown)
                    && self.screen.publish(frame, &mut self.screen_pending)
                {
                    self.screen_shown = true;
                }
            }
            None => {
                if self.screen_shown && self.screen.clear() {
                    self.screen_shown = false;
                    self.screen_pending.clear();
                }
            }
        }
    }
}
