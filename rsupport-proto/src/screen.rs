//! STUB — replaced by the channel's owner. Only `Refresh` exists for now.

use crate::error::DecodeError;
use crate::pb;
use crate::wire::Wire;

/// One screen message (stub).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScreenMessage {
    /// Placeholder.
    Refresh,
}

impl Wire for ScreenMessage {
    type Pb = pb::ScreenMessage;
    fn to_pb(&self) -> pb::ScreenMessage {
        pb::ScreenMessage::default()
    }
    fn from_pb(_pb: pb::ScreenMessage) -> Result<Self, DecodeError> {
        Err(DecodeError::Invalid { field: "screen", reason: "not implemented yet" })
    }
}
