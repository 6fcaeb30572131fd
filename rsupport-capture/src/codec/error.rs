//! Errors of the tile codec.

use rsupport_proto::{CloseReason, DecodeError};

/// A frame update the decoder refuses. After any error the decoder forgets
/// its framebuffer and cache and waits for a key frame: send a
/// `ScreenMessage::Refresh` to the host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The frame is larger than the decoder's limits (or zero-sized).
    #[error("frame of {width}x{height} is outside the limits")]
    FrameSize {
        /// Width received.
        width: u32,
        /// Height received.
        height: u32,
    },
    /// A delta frame arrived before any key frame, or after an error.
    #[error("delta frame without a key frame before it")]
    NoKeyFrame,
    /// A delta frame's size differs from the framebuffer's.
    #[error("delta frame size differs from the framebuffer")]
    SizeChanged,
    /// The decompressed tile batch would be larger than the cap (checked before decompressing).
    #[error("tile batch of {len} bytes is over the cap of {max}")]
    BatchTooLarge {
        /// Announced decompressed length.
        len: u64,
        /// The cap.
        max: u64,
    },
    /// A limit on counts or areas was exceeded.
    #[error("over the limit: {0}")]
    OverLimit(&'static str),
    /// A copy rectangle or tile lies (partly) outside the frame.
    #[error("{0} outside the frame")]
    OutOfBounds(&'static str),
    /// A tile references a cache id the decoder does not hold.
    #[error("unknown tile cache id {0}")]
    UnknownCacheId(u64),
    /// The tile data is inconsistent (bad runs, palette index, sizes, compression).
    #[error("corrupt tile data: {0}")]
    Corrupt(&'static str),
    /// The tile batch is not a valid protobuf TileBatch.
    #[error("bad tile batch: {0}")]
    Batch(#[from] DecodeError),
}

impl CodecError {
    /// The close reason to send to the host if the session gives up on it.
    pub fn close_reason(&self) -> CloseReason {
        match self {
            CodecError::BatchTooLarge { .. }
            | CodecError::OverLimit(_)
            | CodecError::FrameSize { .. } => CloseReason::TooLarge,
            CodecError::Batch(e) => e.close_reason(),
            _ => CloseReason::Malformed,
        }
    }
}

/// A frame the encoder cannot encode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Zero-sized or larger than the protocol allows.
    #[error("cannot encode a {width}x{height} frame")]
    FrameSize {
        /// Width given.
        width: u32,
        /// Height given.
        height: u32,
    },
    /// zstd failed (out of memory).
    #[error("compression failed")]
    Compression,
    /// The compressed tiles exceed what a frame update may carry
    /// (`rsupport_proto::screen::MAX_TILE_BYTES`), as an incompressible frame
    /// far above 4K can. The next update is a key frame; a reduced colour
    /// depth or lossy tiles make such frames fit.
    #[error("frame update of {bytes} bytes is over the protocol cap")]
    TooLarge {
        /// Compressed size.
        bytes: usize,
    },
}
