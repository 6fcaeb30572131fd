//! rsupport-core
//!
//! Session-level logic as sans-IO state machines. Modules so far:
//! - [`files`]: file transfer both ways with consent, resume and checksums.
//! - [`annotate`]: the drawing layer and its rasteriser.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod annotate;
pub mod files;
