//! rsupport-core: the relay server, live sessions and the API vendors call.
//!
//! - [`endpoint`]: `Operator`, `Customer` and `SessionHandle` — start here.
//! - [`session`]: the sans-IO session state machines (control and consent,
//!   chat, screen, input gating).
//! - [`files`]: file transfer both ways with consent, resume and checksums.
//! - [`annotate`]: the drawing layer and its rasteriser.
//! - [`print`](mod@print): remote printing (virtual IPP printer, CUPS queues).
//! - [`relay`]: the relay server (a sans-IO [`relay::Broker`] under a thin
//!   tokio driver) and the client-side connection.
//! - [`auth`], [`store`], [`audit`], [`invite`], [`tls`]: accounts and
//!   passwords, persistence, history, invitations, certificates.
//!
//! Protocol logic is sans-IO: state machines take messages and `now` in and
//! give messages, events and deadlines out; tokio drivers move bytes.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod annotate;
pub mod audit;
pub mod auth;
pub mod endpoint;
pub mod files;
pub mod invite;
pub mod print;
pub mod relay;
pub mod session;
pub mod store;
pub mod tls;
