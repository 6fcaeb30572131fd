//! [`SessionHandle`]: the application's grip on one live session.

use std::path::PathBuf;
use std::sync::Arc;

use rsupport_capture::BgraFrame;
use rsupport_proto::annotate::Argb;
use rsupport_proto::input::InputMessage;
use rsupport_proto::relay::{CustomerInfo, Paired};
use rsupport_proto::screen::DisplaySettings;
use rsupport_proto::Point;
use rsupport_proto::{ConnectionMode, EndReason};
use tokio::sync::{mpsc, oneshot};

use super::connection::TaskCommand;
use super::viewer::{Latest, Viewer, ViewerShared};
use super::ClientError;
use rsupport_core::annotate::AnnotationLayer;
use rsupport_core::e2e::Protection;
use rsupport_core::session::screen::ViewerScreenEvent;
use rsupport_core::session::{SessionEvent, Side};

/// A drawing command for [`SessionHandle::annotate`]. Coordinates are
/// pixels of the shared monitor.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Drawing {
    /// A whole pen stroke through `points`.
    Stroke {
        /// Pen colour.
        color: Argb,
        /// Pen width in monitor pixels.
        width_px: f32,
        /// The path (at least one point).
        points: Vec<Point>,
        /// Monitor the coordinates refer to.
        monitor_id: u32,
    },
    /// A laser dot that fades.
    Laser {
        /// Where.
        position: Point,
        /// Colour.
        color: Argb,
        /// Monitor.
        monitor_id: u32,
    },
    /// A text label.
    Label {
        /// Top-left of the text.
        position: Point,
        /// The text.
        text: String,
        /// Colour.
        color: Argb,
        /// Font size in pixels.
        size_px: u32,
        /// Monitor.
        monitor_id: u32,
    },
    /// Undo our last stroke or label.
    Undo,
    /// Remove all annotations, both parties'.
    Clear,
}

/// Counters of one session, for status displays and benchmarks. Read with
/// [`SessionHandle::stats`]; fields may be added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Frames this side sent as host.
    pub frames_sent: u64,
    /// Frames this side applied as viewer.
    pub frames_applied: u64,
    /// Input messages this side refused as host.
    pub ignored_input: u64,
    /// Messages from the peer dropped because they did not decode or broke
    /// the protocol (a sustained stream ends the session with
    /// `EndReason::PeerMisbehaved`).
    pub malformed_messages: u64,
    /// Well-formed messages from the peer not acted on: its screen or
    /// drawings before the customer granted a mode, screenshot requests
    /// while paused.
    pub ignored_messages: u64,
}

/// What the product does with a print job.
#[derive(Debug)]
pub(crate) enum PrintAction {
    Accept(u64),
    Decline(u64, String),
    Cancel(u64, String),
}

