//! rsupport-core: relay, sessions and channels.

pub mod session;
