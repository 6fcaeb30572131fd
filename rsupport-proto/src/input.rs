//! STUB — replaced by the channel's owner. Only `ReleaseAll` exists for now.

use crate::error::DecodeError;
use crate::pb;
use crate::wire::Wire;

/// One input message (stub).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputMessage {
    /// Placeholder.
    ReleaseAll,
}

impl Wire for InputMessage {
    type Pb = pb::InputMessage;
    fn to_pb(&self) -> pb::InputMessage {
        pb::InputMessage::default()
    }
    fn from_pb(_pb: pb::InputMessage) -> Result<Self, DecodeError> {
        Err(DecodeError::Invalid { field: "input", reason: "not implemented yet" })
    }
}
