//! [`LiveSession`]: one session of the console, the operator's side of the
//! sans-IO [`Session`], with what the page asks of it in page terms (mode
//! names, DOM key codes, canvas pixels).

use std::collections::VecDeque;
use std::time::Duration;

use rsupport_core::e2e::KeyExchange;
use rsupport_core::session::screen::ViewerScreenEvent;
use rsupport_core::session::{
    ChatEvent, ConnectionState, ControlEvent, Session, SessionConfig, SessionEvent, SessionPolicy,
    Side,
};
use rsupport_input::{CoordinateMapper, GateConfig, Monitor};
use rsupport_proto::control::ControlMessage;
use rsupport_proto::envelope::Envelope;
use rsupport_proto::input::{InputMessage, KeyInput, MouseButton, SpecialKey, WheelDelta};
use rsupport_proto::relay::{Paired, Secret};
use rsupport_proto::session::SessionMessage;
use rsupport_proto::{EndReason, Point, Rect};
use web_time::Instant;

use crate::console::ConsoleError;
use crate::events::{mode_from_name, ConsoleEvent};
use crate::files::{BrowserFiles, MAX_HELD_BYTES};
use rsupport_core::files::{IoDone, IoId, OutgoingEntry, StoreError};

/// How long after the customer ended a session we leave it ourselves
/// when the relay has not said `SessionEnded` (see `Console`).
const PEER_LEAVE_GRACE: Duration = Duration::from_secs(3);

/// Which end of the path between the parties changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathEnd {
    /// Our WebSocket.
    Ours,
    /// The customer's connection to the relay.
    Peer,
}

/// One running session (see the module docs).
#[derive(Debug)]
pub struct LiveSession {
    pub(crate) session: Session,
    /// Sent `LeaveSession` already (or the relay ended it).
    left: bool,
    /// When to leave a session the customer ended, if the relay is silent.
    leave_at: Option<Instant>,
    /// Files in the page's memory and reads of the page's `File`s.
    files: BrowserFiles,
    /// Reads handed to the page, by the number the page knows them by.
    reads: std::collections::HashMap<u64, IoId>,
    /// The last screenshot, until the page takes it.
    pub(crate) screenshot: Option<bytes::Bytes>,
    pub(crate) next_screenshot: u32,
    /// The drawing layer's version the page last heard of.
    drawings_version: u64,
    /// Print jobs from the customer.
    print: crate::print::PrintInbox,
    /// Rejoins the session after a dropped connection (rotates each time).
    pub(crate) token: rsupport_proto::relay::Secret<bytes::Bytes>,
    /// Path changes for the page.
    connection_events: VecDeque<ConnectionState>,
    /// Our connection is down / the customer's is.
    cut: bool,
    peer_away: bool,
}

impl LiveSession {
    /// The operator's side of a session the relay just paired. `secret` is
    /// the code's secret digits when the customer joined with a code issued
    /// here; without them a code session cannot agree keys and ends with
    /// `KeyExchangeFailed`, which is what must happen.
    pub(crate) fn start(
        paired: &Paired,
        display_name: &str,
        secret: Option<Secret<String>>,
    ) -> Option<Self> {
        let key_exchange = if paired.plaintext {
            KeyExchange::Plaintext
        } else {
            match paired.origin {
                rsupport_proto::relay::PairingOrigin::Contact => KeyExchange::Contact {
                    helpdesk: None,
                    pinned: None,
                },
                _ => KeyExchange::Code {
                    secret: secret.unwrap_or_default(),
                },
            }
        };
        let plaintext = matches!(key_exchange, KeyExchange::Plaintext);
        let mut session = Session::new(
            SessionConfig {
                side: Side::Operator,
                session_id: paired.session_id,
                display_name: display_name.to_owned(),
                // The admin's list as given: empty means chat only.
                policy: SessionPolicy::allowing(paired.allowed_modes.iter().copied()),
                gate: GateConfig::default(),
                full_file_control: paired.full_file_control,
                download_dir: None,
                key_exchange,
            },
            placeholder_mapper()?,
        );
        if plaintext {
            // The browser console never accepts a session the relay could read.
            session.end(
                EndReason::NotEncrypted,
                "the customer's program cannot encrypt end to end; ask the customer to update it",
            );
        }
        session.files().set_max_received_bytes(MAX_HELD_BYTES);
        Some(LiveSession {
            session,
            left: false,
            leave_at: None,
            files: BrowserFiles::default(),
            reads: std::collections::HashMap::new(),
            screenshot: None,
            next_screenshot: 0,
            drawings_version: 0,
            print: crate::print::PrintInbox::new(paired.remote_printing),
            token: paired.resume_token.clone(),
            connection_events: VecDeque::new(),
            cut: false,
            peer_away: false,
        })
    }

