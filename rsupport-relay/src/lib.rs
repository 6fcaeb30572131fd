//! rsupport-relay: the server every party connects out to.
//!
//! It authenticates operators and admins ([`auth`]), issues session codes,
//! pairs parties, forwards session traffic it does not interpret, enforces
//! limits, and keeps accounts, settings and the audit history ([`store`],
//! [`audit`]). The logic is a sans-IO [`Broker`] under a thin tokio driver
//! ([`serve`]); the binary `rsupport-relay` (serve, bootstrap, admin) runs it
//! from a configuration file.
//!
//! This crate builds no capture, input or session code: it never needs to
//! understand what it forwards.
//!
//! # The broker without sockets
//!
//! ```
//! use rand::{rngs::StdRng, SeedableRng};
//! use rsupport_relay::{Broker, ConnInfo, Output, RelayConfig};
//! use rsupport_relay::store::SqliteStore;
//! use rsupport_proto::relay::{Hello, RelayMessage};
//! use rsupport_proto::{Role, PROTOCOL_VERSION};
//!
//! let store = SqliteStore::in_memory()?;
//! let mut broker = Broker::new(RelayConfig::default(), Box::new(store), Box::new(StdRng::seed_from_u64(1)));
//! let now = 1_700_000_000_000; // virtual clock, ms
//! broker.handle_connect(1, ConnInfo { source: "192.0.2.1".parse()?, client_cert: false }, now);
//! broker.handle_message(1, RelayMessage::Hello(Hello {
//!     min_version: PROTOCOL_VERSION,
//!     max_version: PROTOCOL_VERSION,
//!     role: Role::Customer,
//!     software: "doc".into(),
//! }), now);
//! assert!(matches!(broker.poll_output(), Some(Output::Send { conn: 1, message: RelayMessage::HelloAck(_) })));
//! // It must now log in, join or contact an operator before this deadline
//! // (`auth_timeout_ms`, 30 s); pings do not extend it.
//! assert_eq!(broker.poll_timeout(), Some(now + 30_000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Running a relay
//!
//! `serve(listener, ServeConfig { relay, tls, store, rng }, shutdown)` runs
//! until `shutdown` completes; see the `rsupport-relay` binary (`src/bin/rsupport-relay`) for a complete program
//! (configuration file, self-signed certificate on first start, admin tool).
//! [`serve_until`] chooses how to stop: [`ShutdownMode::KeepSessions`] stops
//! for a restart and the next run restores the sessions from the store, so
//! the parties resume (as they do after a crash).
//!
//! # Resume
//!
//! A party whose connection drops is *suspended* for
//! [`Settings::resume_grace_ms`]; the peer hears `PeerSuspended`. `Resume`
//! with the session id and the party's token (from the last `Paired`)
//! re-attaches a new connection and rotates the token; the peer hears
//! `PeerResumed`. When the grace period ends first, the session ends with
//! `PeerLost`.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

mod admin;
pub mod audit;
pub mod auth;
mod broker;
mod codes;
pub mod config;
mod conn_deadline;
mod conn_limits;
mod contact;
mod embed;
mod event_channel;
pub mod hashing;
pub mod identity;
mod limits;
mod lockout;
mod login;
mod memory;
mod pairing;
pub mod proxy;
mod queue;
mod resume;
mod server;
pub mod source;
pub mod store;
mod transfer;
pub mod web;

pub use admin::{bootstrap_admin, new_account, valid_username, AccountSpec, BootstrapError};
pub use broker::{Broker, ConnId, ConnInfo, Output, TrafficMeter};
pub use config::{ConfigError, InvalidSetting, RelayConfig, Settings};
pub use embed::{create_account, Relay, RelayBuilder, RunningRelay, StartError};
pub use hashing::{PasswordJob, PasswordOutcome, PasswordPool};
pub use server::{now_ms, serve, serve_until, ServeConfig, ShutdownMode};
pub use source::Source;