/// A command from a handle to the connection task.
#[derive(Debug)]
pub(crate) enum SessionCommand {
    RequestMode {
        mode: ConnectionMode,
        reason: String,
        reply: oneshot::Sender<Result<u32, ClientError>>,
    },
    Decide {
        request_id: u32,
        allow: bool,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    SetPaused {
        paused: bool,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    RevokeControl,
    SendInput {
        input: InputMessage,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    Chat {
        text: String,
        reply: oneshot::Sender<Result<u64, ClientError>>,
    },
    Settings(DisplaySettings),
    Screenshot(u32),
    LocalActivity,
    End {
        reason: EndReason,
        detail: String,
        /// Answered once the relay has been told.
        done: oneshot::Sender<()>,
    },
    OfferFiles {
        path: PathBuf,
        reply: oneshot::Sender<Result<u64, ClientError>>,
    },
    AcceptFiles {
        transfer_id: u64,
        folder: PathBuf,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    DeclineFiles {
        transfer_id: u64,
        reason: String,
    },
    CancelFiles {
        transfer_id: u64,
        reason: String,
    },
    Annotate(Drawing),
    AnnotationLayer(oneshot::Sender<AnnotationLayer>),
    Print {
        action: PrintAction,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    Stats(oneshot::Sender<SessionStats>),
}

/// One live session. Obtained from [`Operator::next_event`](super::Operator::next_event)
/// or [`Customer::join`](super::Customer::join).
///
/// Read [`next_event`](Self::next_event) continuously: consent requests,
/// chat lines and frame notices arrive there. The event channel is bounded
/// (see the crate docs, "Events and backpressure"): a product that stops
/// reading slows this session only. Draw the peer's screen through a
/// [`viewer`](Self::viewer). Every method is cancellation-safe.
#[derive(Debug)]
pub struct SessionHandle {
    side: Side,
    paired: Paired,
    commands: mpsc::UnboundedSender<TaskCommand>,
    events: mpsc::Receiver<SessionEvent>,
    screen: Arc<ViewerShared>,
    latest: Arc<Latest>,
    protection: Arc<std::sync::Mutex<Protection>>,
    next_screenshot: u32,
}

impl SessionHandle {
    pub(crate) fn new(
        side: Side,
        paired: Paired,
        commands: mpsc::UnboundedSender<TaskCommand>,
        events: mpsc::Receiver<SessionEvent>,
        screen: Arc<ViewerShared>,
        latest: Arc<Latest>,
        protection: Arc<std::sync::Mutex<Protection>>,
    ) -> Self {
        SessionHandle {
            side,
            paired,
            commands,
            events,
            screen,
            latest,
            protection,
            next_screenshot: 1,
        }
    }

    /// The relay's id for this session.
    pub fn session_id(&self) -> u64 {
        self.paired.session_id
    }

    /// Our side.
    pub fn side(&self) -> Side {
        self.side
    }

    /// How the session is protected: end-to-end encrypted with the
    /// fingerprint both people can compare, still negotiating, or plaintext
    /// (the relay can read it). Also sent as
    /// [`SessionEvent::Protection`] when it is settled. Show it.
    pub fn protection(&self) -> Protection {
        self.protection
            .lock()
            .map(|p| p.clone())
            .unwrap_or(Protection::Negotiating)
    }

    /// The peer's display name.
    pub fn peer_name(&self) -> &str {
        &self.paired.peer_name
    }

    /// What the customer told about itself.
    pub fn customer(&self) -> &CustomerInfo {
        &self.paired.customer
    }

    /// The modes the operator may request.
    pub fn allowed_modes(&self) -> &[ConnectionMode] {
        &self.paired.allowed_modes
    }

    /// The licence's time limit for this session, ms (0 = none).
    pub fn time_limit_ms(&self) -> u64 {
        self.paired.time_limit_ms
    }

    /// The next event; `None` once the session is over and every event was read.
    ///
    /// Frame and cursor notices are coalesced: at most one of each waits
    /// here, and it carries the newest values when read.
    pub async fn next_event(&mut self) -> Option<SessionEvent> {
        let event = self.events.recv().await?;
        Some(match event {
            SessionEvent::ViewerScreen(
                ViewerScreenEvent::FrameUpdated { .. } | ViewerScreenEvent::Cursor(_),
            ) => self.latest.take(event),
            other => other,
        })
    }

    /// How many events wait to be read (at most the channel's capacity;
    /// frame and cursor notices count once each however many frames came).
    pub fn queued_events(&self) -> usize {
        self.events.len()
    }

    /// The peer's screen for drawing: the latest frame, read in place, and
    /// the rectangles that changed since this viewer last looked.
    pub fn viewer(&self) -> Viewer {
        self.screen.viewer()
    }

    fn send(&self, command: SessionCommand) -> Result<(), ClientError> {
        self.commands
            .send(TaskCommand::Session(self.paired.session_id, command))
            .map_err(|_| ClientError::SessionEnded)
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, ClientError>>) -> SessionCommand,
    ) -> Result<T, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.send(make(reply))?;
        answer.await.map_err(|_| ClientError::SessionEnded)?
    }

    /// Operator: asks the customer for a connection mode. Returns the request id;
    /// the answer arrives as an event.
    pub async fn request_mode(
        &self,
        mode: ConnectionMode,
        reason: impl Into<String>,
    ) -> Result<u32, ClientError> {
        let reason = reason.into();
        self.ask(|reply| SessionCommand::RequestMode {
            mode,
            reason,
            reply,
        })
        .await
    }

    /// Customer: answers a consent request.
    pub async fn decide(&self, request_id: u32, allow: bool) -> Result<(), ClientError> {
        self.ask(|reply| SessionCommand::Decide {
            request_id,
            allow,
            reply,
        })
        .await
    }

    /// Host: pauses or resumes sharing (nothing is captured, sent or injected while paused).
    pub async fn set_paused(&self, paused: bool) -> Result<(), ClientError> {
        self.ask(|reply| SessionCommand::SetPaused { paused, reply })
            .await
    }

    /// Host: withdraws the viewer's control at once.
    pub fn revoke_control(&self) -> Result<(), ClientError> {
        self.send(SessionCommand::RevokeControl)
    }

    /// Host: the local user touched mouse or keyboard (local input wins).
    pub fn local_activity(&self) -> Result<(), ClientError> {
        self.send(SessionCommand::LocalActivity)
    }

    /// Viewer: sends input; refused unless control is granted now, and
    /// refused here — not by the other side — when the other side could not
    /// read it (a key code must be a DOM code such as `ControlLeft` or
    /// `KeyC`; `rsupport_input::keymap::key_chord` turns `ctrl+c` into those).
    pub async fn send_input(&self, input: InputMessage) -> Result<(), ClientError> {
        // What the other side's decoder would say, checked before sending.
        let message = rsupport_proto::session::SessionMessage::Input(input.clone());
        if let Err(e) = rsupport_proto::session::SessionMessage::decode(message.encode()) {
            return Err(ClientError::state(&format_args!(
                "this input cannot be sent ({e}); send DOM key codes such as ControlLeft, KeyC, Enter or F5"
            )));
        }
        self.ask(|reply| SessionCommand::SendInput { input, reply })
            .await
    }

    /// Sends a chat line; returns its id.
    pub async fn send_chat(&self, text: impl Into<String>) -> Result<u64, ClientError> {
        let text = text.into();
        self.ask(|reply| SessionCommand::Chat { text, reply }).await
    }

    /// Viewer: changes how the host shares (colour depth, wallpaper,
    /// windows, monitor, scale, frame rate).
    pub fn set_display_settings(&self, settings: DisplaySettings) -> Result<(), ClientError> {
        self.send(SessionCommand::Settings(settings))
    }

    /// Viewer: asks the host for a PNG screenshot; it arrives as an event.
    pub fn request_screenshot(&mut self) -> Result<u32, ClientError> {
        let id = self.next_screenshot;
        self.next_screenshot += 1;
        self.send(SessionCommand::Screenshot(id))?;
        Ok(id)
    }

    /// Offers a file or a folder (recursively) to the peer; returns the
    /// transfer id. Progress and results arrive as [`SessionEvent::File`] events.
    pub async fn send_files(&self, path: impl Into<PathBuf>) -> Result<u64, ClientError> {
        let path = path.into();
        self.ask(|reply| SessionCommand::OfferFiles { path, reply })
            .await
    }

    /// Accepts an offer, saving into `folder` (names are validated; nothing
    /// is written outside it).
    pub async fn accept_files(
        &self,
        transfer_id: u64,
        folder: impl Into<PathBuf>,
    ) -> Result<(), ClientError> {
        let folder = folder.into();
        self.ask(|reply| SessionCommand::AcceptFiles {
            transfer_id,
            folder,
            reply,
        })
        .await
    }

    /// Declines an offer.
    pub fn decline_files(
        &self,
        transfer_id: u64,
        reason: impl Into<String>,
    ) -> Result<(), ClientError> {
        self.send(SessionCommand::DeclineFiles {
            transfer_id,
            reason: reason.into(),
        })
    }

    /// Stops a transfer in either direction.
    pub fn cancel_files(
        &self,
        transfer_id: u64,
        reason: impl Into<String>,
    ) -> Result<(), ClientError> {
        self.send(SessionCommand::CancelFiles {
            transfer_id,
            reason: reason.into(),
        })
    }

    /// Draws on the shared screen (both parties see it).
    pub fn annotate(&self, drawing: Drawing) -> Result<(), ClientError> {
        self.send(SessionCommand::Annotate(drawing))
    }

    /// Operator: accepts a print job the customer printed (announced by a
    /// [`PrintEvent`](rsupport_core::print::PrintEvent) offer); it is printed on the
    /// operator's printer or saved, and both sides hear the result.
    pub async fn accept_print(&self, job_id: u64) -> Result<(), ClientError> {
        self.print(PrintAction::Accept(job_id)).await
    }

    /// Operator: declines a print job; the customer is told `reason`.
    pub async fn decline_print(
        &self,
        job_id: u64,
        reason: impl Into<String>,
    ) -> Result<(), ClientError> {
        self.print(PrintAction::Decline(job_id, reason.into()))
            .await
    }

    /// Either side: cancels a print job at any stage.
    pub async fn cancel_print(
        &self,
        job_id: u64,
        reason: impl Into<String>,
    ) -> Result<(), ClientError> {
        self.print(PrintAction::Cancel(job_id, reason.into())).await
    }

    async fn print(&self, action: PrintAction) -> Result<(), ClientError> {
        self.ask(|reply| SessionCommand::Print { action, reply })
            .await
    }

    /// A copy of the annotation layer, to render with
    /// [`annotate::render`](rsupport_core::annotate::render) onto a frame or overlay.
    pub async fn annotation_layer(&self) -> Result<AnnotationLayer, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.send(SessionCommand::AnnotationLayer(reply))?;
        answer.await.map_err(|_| ClientError::SessionEnded)
    }

    /// Viewer: a copy of the whole frame we see of the peer's screen
    /// (8 MB at 1080p). For drawing every frame, use [`viewer`](Self::viewer),
    /// which copies nothing.
    pub async fn framebuffer(&self) -> Result<Option<BgraFrame>, ClientError> {
        Ok(self.screen.snapshot())
    }

    /// Counters.
    pub async fn stats(&self) -> Result<SessionStats, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.send(SessionCommand::Stats(reply))?;
        answer.await.map_err(|_| ClientError::SessionEnded)
    }

    /// Ends the session and returns once the peer and the relay have been
    /// told (the end is written to the relay connection), so a program may
    /// exit right after. [`ClientError::SessionEnded`] when the session was
    /// already over or the connection went away first.
    pub async fn end(
        &self,
        reason: EndReason,
        detail: impl Into<String>,
    ) -> Result<(), ClientError> {
        let (done, told) = oneshot::channel();
        self.send(SessionCommand::End {
            reason,
            detail: detail.into(),
            done,
        })?;
        told.await.map_err(|_| ClientError::SessionEnded)
    }
}
