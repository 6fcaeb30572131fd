//! [`SessionHandle`]: the application's grip on one live session.

use rsupport_capture::BgraFrame;
use rsupport_proto::input::InputMessage;
use rsupport_proto::relay::{CustomerInfo, Paired};
use rsupport_proto::screen::DisplaySettings;
use rsupport_proto::session::SessionMessage;
use rsupport_proto::{ConnectionMode, EndReason};
use tokio::sync::{mpsc, oneshot};

use super::connection::TaskCommand;
use super::EndpointError;
use crate::session::{SessionEvent, Side};

/// Counters of one session, for status displays and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Frames this side sent as host.
    pub frames_sent: u64,
    /// Frames this side applied as viewer.
    pub frames_applied: u64,
    /// Input messages this side refused as host.
    pub ignored_input: u64,
}

/// A command from a handle to the connection task.
#[derive(Debug)]
pub(crate) enum SessionCommand {
    RequestMode {
        mode: ConnectionMode,
        reason: String,
        reply: oneshot::Sender<Result<u32, EndpointError>>,
    },
    Decide {
        request_id: u32,
        allow: bool,
        reply: oneshot::Sender<Result<(), EndpointError>>,
    },
    SetPaused {
        paused: bool,
        reply: oneshot::Sender<Result<(), EndpointError>>,
    },
    RevokeControl,
    SendInput {
        input: InputMessage,
        reply: oneshot::Sender<Result<(), EndpointError>>,
    },
    Chat {
        text: String,
        reply: oneshot::Sender<Result<u64, EndpointError>>,
    },
    Settings(DisplaySettings),
    Screenshot(u32),
    LocalActivity,
    Channel(SessionMessage),
    End {
        reason: EndReason,
        detail: String,
    },
    Framebuffer(oneshot::Sender<Option<BgraFrame>>),
    Stats(oneshot::Sender<SessionStats>),
}

/// One live session. Obtained from [`Operator::next_event`](super::Operator::next_event)
/// or [`Customer::join`](super::Customer::join).
///
/// Read [`next_event`](Self::next_event) continuously: consent requests,
/// chat lines and frame notices arrive there. Every method is
/// cancellation-safe.
#[derive(Debug)]
pub struct SessionHandle {
    side: Side,
    paired: Paired,
    commands: mpsc::UnboundedSender<TaskCommand>,
    events: mpsc::UnboundedReceiver<SessionEvent>,
    next_screenshot: u32,
}

impl SessionHandle {
    pub(crate) fn new(
        side: Side,
        paired: Paired,
        commands: mpsc::UnboundedSender<TaskCommand>,
        events: mpsc::UnboundedReceiver<SessionEvent>,
    ) -> Self {
        SessionHandle {
            side,
            paired,
            commands,
            events,
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
    pub async fn next_event(&mut self) -> Option<SessionEvent> {
        self.events.recv().await
    }

    fn send(&self, command: SessionCommand) -> Result<(), EndpointError> {
        self.commands
            .send(TaskCommand::Session(self.paired.session_id, command))
            .map_err(|_| EndpointError::SessionEnded)
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, EndpointError>>) -> SessionCommand,
    ) -> Result<T, EndpointError> {
        let (reply, answer) = oneshot::channel();
        self.send(make(reply))?;
        answer.await.map_err(|_| EndpointError::SessionEnded)?
    }

    /// Operator: asks the customer for a connection mode. Returns the request id;
    /// the answer arrives as an event.
    pub async fn request_mode(
        &self,
        mode: ConnectionMode,
        reason: impl Into<String>,
    ) -> Result<u32, EndpointError> {
        let reason = reason.into();
        self.ask(|reply| SessionCommand::RequestMode {
            mode,
            reason,
            reply,
        })
        .await
    }

    /// Customer: answers a consent request.
    pub async fn decide(&self, request_id: u32, allow: bool) -> Result<(), EndpointError> {
        self.ask(|reply| SessionCommand::Decide {
            request_id,
            allow,
            reply,
        })
        .await
    }

    /// Host: pauses or resumes sharing (nothing is captured, sent or injected while paused).
    pub async fn set_paused(&self, paused: bool) -> Result<(), EndpointError> {
        self.ask(|reply| SessionCommand::SetPaused { paused, reply })
            .await
    }

    /// Host: withdraws the viewer's control at once.
    pub fn revoke_control(&self) -> Result<(), EndpointError> {
        self.send(SessionCommand::RevokeControl)
    }

    /// Host: the local user touched mouse or keyboard (local input wins).
    pub fn local_activity(&self) -> Result<(), EndpointError> {
        self.send(SessionCommand::LocalActivity)
    }

    /// Viewer: sends input; refused unless control is granted now.
    pub async fn send_input(&self, input: InputMessage) -> Result<(), EndpointError> {
        self.ask(|reply| SessionCommand::SendInput { input, reply })
            .await
    }

    /// Sends a chat line; returns its id.
    pub async fn send_chat(&self, text: impl Into<String>) -> Result<u64, EndpointError> {
        let text = text.into();
        self.ask(|reply| SessionCommand::Chat { text, reply }).await
    }

    /// Viewer: changes how the host shares (colour depth, wallpaper,
    /// windows, monitor, scale, frame rate).
    pub fn set_display_settings(&self, settings: DisplaySettings) -> Result<(), EndpointError> {
        self.send(SessionCommand::Settings(settings))
    }

    /// Viewer: asks the host for a PNG screenshot; it arrives as an event.
    pub fn request_screenshot(&mut self) -> Result<u32, EndpointError> {
        let id = self.next_screenshot;
        self.next_screenshot += 1;
        self.send(SessionCommand::Screenshot(id))?;
        Ok(id)
    }

    /// Sends a message of a channel the application drives (files, print, annotations).
    pub fn send_channel_message(&self, message: SessionMessage) -> Result<(), EndpointError> {
        self.send(SessionCommand::Channel(message))
    }

    /// Viewer: a copy of what we see of the peer's screen.
    pub async fn framebuffer(&self) -> Result<Option<BgraFrame>, EndpointError> {
        let (reply, answer) = oneshot::channel();
        self.send(SessionCommand::Framebuffer(reply))?;
        answer.await.map_err(|_| EndpointError::SessionEnded)
    }

    /// Counters.
    pub async fn stats(&self) -> Result<SessionStats, EndpointError> {
        let (reply, answer) = oneshot::channel();
        self.send(SessionCommand::Stats(reply))?;
        answer.await.map_err(|_| EndpointError::SessionEnded)
    }

    /// Ends the session (the peer and the relay are told).
    pub fn end(&self, reason: EndReason, detail: impl Into<String>) -> Result<(), EndpointError> {
        self.send(SessionCommand::End {
            reason,
            detail: detail.into(),
        })
    }
}
