//! rsupport-net: the network layer shared by the clients and the relay.
//!
//! - [`tls`]: rustls configurations (TLS 1.3, TLS 1.2 with AEAD suites only),
//!   certificate fingerprints and pinning ([`tls::Trust`]).
//! - [`RelayConnection`]: the framed link to a relay over any
//!   `AsyncRead + AsyncWrite`, split into [`RelayReader`] and
//!   [`RelayWriter`]; [`connect`] dials TLS over TCP, [`connect_websocket`]
//!   the same protocol in a WebSocket on the relay's port ([`ws`]).
//!
//! The crate moves frames; it holds no session or relay logic. rustls types
//! appear in its API on purpose (`ClientConfig`, `ServerConfig`,
//! certificates): they are the vocabulary a vendor already knows.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod link;
pub mod tls;
pub mod ws;

pub use link::{
    connect, connect_websocket, BoxedStream, Incoming, LinkError, RelayConnection, RelayIo,
    RelayReader, RelayWriter,
};
