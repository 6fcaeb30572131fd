//! # rsupport
//!
//! An embeddable SDK for remote-support sessions: an operator (support agent)
//! and a customer meet through a relay server the vendor hosts; the operator
//! sees and, with the customer's consent, controls the customer's screen; both
//! chat, move files, print, draw on the screen and hand the session on.
//!
//! Start with the types at the root: [`Operator`] for the support agent's
//! program, [`Customer`] for the customer's, a [`SessionHandle`] per live
//! session and its [`SessionEvent`]s. The modules below re-export the layer
//! crates for what the root does not cover.
//!
//! | module | crate | feature | what it holds |
//! |---|---|---|---|
//! | [`proto`] | `rsupport-proto` | always | wire schema, domain messages, framing, version negotiation |
//! | [`capture`] | `rsupport-capture` | always | screen sources and the tile codec |
//! | [`input`] | `rsupport-input` | always | input events, injectors, key maps, control gating |
//! | [`core`] | `rsupport-core` | always | the sans-IO session and its channels |
//! | `net` | `rsupport-net` | `client` or `relay` | TLS and the framed relay link |
//! | `print` | `rsupport-print` | `client` | virtual printer, CUPS registration, sinks |
//! | `client` | `rsupport-client` | `client` (default) | operators, customers, session handles |
//! | `relay` | `rsupport-relay` | `relay` | the relay server: broker, store, accounts |
//!
//! Dependencies point down only (see `ARCHITECTURE.md`): a customer program
//! built with the default features compiles no relay code, and the relay
//! compiles no capture, input or session code.
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

#[cfg(feature = "client")]
pub use rsupport_client as client;
#[cfg(any(feature = "client", feature = "relay"))]
pub use rsupport_net as net;
#[cfg(feature = "client")]
pub use rsupport_print as print;
#[cfg(feature = "relay")]
pub use rsupport_relay as relay;

#[cfg(feature = "client")]
pub use rsupport_client::{
    ClientError, Customer, Encryption, HostPlatform, Invitation, LobbyEvent, Operator,
    OperatorOptions, RelayTarget, SessionHandle, Viewer,
};
pub use rsupport_core::e2e::{HelpdeskKey, HelpdeskPublicKey, Protection};
pub use rsupport_core::session::SessionEvent;

/// The README's embedding example, compiled as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
