//! The per-session half of the connection task: one [`Slot`] per live
//! session holds the sans-IO `Session`, the queues towards the product's
//! handle, the host platform and the print driver, and turns the handle's
//! commands into calls on the session.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rsupport_capture::source::DirtyRegion;
use rsupport_capture::BgraFrame;
use rsupport_proto::envelope::Envelope;
use rsupport_proto::print::PrintMessage;
use rsupport_proto::screen::{CursorPosition, CursorShape};
use rsupport_proto::session::SessionMessage;
use rsupport_proto::{EndReason, Point, Rect};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use super::now_ms;

use crate::handle::{Drawing, PrintAction, SessionCommand, SessionStats};
use crate::platform::HostPlatform;
use crate::printing::PrintBridge;
use crate::viewer::{Latest, ViewerShared};
use crate::{ClientError, NotAllowed};
use rsupport_core::e2e::Protection;
use rsupport_core::session::screen::HostScreenEvent;
use rsupport_core::session::{ControlEvent, Session, SessionEvent};

/// One live session of this connection: the sans-IO session, what its
/// product reads, its platform and its print driver.
pub(super) struct Slot {
    pub(super) session: Session,
    pub(super) events: mpsc::Sender<SessionEvent>,
    /// Events made by the task itself while the handle's channel was full.
    pub(super) overflow: VecDeque<SessionEvent>,
    /// Envelopes for this session waiting until its handle has room.
    pub(super) held: VecDeque<Envelope>,
    /// The shared framebuffer for the product's viewers.
    pub(super) screen: Arc<ViewerShared>,
    /// Frame and cursor notices, coalesced.
    pub(super) latest: Arc<Latest>,
    /// Damage not yet published (a viewer held the frame).
    pub(super) screen_pending: Vec<Rect>,
    /// The shared framebuffer holds a picture.
    pub(super) screen_shown: bool,
    /// The relay ended the session while envelopes were held.
    pub(super) pending_end: Option<EndReason>,
    pub(super) platform: Option<HostPlatform>,
    pub(super) hosting: bool,
    pub(super) frame: BgraFrame,
    /// The frame scaled down when the viewer asked for a smaller picture.
    pub(super) scaled: BgraFrame,
    pub(super) dirty: DirtyRegion,
    pub(super) cursor: Option<(Point, bool)>,
    pub(super) cursor_shape_id: u64,
    pub(super) left: bool,
    /// The peer ended the session: leave by ourselves at this time unless
    /// the relay's `SessionEnded` comes first.
    pub(super) leave_at: Option<Instant>,
    /// Answered once the relay knows the session is over (`end()` callers).
    pub(super) on_left: Vec<oneshot::Sender<()>>,
    /// The print driver of this session, when this side prints or receives.
    pub(super) print: Option<PrintBridge>,
    /// Lets this party resume the session (rotated on every resume).
    pub(super) token: rsupport_proto::relay::Secret<Bytes>,
    /// Our relay connection is gone (reconnecting, or resume unanswered).
    pub(super) cut: bool,
    /// The relay says the peer's connection is gone.
    pub(super) peer_away: bool,
    /// How the session is protected, shared with its handle.
    pub(super) protection: Arc<std::sync::Mutex<Protection>>,
}

impl Slot {
    /// Whether frames can reach the peer. While not, what the session
    /// sends is lost anyway and is dropped here.
    pub(super) fn path_open(&self) -> bool {
        !self.cut && !self.peer_away
    }
}

