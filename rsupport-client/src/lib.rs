//! rsupport-client: the paved path for vendors.
//!
//! [`Operator`] and [`Customer`] over a TLS connection to the relay, and a
//! [`SessionHandle`] per live session. The crate runs the sans-IO session of
//! `rsupport-core` on tokio, with the platform's screen, input and printer
//! ([`HostPlatform`]), and builds no relay code.
//!
//! Each party runs one connection task (tokio) that owns the relay
//! connection and the sans-IO [`Session`](rsupport_core::session::Session) state
//! machines, one per session, routed by session id. The handles talk to the
//! task through channels, so every method is cancellation-safe: dropping a
//! future never leaves a half-sent frame.
//!
//! When the relay connection drops (or the relay restarts) while sessions
//! are live, the task reconnects by itself and resumes them: each session
//! reports [`SessionEvent::Connection`](rsupport_core::session::SessionEvent::Connection)
//! and goes on; file transfers continue from their last confirmed byte. An
//! operator's lobby reports [`LobbyEvent::Reconnected`]: log in again before
//! issuing codes.
//!
//! # Operator side
//!
//! ```no_run
//! # async fn run() -> Result<(), rsupport_client::EndpointError> {
//! use rsupport_client::{LobbyEvent, Operator, RelayTarget};
//! use rsupport_proto::ConnectionMode;
//!
//! let target = RelayTarget::pinned("relay.example.com:7443", "relay.example.com", "AB:CD:…");
//! let mut operator = Operator::connect(&target, Default::default()).await?;
//! operator.login("sato", "Secr3t-pass", None).await?;
//! let invitation = operator.issue_code().await?;
//! println!("tell the customer: {}", invitation.code());
//! while let Some(event) = operator.next_event().await {
//!     if let LobbyEvent::SessionStarted(mut session) = event {
//!         session.request_mode(ConnectionMode::ControlCustomer, "to fix the printer").await?;
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
//! # async fn run() -> Result<(), rsupport_client::EndpointError> {
//! use rsupport_client::{Customer, HostPlatform, RelayTarget};
//! use rsupport_core::session::{ControlEvent, SessionEvent};
//! use rsupport_proto::relay::CustomerInfo;
//!
//! let target = RelayTarget::pinned("relay.example.com:7443", "relay.example.com", "AB:CD:…");
//! let customer = Customer::connect(&target, HostPlatform::synthetic()).await?;
//! let mut session = customer.join("12345678", CustomerInfo::default()).await?;
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

mod connection;
mod customer;
mod error;
mod handle;
mod operator;
mod platform;
pub mod print;
mod printing;
mod target;

pub mod invite;

pub use customer::Customer;
pub use error::EndpointError;
pub use handle::{Drawing, SessionHandle, SessionStats};
pub use operator::{Invitation, LobbyEvent, LoginInfo, Operator, OperatorOptions};
pub use platform::HostPlatform;
pub use target::RelayTarget;