    // ----- what the page asks

    /// Asks the customer for a mode by its page name ("view", "control" …).
    pub fn request_mode(&mut self, mode: &str, reason: &str) -> Result<(), ConsoleError> {
        let mode = mode_from_name(mode)
            .ok_or_else(|| ConsoleError::Session(format!("there is no mode called {mode:?}")))?;
        self.session
            .control()
            .request_mode(mode, reason)
            .map(|_| ())
            .map_err(|e| ConsoleError::Session(e.to_string()))
    }

    /// Sends a chat line.
    pub fn chat(&mut self, text: &str, now_ms: u64) -> Result<(), ConsoleError> {
        self.session
            .chat()
            .send(text, now_ms)
            .map(|_| ())
            .map_err(|e| ConsoleError::Session(e.to_string()))
    }

    /// Tells the customer we are typing in the chat box, or stopped.
    pub fn chat_typing(&mut self, typing: bool) {
        self.session.chat().set_typing(typing);
    }

    /// The pointer moved to (x, y) in screen pixels.
    pub fn pointer_move(&mut self, x: i32, y: i32) -> Result<(), ConsoleError> {
        self.input(InputMessage::PointerMove {
            position: Point { x, y },
        })
    }

    /// A button (DOM `MouseEvent.button`: 0 left, 1 middle, 2 right, 3 back,
    /// 4 forward) went down or up at (x, y).
    pub fn pointer_button(
        &mut self,
        button: u8,
        pressed: bool,
        x: i32,
        y: i32,
    ) -> Result<(), ConsoleError> {
        let button = match button {
            0 => MouseButton::Left,
            1 => MouseButton::Middle,
            2 => MouseButton::Right,
            3 => MouseButton::Back,
            4 => MouseButton::Forward,
            _ => return Ok(()),
        };
        self.input(InputMessage::PointerButton {
            button,
            pressed,
            position: Point { x, y },
        })
    }

    /// Wheel movement in 1/120ths of a notch.
    pub fn wheel(&mut self, dx: i32, dy: i32) -> Result<(), ConsoleError> {
        self.input(InputMessage::Wheel(WheelDelta { dx, dy }))
    }

    /// A key, as DOM `KeyboardEvent.code` and the keysym its `key` produced
    /// (0: unknown, the customer's side uses the physical key).
    pub fn key(
        &mut self,
        code: &str,
        keysym: u32,
        pressed: bool,
        repeat: bool,
    ) -> Result<(), ConsoleError> {
        let mut key = KeyInput::new(code, (keysym != 0).then_some(keysym), pressed);
        key.repeat = repeat;
        self.input(InputMessage::Key(key))
    }

    /// Text an input method committed (Japanese after conversion) or a paste.
    pub fn text(&mut self, text: &str) -> Result<(), ConsoleError> {
        self.input(InputMessage::Text {
            text: text.to_owned(),
        })
    }

    /// A named key sequence: "ctrl_alt_del", "alt_hankaku_zenkaku".
    pub fn special(&mut self, name: &str) -> Result<(), ConsoleError> {
        let key = match name {
            "ctrl_alt_del" => SpecialKey::CtrlAltDel,
            "alt_hankaku_zenkaku" => SpecialKey::AltHankakuZenkaku,
            "hankaku_zenkaku" => SpecialKey::HankakuZenkaku,
            other => {
                return Err(ConsoleError::Session(format!(
                    "there is no special key called {other:?}"
                )))
            }
        };
        self.input(InputMessage::Special(key))
    }

    /// Releases every key and button we hold (the canvas lost focus).
    pub fn release_all(&mut self) -> Result<(), ConsoleError> {
        self.input(InputMessage::ReleaseAll)
    }

    /// Asks the customer's side for a full frame again.
    pub fn refresh(&mut self) {
        self.session.viewer().request_refresh();
    }

    /// Offers files the page holds as `File`s: `(name, size)` each. Returns
    /// the transfer id and, per file, the name the page's reads will use.
    pub fn offer_files(&mut self, files: &[(String, u64)], now: Instant) -> (u64, Vec<String>) {
        let mut uploads = Vec::with_capacity(files.len());
        let entries = files
            .iter()
            .map(|(name, size)| {
                let upload = self.files.upload_name();
                let entry = OutgoingEntry::file(name.clone(), *size, &upload);
                uploads.push(upload);
                entry
            })
            .collect();
        (self.session.files().offer(entries, now), uploads)
    }

