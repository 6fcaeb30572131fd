//! The rsupport wire protocol.
//!
//! - The `.proto` files under `proto/` are the source of truth; they are
//!   compiled at build time by a pure-Rust compiler (no system `protoc`).
//! - Vendors and the other rsupport crates see only the hand-written domain
//!   types of this crate; generated types stay private.
//! - [`framing`] cuts a byte stream into frames with a hard cap per kind,
//!   checked before any allocation.
//! - Every decoder returns a typed error instead of panicking, and each error
//!   names the [`CloseReason`] to send back.
//!
//! This crate does no IO and has no async runtime dependency.
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use rsupport_proto::chat::{ChatMessage, ChatText};
//! use rsupport_proto::envelope::Envelope;
//! use rsupport_proto::framing::{encode_frame, FrameDecoder, FrameKind, FrameLimits};
//! use rsupport_proto::session::SessionMessage;
//!
//! // Sender: message → envelope → frame.
//! let msg = SessionMessage::Chat(ChatMessage::Text(ChatText {
//!     id: 1,
//!     text: "こんにちは".into(),
//!     sent_at_ms: 0,
//!     sender_name: "Aiko".into(),
//! }));
//! let envelope = msg.into_envelope(42, 1);
//! let mut wire = BytesMut::new();
//! encode_frame(FrameKind::Session, &envelope.encode(), &FrameLimits::default(), &mut wire)?;
//!
//! // Receiver: frame → envelope → message.
//! let frame = FrameDecoder::default().decode(&mut wire)?.expect("a whole frame");
//! let envelope = Envelope::decode(frame.body)?;
//! assert_eq!(envelope.session_id, 42);
//! assert_eq!(SessionMessage::decode(envelope.payload)?, msg);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

mod pb;
mod wire;

pub mod annotate;
pub mod chat;
pub mod common;
pub mod control;
pub mod e2e;
pub mod envelope;
pub mod error;
pub mod files;
pub mod framing;
pub mod input;
pub mod limits;
pub mod print;
pub mod proxy_header;
pub mod relay;
pub mod screen;
pub mod session;
pub mod text;
pub mod version;

pub use common::{CloseReason, ColorDepth, ConnectionMode, EndReason, Point, Rect, Role};
pub use error::{DecodeError, FrameError, VersionError};
pub use version::{negotiate, E2E_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};
