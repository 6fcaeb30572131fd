//! # rsupport
//!
//! An embeddable SDK for remote-support sessions: an operator (support agent)
//! and a customer meet through a relay server the vendor hosts; the operator
//! sees and, with the customer's consent, controls the customer's screen; both
//! chat, move files, print, draw on the screen and hand the session on.
//!
//! This facade re-exports the layers; depend on it rather than on the layer
//! crates, whose APIs may be reshuffled between minor versions.
//!
//! | module | crate | what it holds |
//! |---|---|---|
//! | [`proto`] | `rsupport-proto` | wire schema, domain messages, framing, version negotiation |
//! | [`capture`] | `rsupport-capture` | screen sources and the tile codec |
//! | [`input`] | `rsupport-input` | input events, injectors, key maps, control gating |
//! | [`core`] | `rsupport-core` | relay, accounts, store, sessions and channels |
//!
//! Dependencies point down only: `core → capture, input → proto`.
//!
//! ## Stability
//!
//! Before 1.0, minor versions may break the API; the wire protocol is
//! versioned separately ([`proto::PROTOCOL_VERSION`]) and negotiated in the
//! handshake, so peers of different SDK versions can still talk.

#![forbid(unsafe_code)]

pub use rsupport_capture as capture;
pub use rsupport_core as core;
pub use rsupport_input as input;
pub use rsupport_proto as proto;
