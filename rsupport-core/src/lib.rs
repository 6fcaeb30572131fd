//! rsupport-core

pub mod print;
