//! Screen capture sources and the tile codec.

#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod frame;

pub use frame::BgraFrame;
