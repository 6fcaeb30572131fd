//! rsupport-client: the paved path for vendors.
//!
//! [`Operator`] and [`Customer`] over a TLS connection to the relay, and a
//! [`SessionHandle`] per live session. The crate runs the sans-IO session of
//! `rsupport-core` on tokio, with the platform's screen, input and printer
//! ([`HostPlatform`]), and builds no relay code. No wire message appears in
//! this API: every request is a typed method and every answer a domain type
//! or a [`ClientError`].
//!
//! # Run loop
//!
//! Each party runs one connection task (tokio) that owns the relay
//! connection and one sans-IO [`Session`](rsupport_core::session::Session)
//! per live session. The product holds handles and does three things:
//!
//! 1. **reads events** — [`Operator::next_event`] for the console
//!    ([`LobbyEvent`]), [`SessionHandle::next_event`] for each session
//!    ([`SessionEvent`](rsupport_core::session::SessionEvent)): consent
//!    requests, chat, file offers, connection changes;
//! 2. **calls methods** — `request_mode`, `decide`, `send_chat`,
//!    `send_files`, `transfer_session` …; each is cancellation-safe (the
//!    task owns the connection, so a dropped future never leaves a
//!    half-sent frame) and fails with a [`ClientError`] that says whose
//!    fault it was;
//! 3. **draws the peer's screen**, when viewing, from a [`Viewer`]: the
//!    latest frame read in place and the rectangles changed since it last
//!    looked.
//!
//! When the relay connection drops while sessions are live, the task
//! reconnects by itself and resumes them: each session reports
//! [`SessionEvent::Connection`](rsupport_core::session::SessionEvent::Connection)
//! and goes on; file transfers continue from their last confirmed byte. An
//! operator's lobby reports [`LobbyEvent::Reconnected`]: log in again before
//! issuing codes.
//!
//! # Events and backpressure
//!
//! Every event channel is bounded; what happens when the product stops
//! reading depends on the kind of event:
//!
//! | events | policy |
//! |---|---|
//! | control, chat, files, print, notices, connection | never dropped. When a session's channel (256 events) is full, that session's incoming messages wait in the task and its peer's flow control slows the peer; other sessions, input and the lobby go on. A product that stops reading for good (4096 held messages) loses that session, not memory. |
//! | frame updated, cursor | coalesced: at most one of each waits, carrying the newest values |
//! | pixels | never queued: the [`Viewer`] shows the latest frame with the union of damage |
//! | lobby | bounded (64); beyond it items wait in the task, and only the newest presence list is kept |
//! | print messages from the peer | a bounded inbox per print driver (64); when it is full the session's incoming messages wait as above, and the driver's own events (16) wait for the handle the same way |
//! | file offers, chat history | kept in the session within fixed bounds: 16 offers (1 MiB of names) waiting for an answer, expiring after 10 minutes; the latest 1,000 chat lines or 1 MiB |
//!
//! # Operator side
//!
//! ```no_run
//! # async fn run() -> Result<(), rsupport_client::ClientError> {
//! use rsupport_client::{LobbyEvent, Operator, OperatorOptions, RelayTarget};
//! use rsupport_proto::ConnectionMode;
//!
//! let target = RelayTarget::pinned("relay.example.com:7443", "relay.example.com", "AB:CD:…");
//! let mut operator = Operator::connect(&target, OperatorOptions::default()).await?;
//! operator.login("sato", "Secr3t-pass", None).await?;
//! let invitation = operator.issue_code().await?;
//! println!("tell the customer: {}", invitation.display_code());
//! while let Some(event) = operator.next_event().await {
//!     if let LobbyEvent::SessionStarted(mut session) = event {
//!         session.request_mode(ConnectionMode::ControlCustomer, "to fix the printer").await?;
//!         let mut viewer = session.viewer();
//!         tokio::spawn(async move {
//!             while viewer.changed().await.is_ok() {
//!                 if let Some(view) = viewer.frame() {
//!                     println!("redraw {:?}", view.changed_rects());
//!                 }
//!             }
//!         });
//!         while let Some(event) = session.next_event().await {
//!             println!("{event:?}");
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Customer side
//!
//! ```no_run
//! # async fn run() -> Result<(), rsupport_client::ClientError> {
//! use rsupport_client::{Customer, HostPlatform, RelayTarget};
//! use rsupport_core::session::{ControlEvent, SessionEvent};
//! use rsupport_proto::relay::CustomerInfo;
//!
//! let target = RelayTarget::pinned("relay.example.com:7443", "relay.example.com", "AB:CD:…");
//! let customer = Customer::connect(&target, HostPlatform::synthetic()).await?;
//! // As read out on the phone: spaces and dashes are fine.
//! let mut session = match customer.join("123 456 789 012", CustomerInfo::default()).await {
//!     Ok(session) => session,
//!     Err(e) => {
//!         eprintln!("{e}"); // a sentence for the customer, with what to do
//!         return Ok(());
//!     }
//! };
//! while let Some(event) = session.next_event().await {
//!     if let SessionEvent::Control(ControlEvent::ConsentRequested { request_id, mode, reason }) = event {
//!         let allow = true; // ask the customer in the product's own UI
//!         session.decide(request_id, allow).await?;
//!     }
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod admin;
mod connection;
mod customer;
mod encryption;
mod error;
mod handle;
mod operator;
mod platform;
pub mod print;
mod printing;
pub mod storage;
mod target;
mod viewer;

pub mod invite;

pub use admin::Admin;
pub use customer::Customer;
pub use encryption::Encryption;
pub use error::{BoxError, ClientError, NotAllowed};
pub use handle::{Drawing, SessionHandle, SessionStats};
pub use invite::Invitation;
pub use operator::{LobbyEvent, LoginInfo, Operator, OperatorOptions};
pub use platform::HostPlatform;
pub use target::RelayTarget;
pub use viewer::{FrameView, Viewer};
