//! rsupport-core: the relay server (broker, store, accounts, TLS), remote
//! printing ([`print`](mod@print)) and, later, the session state machines.
//!
//! The protocol logic is sans-IO: [`relay::Broker`] takes messages and `now`
//! in and gives messages, routes and deadlines out; the tokio driver in
//! [`relay`] moves bytes.

#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod invite;
pub mod print;
pub mod relay;
pub mod store;
pub mod tls;
