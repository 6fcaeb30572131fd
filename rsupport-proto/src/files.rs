//! STUB — replaced by the channel's owner. Only `Ack` exists for now.

use crate::error::DecodeError;
use crate::pb;
use crate::wire::Wire;

/// One files message (stub).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileMessage {
    /// Placeholder.
    Ack,
}

impl Wire for FileMessage {
    type Pb = pb::FileMessage;
    fn to_pb(&self) -> pb::FileMessage {
        pb::FileMessage::default()
    }
    fn from_pb(_pb: pb::FileMessage) -> Result<Self, DecodeError> {
        Err(DecodeError::Invalid { field: "files", reason: "not implemented yet" })
    }
}