    /// The page read what [`ConsoleEvent::FileRead`] asked for.
    pub fn read_done(&mut self, read: u64, bytes: Vec<u8>, now: Instant) {
        if let Some(id) = self.reads.remove(&read) {
            let done = IoDone::Data(bytes::Bytes::from(bytes));
            self.session.handle_io(id, Ok(done), now);
        }
    }

    /// The page could not read a file (it was moved or is unreadable).
    pub fn read_failed(&mut self, read: u64, now: Instant) {
        if let Some(id) = self.reads.remove(&read) {
            let error = StoreError::io("read", std::io::ErrorKind::Other);
            self.session.handle_io(id, Err(error), now);
        }
    }

    /// Accepts the customer's offer: the files come into the page's memory.
    pub fn accept_files(&mut self, transfer: u64, now: Instant) -> Result<(), ConsoleError> {
        let folder = BrowserFiles::downloads_folder();
        if self.session.files().accept_into(transfer, folder, now) {
            Ok(())
        } else {
            Err(ConsoleError::Session(
                "that offer is no longer waiting".into(),
            ))
        }
    }

    /// Declines the customer's offer.
    pub fn decline_files(&mut self, transfer: u64) -> Result<(), ConsoleError> {
        if self
            .session
            .files()
            .decline(transfer, "the operator declined")
        {
            Ok(())
        } else {
            Err(ConsoleError::Session(
                "that offer is no longer waiting".into(),
            ))
        }
    }

    /// Stops a transfer either way.
    pub fn cancel_files(&mut self, transfer: u64, now: Instant) {
        self.session
            .files()
            .cancel(transfer, "the operator cancelled", now);
    }

    /// A received file for the page to save (and forget here).
    pub fn take_download(&mut self, id: u64) -> Option<crate::files::Download> {
        self.files.take_download(id)
    }

    /// Runs the session's file IO: in memory, or handed to the page.
    pub(crate) fn run_io(&mut self, now: Instant, out: &mut VecDeque<ConsoleEvent>) {
        let session_id = self.session.session_id();
        while let Some(request) = self.session.poll_io() {
            let id = request.id;
            if let Some(result) = self.files.execute(request) {
                self.session.handle_io(id, result, now);
            }
        }
        while let Some(read) = self.files.poll_read() {
            let number = read.io.get();
            self.reads.insert(number, read.io);
            out.push_back(ConsoleEvent::FileRead {
                session: session_id,
                read: number,
                upload: read.upload,
                offset: read.offset,
                len: read.len,
            });
        }
        while let Some(download) = self.files.poll_finished() {
            if let Some(d) = self.files.peek_download(download) {
                out.push_back(ConsoleEvent::DownloadReady {
                    session: session_id,
                    download,
                    name: d.name.clone(),
                    size: d.bytes.len() as u64,
                });
            }
        }
    }

    /// Accepts a print job the customer sent.
    pub fn accept_print(&mut self, job: u64) -> Result<(), ConsoleError> {
        self.print
            .accept(job)
            .map_err(|e| ConsoleError::Session(e.to_string()))
    }

    /// Declines a print job.
    pub fn decline_print(&mut self, job: u64) -> Result<(), ConsoleError> {
        self.print
            .decline(job)
            .map_err(|e| ConsoleError::Session(e.to_string()))
    }

    /// A received, verified print document: (file name, MIME type, bytes).
    pub fn print_document(&self, job: u64) -> Option<(String, &'static str, bytes::Bytes)> {
        self.print.document(job)
    }

    /// Forgets a print document the operator is done with.
    pub fn discard_print(&mut self, job: u64) {
        self.print.discard(job);
    }

    fn input(&mut self, message: InputMessage) -> Result<(), ConsoleError> {
        self.session
            .send_input(message)
            .map_err(|_| ConsoleError::Session("the customer has not given control".into()))
    }

    // ----- screen

