//! The relay server: a sans-IO [`Broker`] under a thin tokio driver
//! ([`serve`]), plus the client-side [`RelayConnection`].

mod admin;
mod broker;
pub mod config;
mod limiter;
mod login;
mod pairing;

pub use admin::{bootstrap_admin, new_account, valid_username, BootstrapError};
pub use broker::{Broker, ConnId, ConnInfo, Output, TrafficMeter};
pub use config::{RelayConfig, Settings};
pub use limiter::FailureLimiter;
