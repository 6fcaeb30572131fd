//! Screen capture sources and the tile codec.

#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod codec;
pub mod frame;
pub mod scale;
pub mod source;

pub use codec::{Decoder, Encoder, EncoderConfig};
pub use frame::BgraFrame;
pub use source::{
    CaptureArea, CaptureError, Capturer, DirtyRegion, MonitorInfo, Rect, SyntheticSource,
    WallpaperControl, WindowSelection,
};