    /// RGBA pixels of `rect` of the framebuffer into `out` (reused between
    /// frames); false, with `out` empty, when the rectangle is outside it.
    pub(crate) fn rgba_into(&self, rect: Rect, out: &mut Vec<u8>) -> bool {
        out.clear();
        let Some(frame) = self.session.framebuffer() else {
            return false;
        };
        let (Ok(x), Ok(y), Ok(w)) = (
            usize::try_from(rect.x),
            u32::try_from(rect.y),
            usize::try_from(rect.width),
        ) else {
            return false;
        };
        let inside = (x as u64 + u64::from(rect.width)) <= u64::from(frame.width())
            && (u64::from(y) + u64::from(rect.height)) <= u64::from(frame.height());
        if !inside || w == 0 || rect.height == 0 {
            return false;
        }
        out.resize(w * rect.height as usize * 4, 0);
        let rows = out.chunks_exact_mut(w * 4);
        for (row, dst) in (y..y + rect.height).zip(rows) {
            let Some(src) = frame.row(row).and_then(|r| r.get(x * 4..(x + w) * 4)) else {
                out.clear();
                return false;
            };
            // BGRA to RGBA a word at a time: swap the blue and red bytes,
            // keep green, make alpha opaque (the screen is).
            for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                let v = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                let rgba = ((v & 0x00ff_00ff).rotate_left(16)) | (v & 0x0000_ff00) | 0xff00_0000;
                d.copy_from_slice(&rgba.to_le_bytes());
            }
        }
        true
    }

    /// A cursor image as (width, height, hot x, hot y, straight RGBA).
    pub(crate) fn cursor_image(&mut self, shape_id: u64) -> Option<(u32, u32, u32, u32, Vec<u8>)> {
        let shape = self.session.screen_viewer().cursor_shape(shape_id)?;
        let mut rgba = Vec::with_capacity(shape.bgra.len());
        for px in shape.bgra.chunks_exact(4) {
            let a = px[3];
            // Premultiplied BGRA to straight RGBA.
            let un = |c: u8| {
                if a == 0 {
                    0
                } else {
                    u8::try_from((u32::from(c) * 255 / u32::from(a)).min(255)).unwrap_or(255)
                }
            };
            rgba.extend_from_slice(&[un(px[2]), un(px[1]), un(px[0]), a]);
        }
        Some((shape.width, shape.height, shape.hot_x, shape.hot_y, rgba))
    }

    // ----- driven by the console

    pub(crate) fn handle_envelope(&mut self, envelope: Envelope, now: Instant) {
        if let Err(e) = self.session.handle_envelope(envelope, now) {
            if e.ends_session() {
                self.session.end(EndReason::ProtocolError, e.to_string());
            }
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [self.session.poll_timeout(), self.leave_at]
            .into_iter()
            .flatten()
            .min()
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.session.handle_timeout(now);
    }

    /// Whether both ends are connected (records may flow).
    pub(crate) fn path_open(&self) -> bool {
        !self.cut && !self.peer_away
    }

    /// One end of the path broke: the session pauses.
    pub(crate) fn path_lost(&mut self, end: PathEnd, state: ConnectionState) {
        let was_open = self.path_open();
        match end {
            // What the relay said about the customer holds no more; it
            // says again after the resume.
            PathEnd::Ours => (self.cut, self.peer_away) = (true, false),
            PathEnd::Peer => self.peer_away = true,
        }
        if was_open {
            self.session.connection_lost();
        }
        self.connection_events.push_back(state);
    }

    /// One end is back: the session repairs once both are (once per outage,
    /// so transfers that already resumed are not rewound).
    pub(crate) fn path_back(&mut self, end: PathEnd, state: ConnectionState, now: Instant) {
        let mut was_open = self.path_open();
        if end == PathEnd::Peer && !self.peer_away && was_open {
            // Back without having been reported gone: records may still
            // have been lost on the way.
            self.session.connection_lost();
            was_open = false;
        }
        match end {
            PathEnd::Ours => self.cut = false,
            PathEnd::Peer => self.peer_away = false,
        }
        if !was_open && self.path_open() {
            self.session.reconnected(now);
        }
        self.connection_events.push_back(state);
    }

    pub(crate) fn relay_ended(&mut self, reason: EndReason) {
        self.left = true;
        self.session.relay_ended(reason);
    }

    /// Whether to send `LeaveSession` now, and with which reason.
    pub(crate) fn leave_now(&mut self, now: Instant) -> Option<EndReason> {
        if self.left || !self.session.is_ended() {
            return None;
        }
        let reason = self
            .session
            .end_reason()
            .unwrap_or(EndReason::OperatorEnded);
        if self.session.ended_by_peer() {
            // The customer's own leave normally reaches the relay first.
            let at = *self.leave_at.get_or_insert(now + PEER_LEAVE_GRACE);
            if now < at {
                return None;
            }
        }
        self.left = true;
        Some(reason)
    }

    /// Moves the session's events into the page's queue.
    pub(crate) fn drain_events(&mut self, out: &mut VecDeque<ConsoleEvent>) {
        let session = self.session.session_id();
        while let Some(state) = self.connection_events.pop_front() {
            out.push_back(ConsoleEvent::Connection { session, state });
        }
        while let Some(event) = self.session.poll_event() {
            let shown = match event {
                SessionEvent::Channel(SessionMessage::Print(message)) => {
                    // A job the policy refuses is answered by the receiver;
                    // a broken one is cancelled there. Neither ends the session.
                    let _ = self.print.handle(message);
                    None
                }
                SessionEvent::Control(ControlEvent::SharingChanged(sharing)) => {
                    self.print.set_mode(sharing.mode());
                    Some(ConsoleEvent::Sharing { session, sharing })
                }
                SessionEvent::ViewerScreen(ViewerScreenEvent::Screenshot(shot)) => {
                    let request = self.keep_screenshot(shot);
                    Some(ConsoleEvent::ScreenshotReady { session, request })
                }
                other => page_event(session, other),
            };
            out.extend(shown);
        }
        self.print.drain(session, out);
        while let Some(message) = self.print.poll_transmit() {
            self.session
                .send_channel_message(SessionMessage::Print(message));
        }
        // Our own drawings change the layer too, not only the customer's.
        let version = self.session.annotator().layer().version();
        if version != self.drawings_version {
            self.drawings_version = version;
            out.push_back(ConsoleEvent::Drawings { session });
        }
    }
}