impl Slot {
    pub(super) fn command(&mut self, command: SessionCommand) {
        let not_allowed = |e: &dyn std::fmt::Display| ClientError::state(e);
        match command {
            SessionCommand::RequestMode {
                mode,
                reason,
                reply,
            } => {
                let r = self.session.control().request_mode(mode, reason);
                let _ = reply.send(r.map_err(|e| not_allowed(&e)));
            }
            SessionCommand::Decide {
                request_id,
                allow,
                reply,
            } => {
                let r = self.session.control().decide(request_id, allow);
                let _ = reply.send(r.map_err(|e| not_allowed(&e)));
            }
            SessionCommand::SetPaused { paused, reply } => {
                let r = self.session.set_paused(paused);
                let _ = reply.send(r.map_err(|e| not_allowed(&e)));
            }
            SessionCommand::RevokeControl => self.session.revoke_control(),
            SessionCommand::SendInput { input, reply } => {
                let r = self.session.send_input(input);
                let _ = reply.send(r.map_err(|e| not_allowed(&e)));
            }
            SessionCommand::Chat { text, reply } => {
                let r = self.session.chat().send(text, now_ms());
                let _ = reply.send(r.map_err(|e| not_allowed(&e)));
            }
            SessionCommand::Settings(settings) => self.session.viewer().request_settings(settings),
            SessionCommand::Screenshot(id) => self.session.viewer().request_screenshot(id),
            SessionCommand::LocalActivity => self.session.local_activity(Instant::now()),
            SessionCommand::End {
                reason,
                detail,
                done,
            } => {
                self.session.end(reason, detail);
                self.on_left.push(done);
            }
            // Listed off the task first (see `ConnectionTask::on_command`).
            SessionCommand::OfferFiles { path, reply } => {
                let _ = reply.send(Err(ClientError::NotAllowed(NotAllowed::FileOffer {
                    path: path.display().to_string(),
                    detail: "offers are listed by the connection task".into(),
                })));
            }
            SessionCommand::AcceptFiles {
                transfer_id,
                folder,
                reply,
            } => {
                let ok = self
                    .session
                    .files()
                    .accept_into(transfer_id, &folder, Instant::now());
                let _ = reply.send(if ok {
                    Ok(())
                } else {
                    Err(ClientError::NotAllowed(NotAllowed::NoSuchTransfer {
                        transfer_id,
                    }))
                });
            }
            SessionCommand::DeclineFiles {
                transfer_id,
                reason,
            } => {
                self.session.files().decline(transfer_id, &reason);
            }
            SessionCommand::CancelFiles {
                transfer_id,
                reason,
            } => self
                .session
                .files()
                .cancel(transfer_id, &reason, Instant::now()),
            SessionCommand::Annotate(drawing) => self.draw(drawing),
            SessionCommand::Print { action, reply } => {
                let _ = reply.send(self.print_action(action));
            }
            SessionCommand::AnnotationLayer(reply) => {
                let _ = reply.send(self.session.annotator().layer().clone());
            }
            SessionCommand::Stats(reply) => {
                let _ = reply.send(SessionStats {
                    frames_sent: self.session.screen_host().frames_sent(),
                    frames_applied: self.session.screen_viewer().frames_applied(),
                    ignored_input: self.session.ignored_input(),
                    malformed_messages: self.session.dropped().malformed,
                    ignored_messages: self.session.dropped().ignored,
                });
            }
        }
    }

    pub(super) fn draw(&mut self, drawing: Drawing) {
        let now = Instant::now();
        let annotator = self.session.annotator();
        match drawing {
            Drawing::Stroke {
                color,
                width_px,
                points,
                monitor_id,
            } => {
                if let Some((first, rest)) = points.split_first() {
                    let id = annotator.begin_stroke(color, width_px, *first, monitor_id, now);
                    for part in rest.chunks(rsupport_proto::limits::MAX_STROKE_POINTS) {
                        annotator.extend_stroke(id, part, now);
                    }
                    annotator.end_stroke(id, now);
                }
            }
            Drawing::Laser {
                position,
                color,
                monitor_id,
            } => annotator.laser(position, color, monitor_id, now),
            Drawing::Label {
                position,
                text,
                color,
                size_px,
                monitor_id,
            } => {
                annotator.label(position, &text, color, size_px, monitor_id, now);
            }
            Drawing::Undo => annotator.undo(now),
            Drawing::Clear => annotator.clear(now),
        }
    }

    /// Reacts to events that need the platform or the print driver;
    /// returns the event unless it was consumed here.
    pub(super) fn on_event(&mut self, event: SessionEvent) -> Option<SessionEvent> {
        match &event {
            SessionEvent::Protection(p) => {
                if let Ok(mut shared) = self.protection.lock() {
                    *shared = p.clone();
                }
            }
            SessionEvent::Channel(SessionMessage::Print(message)) => {
                self.on_print_message(message.clone());
                return None;
            }
            SessionEvent::Control(ControlEvent::SharingChanged(sharing)) => {
                let hosting = sharing
                    .mode()
                    .is_some_and(|m| self.session.side().hosts_in(m));
                if hosting && !self.hosting {
                    self.start_hosting();
                }
                self.hosting = hosting;
                if let Some(print) = &self.print {
                    print.set_mode(sharing.mode());
                }
            }
            SessionEvent::HostScreen(HostScreenEvent::SettingsChanged(settings)) => {
                if let Some(platform) = self.platform.as_mut() {
                    let windows = platform.apply_settings(settings);
                    if let Some(mapper) = platform.input_mapper(&windows, settings.scale_percent) {
                        self.session.set_input_mapper(mapper);
                    }
                    self.dirty.set_full();
                }
            }
            SessionEvent::HostScreen(HostScreenEvent::ScreenshotRequested { request_id }) => {
                // The session asks only while sharing is on (never while
                // paused); answer at the scale the viewer streams at.
                let scale = self.session.screen_host().settings().scale_percent;
                let shot = if (1..100).contains(&scale) && self.scaled.width() > 0 {
                    &self.scaled
                } else {
                    &self.frame
                };
                if let Ok(bytes) = shot.to_png() {
                    self.session
                        .host()
                        .send_screenshot(*request_id, Bytes::from(bytes));
                }
            }
            _ => {}
        }
        Some(event)
    }

