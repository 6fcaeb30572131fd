//! Errors of the wire layer, split by what went wrong.
//!
//! Every error here is the *peer's* fault (it sent bytes we refuse); each maps
//! to the [`CloseReason`] sent back before the connection or transfer closes.

use crate::common::CloseReason;

/// A message body that does not decode into a valid domain message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not valid protobuf for the expected message.
    #[error("malformed protobuf: {0}")]
    Malformed(String),
    /// A required field (or oneof) is absent or left at its unspecified value.
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    /// An enum field holds a value this version does not know.
    #[error("field `{field}` has unknown enum value {value}")]
    InvalidEnum {
        /// Field name.
        field: &'static str,
        /// The value received.
        value: i32,
    },
    /// A string or byte field is longer than its cap.
    #[error("field `{field}` is {len} bytes, over the cap of {max}")]
    TooLong {
        /// Field name.
        field: &'static str,
        /// Length received.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A repeated field has more elements than its cap.
    #[error("field `{field}` has {count} elements, over the cap of {max}")]
    TooMany {
        /// Field name.
        field: &'static str,
        /// Elements received.
        count: usize,
        /// The cap.
        max: usize,
    },
    /// A field's value breaks a rule of the protocol (e.g. a zero-sized tile).
    #[error("field `{field}` is invalid: {reason}")]
    Invalid {
        /// Field name.
        field: &'static str,
        /// Which rule it broke.
        reason: &'static str,
    },
}

impl DecodeError {
    /// The close reason to send to the peer that caused this error.
    pub fn close_reason(&self) -> CloseReason {
        match self {
            DecodeError::TooLong { .. } | DecodeError::TooMany { .. } => CloseReason::TooLarge,
            _ => CloseReason::Malformed,
        }
    }
}

impl From<prost::DecodeError> for DecodeError {
    fn from(e: prost::DecodeError) -> Self {
        // Keep the foreign type out of the public API: only its text travels.
        DecodeError::Malformed(e.to_string())
    }
}

/// A frame header that cannot start a valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The kind byte names no frame kind.
    #[error("unknown frame kind {0:#04x}")]
    UnknownKind(u8),
    /// The announced length is over the cap for this kind. Raised from the
    /// header alone, before any body byte is buffered.
    #[error("{kind:?} frame of {len} bytes is over the cap of {max}")]
    TooLarge {
        /// Frame kind.
        kind: crate::framing::FrameKind,
        /// Announced body length.
        len: u64,
        /// The cap.
        max: u32,
    },
}

impl FrameError {
    /// The close reason to send to the peer that caused this error.
    pub fn close_reason(&self) -> CloseReason {
        match self {
            FrameError::UnknownKind(_) => CloseReason::Malformed,
            FrameError::TooLarge { .. } => CloseReason::TooLarge,
        }
    }
}

/// No protocol version both sides speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no common protocol version: peer speaks {peer_min}..={peer_max}, we speak {ours_min}..={ours_max}")]
pub struct VersionError {
    /// Lowest version the peer speaks.
    pub peer_min: u32,
    /// Highest version the peer speaks.
    pub peer_max: u32,
    /// Lowest version we speak.
    pub ours_min: u32,
    /// Highest version we speak.
    pub ours_max: u32,
}
