//! Live sessions between an operator and a customer.
//!
//! Each concern is a sans-IO state machine: messages and `now` in; messages,
//! events and deadlines out. [`Session`] joins them for one side of a
//! session; `rsupport-client` runs sessions over the relay with tokio, and
//! most products use that instead of driving a `Session` themselves.
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
//!     while let Some(req) = session.poll_io()       → run on a blocking worker; when it
//!         completes: session.handle_io(req.id, result, now)   (file transfer disk IO)
//!     while let Some(env) = session.poll_transmit() → send to the relay
//!     while let Some(ev) = session.poll_event()     → show to the user
//! }
//! ```
//!
//! The customer's side decides every mode request ([`ControlEvent::ConsentRequested`]
//! → [`ControlChannel::decide`]) and enforces the answer locally: nothing is
//! captured before consent, and input the host's own state does not allow is
//! dropped whatever the peer claims.
//!
//! A message from the peer that does not decode or that its role or the
//! session's state never allows is dropped and counted ([`abuse`]); only a
//! sustained stream of them ends the session, with
//! [`EndReason::PeerMisbehaved`](rsupport_proto::EndReason::PeerMisbehaved)
//! on both sides.

pub mod abuse;
pub mod chat;
pub mod control;
mod core;
pub mod permissions;
pub mod screen;
mod types;

pub use self::core::Session;
pub use self::types::{
    ConnectionState, InputNotPermitted, SessionConfig, SessionError, SessionEvent,
};
pub use abuse::{DroppedStats, MALFORMED_WINDOW, MAX_MALFORMED};
pub use chat::{Chat, ChatError, ChatEvent};
pub use control::{ControlChannel, ControlError, ControlEvent, PeerViolation, SessionPolicy};
pub use permissions::{Control, Sharing, Side};