    pub(super) fn print_action(&self, action: PrintAction) -> Result<(), ClientError> {
        let Some(print) = &self.print else {
            return Err(ClientError::NotAllowed(NotAllowed::Printing {
                detail: "remote printing is not set up on this side".into(),
            }));
        };
        match action {
            PrintAction::Accept(id) => print.accept(id),
            PrintAction::Decline(id, reason) => print.decline(id, reason),
            PrintAction::Cancel(id, reason) => print.cancel(id, reason),
        }
    }

    pub(super) fn on_print_message(&mut self, message: PrintMessage) {
        match (&mut self.print, message) {
            (Some(print), message) => print.deliver(message),
            // Nobody here receives print jobs: say so rather than leave the
            // customer's job waiting for an answer.
            (None, PrintMessage::Offer(offer)) => {
                self.session
                    .send_channel_message(SessionMessage::Print(PrintMessage::Answer {
                        job_id: offer.job_id,
                        accept: false,
                        reason: "remote printing is not set up on this side".into(),
                    }));
            }
            (None, _) => {}
        }
    }

    pub(super) fn start_hosting(&mut self) {
        let Some(platform) = self.platform.as_mut() else {
            return;
        };
        if let Some(monitors) = platform.start() {
            self.session.host().send_monitors(monitors);
        }
        let windows = platform.windows();
        self.session.host().send_windows(windows);
        let scale = self.session.screen_host().settings().scale_percent;
        if let Some(mapper) = platform.input_mapper(&[], scale) {
            self.session.set_input_mapper(mapper);
        }
        self.cursor = None;
    }

    /// Captures and submits a frame when the session wants one.
    pub(super) fn capture(&mut self, now: Instant) {
        if !self.session.wants_frame(now) {
            return;
        }
        let Some(platform) = self.platform.as_mut() else {
            return;
        };
        if let Err(e) = platform.capturer.capture(&mut self.frame, &mut self.dirty) {
            warn!("capture failed: {e}");
            return;
        }
        // A screen larger than viewers hold is scaled to fit, not refused.
        let scale = rsupport_capture::scale::effective_percent(
            self.session.screen_host().settings().scale_percent,
            self.frame.width(),
            self.frame.height(),
            rsupport_capture::codec::DEFAULT_MAX_FRAME_PIXELS,
        );
        let frame = if scale < 100 {
            rsupport_capture::scale::downscale(&self.frame, scale, &mut self.scaled);
            &self.scaled
        } else {
            &self.frame
        };
        if let Err(e) = self.session.submit_frame(frame, now, now_ms()) {
            warn!("encode failed: {e}");
        }
        if let Ok(update) = platform.capturer.poll_cursor() {
            if let Some(shape) = update.shape {
                self.session.host().send_cursor_shape(CursorShape {
                    shape_id: shape.serial,
                    width: shape.width,
                    height: shape.height,
                    hot_x: shape.hot_x,
                    hot_y: shape.hot_y,
                    bgra: Bytes::from(shape.bgra),
                });
                self.cursor_shape_id = shape.serial;
                self.cursor = None;
            }
            // The viewer's frame may be scaled down; so is the cursor.
            let (position, visible) = match update.position {
                Some((x, y)) if (1..100).contains(&scale) => (
                    Point::new(x * scale as i32 / 100, y * scale as i32 / 100),
                    true,
                ),
                Some((x, y)) => (Point::new(x, y), true),
                None => (Point::default(), false),
            };
            if self.cursor != Some((position, visible)) {
                self.cursor = Some((position, visible));
                let shape_id = self.cursor_shape_id;
                self.session.host().send_cursor_position(CursorPosition {
                    position,
                    visible,
                    shape_id,
                });
            }
        }
    }
}
