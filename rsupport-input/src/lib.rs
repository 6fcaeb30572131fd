//! rsupport-input
