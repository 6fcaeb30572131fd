//! rsupport-core: the session, sans-IO.
//!
//! One side of a live support session between an operator and a customer,
//! as state machines that take messages and `now` in and give messages,
//! events and deadlines out. No sockets, no tokio, no clocks: the same code
//! runs under `rsupport-client`'s tokio driver, in tests on a virtual clock,
//! and (later) in the browser.
//!
//! - [`session`]: [`Session`](session::Session) and its channels — control
//!   and consent, chat, screen, input gating — with the run loop.
//! - [`e2e`]: end-to-end encryption — the key exchange over the session
//!   code (or the help desk's key for chat-first contact) and the sealed
//!   record layer; the relay forwards what it cannot read.
//! - [`files`]: file transfer both ways with consent, resume and checksums.
//! - [`print`](mod@print): the print channel (job offers, data, results).
//! - [`annotate`]: the drawing layer shown on the customer's screen, and its
//!   rasteriser.
//!
//! Most products use `rsupport-client` (or the `rsupport` facade) instead of
//! driving a `Session` themselves.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]
// Tests may read the clock and use temporary files (clippy.toml forbids both
// in the library itself).
#![cfg_attr(test, allow(clippy::disallowed_methods, clippy::disallowed_types))]

pub mod annotate;
pub mod e2e;
pub mod files;
pub mod print;
pub mod session;
mod side;

pub use side::Side;
