//! [`Session`]: one side of a live session as a single sans-IO state machine.
//!
//! It joins the channels — control (modes and consent), chat, screen host
//! and viewer, input — and turns their messages into envelopes for the
//! relay. Which half of the screen and input channels is active follows the
//! agreed mode: the customer hosts in the *customer* modes, the operator in
//! the *operator screen* modes.
//!
//! # Run loop
//!
//! ```text
//! loop {
//!     envelope from the relay   → session.handle_envelope(env, now)?
//!     user command              → session.control().request_mode(..) / session.chat().send(..) / ..
//!     session.wants_frame(now)  → capture → session.submit_frame(&frame, now, now_ms)?
//!     deadline reached          → session.handle_timeout(now)
//!     session.inject_pending(&mut injector)         (host: performs admitted input)
//!     while let Some(env) = session.poll_transmit() → send to the relay
//!     while let Some(ev) = session.poll_event()     → show to the user
//! }
//! ```

use std::collections::VecDeque;
use web_time::Instant;

use rsupport_capture::codec::{EncodeError, Limits};
use rsupport_capture::BgraFrame;
use rsupport_input::inject::{InjectError, Injector};
use rsupport_input::{ControlGate, CoordinateMapper, GateEvent, InputController, Outcome};
use rsupport_proto::control::{ControlMessage, RevokeCause};
use rsupport_proto::envelope::Envelope;
use rsupport_proto::input::InputMessage;
use rsupport_proto::screen::ScreenMessage;
use rsupport_proto::session::SessionMessage;
use rsupport_proto::EndReason;

use super::abuse::{AbuseMeter, DroppedStats, Verdict};
use super::chat::Chat;
use super::control::{ControlChannel, ControlEvent};
use super::permissions::{Control, Sharing, Side};
use super::screen::{ScreenHost, ScreenViewer, ViewerError};
use super::types::{InputNotPermitted, SessionConfig, SessionError, SessionEvent};
use crate::annotate::Annotator;
use crate::e2e::{Protection, Received, SecureChannel};
use crate::files::{
    auto_accept_allowed, FileChannel, FileConfig, FileIoRequest, IoId, IoResult, Party,
};

/// Tile cache entries each side keeps (both sides must agree).
pub const TILE_CACHE_ENTRIES: usize = 1024;

fn viewer_limits() -> Limits {
    let mut limits = Limits::default();
    limits.cache_entries = TILE_CACHE_ENTRIES;
    limits
}

/// One side of a live session; the run loop is in the [`session`](crate::session) module docs.
#[derive(Debug)]
pub struct Session {
    session_id: u64,
    control: ControlChannel,
    chat: Chat,
    host: ScreenHost,
    viewer: ScreenViewer,
    input: InputController,
    files: FileChannel,
    annotator: Annotator,
    full_file_control: bool,
    download_dir: Option<std::path::PathBuf>,
    was_hosting: bool,
    ignored_input: u64,
    abuse: AbuseMeter,
    seq: u64,
    secure: SecureChannel,
    outbox: VecDeque<SessionMessage>,
    events: VecDeque<SessionEvent>,
}

