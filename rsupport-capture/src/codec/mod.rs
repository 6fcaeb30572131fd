//! The screen tile codec: [`BgraFrame`](crate::BgraFrame) sequences in,
//! protocol [`FrameUpdate`](rsupport_proto::screen::FrameUpdate)s out, and back.
//!
//! The [`Encoder`] keeps a model of the viewer's framebuffer and sends only
//! what differs from it:
//!
//! - **dirty tiles** (64×64) found by comparing rows as slices, and within a
//!   dirty tile only the rectangle that changed;
//! - **copy rectangles** for scrolling and moved windows, found by voting with
//!   content-defined rolling-hash anchors and confirmed pixel by pixel;
//! - per tile the cheapest of **solid**, **palette + run lengths**,
//!   **median-predicted** residuals, a **cache** id of an identical tile sent
//!   earlier (both ends keep the same bounded LRU), or — only when the viewer
//!   allowed it — **JPEG** for photo-like tiles that change frame after frame
//!   (text never qualifies: it has few colours);
//! - the whole tile batch compressed with **zstd**.
//!
//! In true colour without lossy tiles, decoding reproduces every frame
//! exactly. Reduced colour depths quantise before encoding; the decoder
//! still outputs BGRA.
//!
//! The [`Decoder`] is bounded by [`Limits`] and returns a [`CodecError`]
//! for any hostile input, after which it waits for a key frame.
//!
//! ```
//! use rsupport_capture::codec::{synthetic, Decoder, Encoder, EncoderConfig, Limits};
//!
//! let mut frames = synthetic::Sequence::new(synthetic::Scenario::Typing, 640, 360, 7);
//! let mut encoder = Encoder::new(EncoderConfig::default());
//! let mut decoder = Decoder::new(Limits::default());
//! for _ in 0..5 {
//!     let frame = frames.next_frame();
//!     let update = encoder.encode(&frame, 0)?;
//!     decoder.apply(&update)?; // on the viewer, after the relay
//!     assert_eq!(decoder.frame(), Some(&frame));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod budget;
mod cache;
pub mod crafted;
mod decoder;
mod encoder;
mod error;
mod hash;
mod motion;
mod quantize;
pub mod synthetic;
mod tile_format;

pub use budget::DecoderStats;
pub use cache::DEFAULT_CACHE_BYTES;
pub use decoder::{decode_update_bytes, Decoder, Limits, DEFAULT_MAX_FRAME_PIXELS, SCRATCH_KEEP};
pub use encoder::{EncodeStats, Encoder, EncoderConfig, TILE};
pub use error::{CodecError, EncodeError};

#[cfg(test)]
mod budget_tests;
#[cfg(test)]
mod tests;
