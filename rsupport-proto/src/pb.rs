//! Generated prost types. Private to the crate: the public API is the
//! hand-written domain types in the channel modules.

#![allow(
    missing_docs,
    dead_code,
    clippy::all,
    clippy::pedantic,
    unreachable_pub
)]

include!(concat!(env!("OUT_DIR"), "/rsupport.v1.rs"));
