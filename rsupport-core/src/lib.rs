//! rsupport-core