impl Session {
    /// A new session; nothing is shared until the customer consents.
    pub fn new(config: SessionConfig, mapper: CoordinateMapper) -> Self {
        Session {
            session_id: config.session_id,
            control: ControlChannel::new(config.side, config.policy),
            chat: Chat::new(config.display_name),
            host: ScreenHost::new(TILE_CACHE_ENTRIES),
            viewer: ScreenViewer::new(viewer_limits()),
            input: InputController::new(ControlGate::new(config.gate), mapper),
            files: FileChannel::new(
                match config.side {
                    Side::Operator => Party::Operator,
                    Side::Customer => Party::Customer,
                },
                FileConfig::default(),
            ),
            annotator: Annotator::new(match config.side {
                Side::Operator => Side::Operator,
                Side::Customer => Side::Customer,
            }),
            full_file_control: config.full_file_control,
            download_dir: config.download_dir,
            was_hosting: false,
            ignored_input: 0,
            abuse: AbuseMeter::default(),
            seq: 0,
            secure: SecureChannel::new(config.side, config.session_id, config.key_exchange),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    // ----- getters

    /// The relay's id for this session.
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// How the session is protected end to end.
    pub fn protection(&self) -> &Protection {
        self.secure.protection()
    }

    /// Our side.
    pub fn side(&self) -> Side {
        self.control.side()
    }

    /// The agreed sharing state.
    pub fn sharing(&self) -> Sharing {
        self.control.sharing()
    }

    /// Whether the session has ended.
    pub fn is_ended(&self) -> bool {
        self.control.is_ended()
    }

    /// Viewer: what we see of the peer's screen.
    pub fn framebuffer(&self) -> Option<&BgraFrame> {
        self.viewer.framebuffer()
    }

    /// Host: input messages dropped: control not granted, or a key this
    /// host cannot map, a press outside the shared area, too many keys held.
    pub fn ignored_input(&self) -> u64 {
        self.ignored_input
    }

    /// Messages from the peer dropped as malformed or out of place (see
    /// [`abuse`](super::abuse)); more than
    /// [`MAX_MALFORMED`](super::abuse::MAX_MALFORMED) within
    /// [`MALFORMED_WINDOW`](super::abuse::MALFORMED_WINDOW) end the session.
    pub fn malformed_count(&self) -> u64 {
        self.abuse.stats().malformed
    }

    /// Everything dropped from the peer: malformed messages, and
    /// well-formed ones not acted on before consent or while paused.
    pub fn dropped(&self) -> DroppedStats {
        self.abuse.stats()
    }

    /// Host: the screen channel (settings in force, counters).
    pub fn screen_host(&self) -> &ScreenHost {
        &self.host
    }

    /// Viewer: the screen channel (cursor, monitors, counters).
    pub fn screen_viewer(&self) -> &ScreenViewer {
        &self.viewer
    }

    /// Host: the input pipeline (held keys, gate state).
    pub fn input(&self) -> &InputController {
        &self.input
    }

    // ----- commands

    /// Modes, consent, pause, revoke and end.
    pub fn control(&mut self) -> &mut ControlChannel {
        &mut self.control
    }

    /// Chat.
    pub fn chat(&mut self) -> &mut Chat {
        &mut self.chat
    }

    /// Viewer: display settings, refresh and screenshot requests.
    pub fn viewer(&mut self) -> &mut ScreenViewer {
        &mut self.viewer
    }

    /// Host: monitors, windows, cursor and screenshot answers.
    pub fn host(&mut self) -> &mut ScreenHost {
        &mut self.host
    }

    /// File transfer: offer, accept, decline, cancel.
    pub fn files(&mut self) -> &mut FileChannel {
        &mut self.files
    }

    /// The drawing tool: strokes, laser, labels, undo, clear; and the layer to render.
    pub fn annotator(&mut self) -> &mut Annotator {
        &mut self.annotator
    }

    /// Messages queued by [`send_input`](Self::send_input) and
    /// [`send_channel_message`](Self::send_channel_message), not yet sent.
    pub fn queued_messages(&self) -> usize {
        self.outbox.len()
    }

    /// Whether a bulk (file) message is waiting to be sent.
    pub fn has_bulk_to_send(&self) -> bool {
        self.files.has_data_to_send()
    }

    /// Viewer: send input to the host, if control is granted now.
    pub fn send_input(&mut self, input: InputMessage) -> Result<(), InputNotPermitted> {
        if !self.control.may_send_input() {
            return Err(InputNotPermitted);
        }
        self.outbox.push_back(SessionMessage::Input(input));
        Ok(())
    }

    /// Sends a message of a channel the application drives itself (files,
    /// print, annotations).
    pub fn send_channel_message(&mut self, message: SessionMessage) {
        self.outbox.push_back(message);
    }

    /// Host: the local user used mouse or keyboard (local input wins).
    pub fn local_activity(&mut self, now: Instant) {
        self.input.handle_local_activity(now);
        self.drain_gate();
    }

    /// Host: the coordinate mapping changed (monitor or window selection).
    pub fn set_input_mapper(&mut self, mapper: CoordinateMapper) {
        self.input.set_mapper(mapper);
    }

    /// Ends the session.
    pub fn end(&mut self, reason: EndReason, detail: impl Into<String>) {
        self.control.end(reason, detail);
        self.sync();
    }

    /// Whether we host and sharing is on (not paused).
    pub fn sends_screen(&self) -> bool {
        self.control.sends_screen()
    }

    /// Why the session ended, once it has.
    pub fn end_reason(&self) -> Option<EndReason> {
        self.control.end_reason()
    }

    /// Whether the peer ended the session. Its own `LeaveSession` is then on
    /// the way to the relay, which records the peer's reason; a driver
    /// should give it a moment before leaving itself (the relay attributes a
    /// party's leave to that party).
    pub fn ended_by_peer(&self) -> bool {
        self.control.ended_by_peer()
    }

    /// The path to the peer broke (our connection dropped, or the relay says
    /// the peer's did): messages in flight are lost. Pauses file transfers
    /// until [`reconnected`](Self::reconnected) and, on the host side,
    /// releases held keys and buttons (nothing stays pressed while the
    /// viewer cannot let go).
    pub fn connection_lost(&mut self) {
        self.secure.connection_lost();
        self.files.connection_lost();
        if self.control.is_host() {
            self.input.connection_lost();
            self.drain_gate();
        }
        self.sync();
    }

    /// The path to the peer is back: repeat what the peer may have missed,
    /// resume transfers from their last confirmed byte, and restart the
    /// screen halves so the next frame is a key frame on a fresh tile cache
    /// on both sides.
    pub fn reconnected(&mut self, now: Instant) {
        // Records lost in the drop would look like a cut stream: what we
        // send from here on starts a new key epoch.
        if let Some(broken) = self.secure.reconnected() {
            let _ = self.on_received(broken, now);
        }
        self.files.reconnected(now);
        self.host.restart();
        self.viewer.restart();
        // Control granted before the drop flows again (the gate stopped it).
        let sharing = self.control.sharing();
        self.apply_sharing(sharing);
        self.sync();
    }

    /// The relay ended the session (time limit, admin, peer lost): stop
    /// without telling the peer, which the relay told as well.
    pub fn relay_ended(&mut self, reason: EndReason) {
        self.control.handle_relay_end(reason);
        self.sync();
    }

    /// Host: whether a frame should be captured and submitted now.
    pub fn wants_frame(&self, now: Instant) -> bool {
        self.control.sends_screen() && self.host.wants_frame(now)
    }

    /// Host: encodes a captured frame (ignored unless sharing is on).
    pub fn submit_frame(
        &mut self,
        frame: &BgraFrame,
        now: Instant,
        now_ms: u64,
    ) -> Result<bool, EncodeError> {
        if !self.control.sends_screen() {
            return Ok(false);
        }
        self.host.submit_frame(frame, now, now_ms)
    }

    /// Host: performs the admitted input through `injector`.
    pub fn inject_pending<I: Injector + ?Sized>(
        &mut self,
        injector: &mut I,
    ) -> Result<usize, InjectError> {
        self.input.inject_pending(injector)
    }

    // ----- inputs

    /// An envelope from the relay for this session. One that does not
    /// decode, or whose message is not allowed here, is dropped and counted;
    /// `Err` only for a violation that ends the session (the caller ends it
    /// with [`EndReason::ProtocolError`]).
    pub fn handle_envelope(
        &mut self,
        envelope: Envelope,
        now: Instant,
    ) -> Result<(), SessionError> {
        if envelope.session_id != self.session_id {
            let result = Err(SessionError::WrongSession {
                expected: self.session_id,
                got: envelope.session_id,
            });
            return self.settle(result, now);
        }
        let received = self.secure.receive(envelope, now);
        self.on_received(received, now)
    }

    /// Handles what the secure channel opened, or ends the session when it
    /// broke (a failed key exchange, a forged or replayed record).
    fn on_received(&mut self, received: Received, now: Instant) -> Result<(), SessionError> {
        match received {
            Received::Messages(payloads) => {
                for payload in payloads {
                    let result = match SessionMessage::decode(payload) {
                        Ok(message) => self.dispatch(message, now),
                        Err(e) => Err(e.into()),
                    };
                    self.settle(result, now)?;
                }
                self.sync();
                Ok(())
            }
            Received::Unusable(what) => self.settle(Err(SessionError::Unusable(what)), now),
            Received::Broken(reason, detail) => {
                if !self.control.is_ended() {
                    self.control.end(reason, detail);
                }
                self.sync();
                Ok(())
            }
        }
    }

    /// A decoded session message from the peer (see
    /// [`handle_envelope`](Self::handle_envelope) for what is dropped).
    pub fn handle_message(
        &mut self,
        message: SessionMessage,
        now: Instant,
    ) -> Result<(), SessionError> {
        let result = self.dispatch(message, now);
        self.settle(result, now)
    }

    /// Drops and counts what need not end the session; ends it with
    /// `PeerMisbehaved` (told to the peer) past the cut-off.
    fn settle(
        &mut self,
        result: Result<(), SessionError>,
        now: Instant,
    ) -> Result<(), SessionError> {
        let result = match result {
            Err(e) if !e.ends_session() => {
                if !self.control.is_ended() {
                    match self.abuse.malformed(now) {
                        Verdict::First => self.events.push_back(SessionEvent::PeerMessageDropped {
                            what: e.to_string(),
                        }),
                        Verdict::Counted => {}
                        Verdict::Exceeded => self.control.end(
                            EndReason::PeerMisbehaved,
                            "the other side sent too many malformed messages",
                        ),
                    }
                }
                Ok(())
            }
            other => other,
        };
        self.sync();
        result
    }

    fn dispatch(&mut self, message: SessionMessage, now: Instant) -> Result<(), SessionError> {
        match message {
            SessionMessage::Control(m) => match m {
                ControlMessage::Capabilities(_)
                | ControlMessage::TransferNotice { .. }
                | ControlMessage::InviteNotice { .. }
                | ControlMessage::RecordingNotice { .. }
                | ControlMessage::TimeWarning { .. }
                | ControlMessage::RebootNotice { .. } => {
                    self.events.push_back(SessionEvent::Notice(m));
                }
                other => self.control.handle_message(other, now)?,
            },
            SessionMessage::Chat(m) => self.chat.handle_message(m),
            SessionMessage::Screen(m) => self.on_screen(m)?,
            SessionMessage::Input(m) => {
                // Consent is enforced here, on the host's side: input that
                // the host's own state does not allow is dropped, whatever
                // the peer believes.
                if self.control.accepts_input() {
                    // A valid key this host cannot map, a press outside the
                    // shared area, a closed gate: dropped and counted.
                    if self.input.handle_input(now, &m) != Outcome::Accepted {
                        self.ignored_input += 1;
                    }
                    self.drain_gate();
                } else {
                    self.ignored_input += 1;
                }
            }
            SessionMessage::File(m) => self
                .files
                .handle(m, now)
                .map_err(|e| SessionError::Files(e.to_string()))?,
            SessionMessage::Annotate(m) => {
                // Nothing is drawn before the customer granted a mode. A
                // drawing the layer refuses (over its budget) is dropped,
                // not fatal: annotations are best effort.
                if self.sharing() == Sharing::Idle {
                    self.abuse.ignored();
                } else if self.annotator.handle(&m, now).is_ok() {
                    self.events.push_back(SessionEvent::AnnotationsChanged);
                } else {
                    self.abuse.ignored();
                }
            }
            other => self.events.push_back(SessionEvent::Channel(other)),
        }
        Ok(())
    }

    /// A screen message: to the host half while we host, to the viewer
    /// half only while the customer granted a mode in which we view;
    /// otherwise not even decoded.
    fn on_screen(&mut self, m: ScreenMessage) -> Result<(), SessionError> {
        if self.control.is_host() {
            // A screenshot is a capture: none while sharing is paused.
            if matches!(m, ScreenMessage::ScreenshotRequest { .. }) && !self.control.sends_screen()
            {
                self.abuse.ignored();
                return Ok(());
            }
            return self
                .host
                .handle_message(m)
                .map_err(|what| SessionError::Screen(what.to_owned()));
        }
        if self.sharing() == Sharing::Idle {
            // Before consent (or after sharing stopped): a frame, cursor or
            // monitor list of the peer's screen is not ours to show.
            self.abuse.ignored();
            return Ok(());
        }
        match self.viewer.handle_message(m) {
            Ok(()) => Ok(()),
            Err(e) => {
                if let ViewerError::Codec(_) = e {
                    // The picture stays; the host starts over from a key frame.
                    self.viewer.request_refresh();
                }
                Err(SessionError::Screen(e.to_string()))
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.control.poll_timeout(),
            self.input.poll_timeout(),
            self.files.poll_timeout(),
            self.secure.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Advances time.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(broken) = self.secure.handle_timeout(now) {
            let _ = self.on_received(broken, now);
        }
        self.control.handle_timeout(now);
        self.input.handle_timeout(now);
        self.files.handle_timeout(now);
        self.annotator.handle_timeout(now);
        self.drain_gate();
        self.sync();
    }

    // ----- outputs

    /// The next envelope to send to the relay, most urgent channel first.
    pub fn poll_transmit(&mut self) -> Option<Envelope> {
        self.sync();
        if let Some(handshake) = self.secure.poll_handshake() {
            return Some(handshake);
        }
        // Nothing of the session leaves before both sides confirmed the
        // keys: it waits in its channel's queue.
        if !self.secure.ready() {
            return None;
        }
        let message = self.next_message()?;
        let encoded = message.encode_with_room(crate::e2e::RECORD_OVERHEAD);
        match self.wrap(message.priority(), encoded) {
            Ok(envelope) => Some(envelope),
            Err(e) => {
                self.control.end(EndReason::Tampered, e.to_string());
                self.sync();
                None
            }
        }
    }

    fn next_message(&mut self) -> Option<SessionMessage> {
        if let Some(m) = self.control.poll_transmit() {
            return Some(m.into());
        }
        if let Some(i) = self
            .outbox
            .iter()
            .position(|m| matches!(m, SessionMessage::Input(_)))
        {
            return self.outbox.remove(i);
        }
        if let Some(m) = self.viewer.poll_transmit() {
            return Some(m.into());
        }
        if let Some(m) = self.host.poll_transmit() {
            return Some(m.into());
        }
        if let Some(m) = self.chat.poll_transmit() {
            return Some(m.into());
        }
        if let Some(m) = self.annotator.poll_transmit() {
            return Some(m.into());
        }
        if let Some(m) = self.outbox.pop_front() {
            return Some(m);
        }
        // Last, and one chunk per call: the driver interleaves file data
        // with the screen and input it sends in between.
        self.files.poll_transmit().map(Into::into)
    }

    /// Wraps `payload` as if it were an encoded session message of class
    /// `priority` — sealed once the keys are agreed — without checking that
    /// it decodes: what a hostile peer holding the keys could send. For
    /// fuzzers and tests of what a session does with bad input; products
    /// never need it. `None` before the keys are agreed.
    #[doc(hidden)]
    pub fn wrap_raw(
        &mut self,
        priority: rsupport_proto::envelope::Priority,
        payload: bytes::Bytes,
    ) -> Option<Envelope> {
        if !self.secure.ready() {
            return None;
        }
        self.wrap(priority, payload).ok()
    }

    /// Numbers and wraps (seals, once keys are agreed) one payload.
    fn wrap(
        &mut self,
        priority: rsupport_proto::envelope::Priority,
        payload: bytes::Bytes,
    ) -> Result<Envelope, crate::e2e::RecordError> {
        self.seq += 1;
        self.secure.wrap(priority, payload, self.seq)
    }

    /// The next file IO to perform (on a worker, not the task that moves
    /// input and frames); pass its outcome to [`handle_io`](Self::handle_io).
    pub fn poll_io(&mut self) -> Option<FileIoRequest> {
        self.files.poll_io()
    }

    /// The outcome of a [`FileIoRequest`], in any order. A failed request
    /// fails its transfer (a [`FileEvent`](crate::files::FileEvent)), never the session.
    pub fn handle_io(&mut self, id: IoId, result: IoResult, now: Instant) {
        self.files.handle_io(id, result, now);
        self.sync();
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.sync();
        self.events.pop_front()
    }

    // ----- internals

    /// Carries local-input takeovers from the input gate to the control channel.
    fn drain_gate(&mut self) {
        while let Some(event) = self.input.poll_gate_event() {
            if let GateEvent::Revoked(cause) = event {
                let _ = self.control.revoke_control(cause);
            }
        }
    }

    /// Keeps the input gate and the screen halves in step with the agreed
    /// sharing state, and collects channel events.
    fn sync(&mut self) {
        if let Some(p) = self.secure.poll_announcement() {
            self.events.push_back(SessionEvent::Protection(p));
        }
        while let Some(e) = self.control.poll_event() {
            if let ControlEvent::SharingChanged(sharing) = &e {
                self.apply_sharing(*sharing);
            }
            if let ControlEvent::Ended { .. } = &e {
                self.input.end();
                self.drain_gate();
            }
            self.events.push_back(SessionEvent::Control(e));
        }
        while let Some(e) = self.chat.poll_event() {
            self.events.push_back(SessionEvent::Chat(e));
        }
        while let Some(e) = self.files.poll_event() {
            self.events.push_back(SessionEvent::File(e));
        }
        while let Some(e) = self.host.poll_event() {
            self.events.push_back(SessionEvent::HostScreen(e));
        }
        while let Some(e) = self.viewer.poll_event() {
            self.events.push_back(SessionEvent::ViewerScreen(e));
        }
    }

    fn apply_sharing(&mut self, sharing: Sharing) {
        let side = self.control.side();
        self.update_auto_accept(sharing);
        let hosting = sharing.mode().is_some_and(|m| side.hosts_in(m));
        if hosting && !self.was_hosting {
            self.host.restart();
        }
        if !hosting && self.was_hosting {
            self.viewer.restart();
        }
        self.was_hosting = hosting;
        match sharing {
            Sharing::Active { paused: true, .. } => self.input.pause(),
            Sharing::Active {
                control: Control::Granted,
                ..
            } if hosting => {
                self.input.resume();
                self.input.grant();
            }
            Sharing::Active {
                control: Control::Revoked(cause),
                ..
            } if hosting => self.input.revoke(cause),
            _ => self.input.set_view_only(),
        }
        // Viewer side: nothing to gate locally, but a view-only host must
        // never be left with keys held from an earlier control mode.
        self.drain_gate();
    }

    /// Offers from the operator skip the customer's prompt only while the
    /// admin's grant holds, the mode is control/manage, control is granted
    /// right now (not revoked, not paused) and a folder is set. Each
    /// sharing change re-decides, so giving control back turns it on again
    /// (SECURITY M6).
    fn update_auto_accept(&mut self, sharing: Sharing) {
        let controlled_now = match sharing {
            Sharing::Active {
                mode,
                paused: false,
                control: Control::Granted,
            } => Some(mode),
            _ => None,
        };
        let allowed = self.control.side() == Side::Customer
            && controlled_now.is_some_and(|m| auto_accept_allowed(self.full_file_control, m));
        match (&self.download_dir, allowed) {
            (Some(dir), true) => self.files.set_auto_accept(Some(dir.clone())),
            _ => self.files.set_auto_accept(None),
        }
    }

    /// Host: revoke control now (the user pressed "stop control").
    pub fn revoke_control(&mut self) {
        let _ = self.control.revoke_control(RevokeCause::User);
        self.sync();
    }

    /// Host: pause or resume sharing.
    pub fn set_paused(&mut self, paused: bool) -> Result<(), super::control::ControlError> {
        let r = self.control.set_paused(paused);
        self.sync();
        r
    }
}
