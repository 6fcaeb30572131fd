//! The types a [`Session`](super::Session) is set up with and talks in:
//! its configuration, the events it gives the application, and the errors
//! of messages from the peer.

use rsupport_input::GateConfig;
use rsupport_proto::control::ControlMessage;
use rsupport_proto::session::SessionMessage;
use rsupport_proto::DecodeError;

use super::chat::ChatEvent;
use super::control::{ControlEvent, PeerViolation, SessionPolicy};
use super::permissions::Side;
use super::screen::{HostScreenEvent, ViewerScreenEvent};
#[cfg(doc)]
use super::Session;
use crate::e2e::{KeyExchange, Protection};
use crate::files::FileEvent;

/// How a [`Session`] is set up.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our side.
    pub side: Side,
    /// The relay's session id (from `Paired`).
    pub session_id: u64,
    /// Name shown to the peer in chat.
    pub display_name: String,
    /// Modes allowed and the consent timeout.
    pub policy: SessionPolicy,
    /// What local activity does to remote control (host side).
    pub gate: GateConfig,
    /// The admin granted the operator "full file transfer control": file
    /// offers to the customer skip the prompt in control/manage modes.
    pub full_file_control: bool,
    /// Where files are saved when an offer is accepted without asking
    /// (customer side, with full file transfer control). `None`: always ask.
    pub download_dir: Option<std::path::PathBuf>,
    /// How the end-to-end keys are agreed (or `Plaintext` for an old peer,
    /// where the vendor allows it). Nothing but the key exchange is sent or
    /// accepted before both sides confirmed the keys.
    pub key_exchange: KeyExchange,
}

/// Something the application shows or acts on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// Modes, consent, pause, revoke, end.
    Control(ControlEvent),
    /// Chat lines, typing, read receipts.
    Chat(ChatEvent),
    /// Host: the viewer changed display settings, or wants a screenshot.
    HostScreen(HostScreenEvent),
    /// Viewer: the framebuffer, cursor, monitors or windows changed.
    ViewerScreen(ViewerScreenEvent),
    /// An informational notice from the peer (recording, transfer, time limit …).
    Notice(ControlMessage),
    /// File transfer: offers to answer, progress, results.
    File(FileEvent),
    /// The annotation layer changed (re-render the overlay).
    AnnotationsChanged,
    /// Remote printing: jobs offered, accepted, progress at the printer, results.
    /// Delivered by the endpoint, which runs the print drivers.
    Print(crate::print::PrintEvent),
    /// A message for a channel no built-in driver handles (printing, when
    /// the session runs without the endpoint's print drivers).
    Channel(SessionMessage),
    /// The connection to the peer dropped or came back (the session goes on).
    Connection(ConnectionState),
    /// How the session is protected: sent once when the keys are agreed
    /// (before any consent prompt or frame), or at once for a plaintext
    /// session. Show it to the person, with the fingerprint.
    Protection(Protection),
    /// The peer sent a message that does not decode or that the protocol
    /// does not allow here; it was dropped and the session goes on. Sent
    /// once, for the first one; [`Session::dropped`] counts them all.
    PeerMessageDropped {
        /// What was wrong (names the message kind, never its content).
        what: String,
    },
}

/// What happened to the path between the two parties; the session itself
/// goes on unless it ends with `PeerLost`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Our relay connection dropped; reconnecting and resuming.
    Reconnecting,
    /// We are back: the session resumed; transfers continue where they stopped.
    Resumed,
    /// The peer's connection dropped; the relay waits up to `grace_ms` for it.
    PeerSuspended {
        /// How long the relay waits, ms.
        grace_ms: u64,
    },
    /// The peer is back.
    PeerResumed,
}

/// A message from the peer that cannot be used. [`Session::handle_envelope`]
/// and [`Session::handle_message`] return only those that must end the
/// session ([`SessionError::ends_session`]); the others are dropped and
/// counted (see [`abuse`](super::abuse)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// An envelope for another session arrived.
    #[error("envelope for session {got}, expected {expected}")]
    WrongSession {
        /// Ours.
        expected: u64,
        /// What arrived.
        got: u64,
    },
    /// The payload does not decode.
    #[error("undecodable session message: {0}")]
    Decode(#[from] DecodeError),
    /// A control message not allowed in this state.
    #[error(transparent)]
    Violation(#[from] PeerViolation),
    /// A screen message for the wrong role, or a frame that does not decode.
    #[error("screen channel: {0}")]
    Screen(String),
    /// A file message that breaks the transfer protocol.
    #[error("files channel: {0}")]
    Files(String),
    /// A payload this session has no keys for (see [`crate::e2e`]).
    #[error("{0}")]
    Unusable(&'static str),
}

impl SessionError {
    /// Whether the session must end with
    /// [`EndReason::ProtocolError`](rsupport_proto::EndReason::ProtocolError): only
    /// a peer claiming the host's consent rights (see
    /// [`PeerViolation::ends_session`]). Anything else is dropped and counted.
    pub fn ends_session(&self) -> bool {
        matches!(self, SessionError::Violation(v) if v.ends_session())
    }
}

/// The viewer may not send input now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("input not permitted in the current session state")]
pub struct InputNotPermitted;
