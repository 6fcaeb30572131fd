//! The relay server: a sans-IO [`Broker`] under a thin tokio driver
//! ([`serve`]), plus the client-side [`RelayConnection`].

mod admin;
mod broker;
mod client;
pub mod config;
mod limiter;
mod login;
mod pairing;
mod queue;
mod server;

pub use admin::{bootstrap_admin, new_account, valid_username, BootstrapError};
pub use broker::{Broker, ConnId, ConnInfo, Output, TrafficMeter};
pub use client::{connect, ClientError, Incoming, RelayConnection};
pub use config::{RelayConfig, Settings};
pub use limiter::FailureLimiter;
pub use server::{now_ms, serve, ServeConfig};