/// What the page shows of a session event (`None`: nothing to show).
fn page_event(session: u64, event: SessionEvent) -> Option<ConsoleEvent> {
    Some(match event {
        SessionEvent::Control(ControlEvent::SharingChanged(sharing)) => {
            ConsoleEvent::Sharing { session, sharing }
        }
        SessionEvent::Control(ControlEvent::ModeRefused { mode, .. }) => {
            ConsoleEvent::ModeRefused { session, mode }
        }
        SessionEvent::Control(ControlEvent::Ended {
            reason,
            detail,
            by_peer,
        }) => ConsoleEvent::Ended {
            session,
            reason,
            detail,
            by_peer,
        },
        SessionEvent::Chat(ChatEvent::Received(line)) => ConsoleEvent::Chat {
            session,
            from: line.sender_name,
            text: line.text,
        },
        SessionEvent::Chat(ChatEvent::PeerTyping(typing)) => {
            ConsoleEvent::PeerTyping { session, typing }
        }
        SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated { width, height, .. }) => {
            ConsoleEvent::Frame {
                session,
                width,
                height,
            }
        }
        SessionEvent::ViewerScreen(ViewerScreenEvent::Cursor(cursor)) => ConsoleEvent::Cursor {
            session,
            x: cursor.position.x,
            y: cursor.position.y,
            visible: cursor.visible,
            shape_id: cursor.shape_id,
        },
        SessionEvent::ViewerScreen(ViewerScreenEvent::Monitors(list)) => ConsoleEvent::Display {
            session,
            what: "monitors",
            value: crate::display::monitors_json(&list),
        },
        SessionEvent::ViewerScreen(ViewerScreenEvent::Windows(windows)) => ConsoleEvent::Display {
            session,
            what: "windows",
            value: crate::display::windows_json(&windows),
        },
        SessionEvent::Protection(protection) => ConsoleEvent::Protection {
            session,
            protection,
        },
        SessionEvent::Notice(notice) => ConsoleEvent::Notice {
            session,
            text: notice_text(&notice)?,
        },
        SessionEvent::File(event) => ConsoleEvent::File { session, event },
        SessionEvent::PeerMessageDropped { what } => ConsoleEvent::Notice {
            session,
            text: format!(
                "dropped a message from the customer's side that did not make sense ({what})"
            ),
        },
        _ => return None,
    })
}

fn notice_text(notice: &ControlMessage) -> Option<String> {
    match notice {
        ControlMessage::TimeWarning { remaining_ms } => Some(format!(
            "the session ends in {} minutes (the relay's time limit)",
            remaining_ms.div_ceil(60_000)
        )),
        _ => None,
    }
}

/// The operator never hosts in the browser; the session still wants a mapper.
fn placeholder_mapper() -> Option<CoordinateMapper> {
    CoordinateMapper::for_monitor(vec![Monitor::new(Rect::new(0, 0, 1, 1), 1.0)], 0, 1, 1).ok()
}
