//! STUB — replaced by the channel's owner. Only `Cancel` exists for now.

use crate::error::DecodeError;
use crate::pb;
use crate::wire::Wire;

/// One print message (stub).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrintMessage {
    /// Placeholder.
    Cancel,
}

impl Wire for PrintMessage {
    type Pb = pb::PrintMessage;
    fn to_pb(&self) -> pb::PrintMessage {
        pb::PrintMessage::default()
    }
    fn from_pb(_pb: pb::PrintMessage) -> Result<Self, DecodeError> {
        Err(DecodeError::Invalid { field: "print", reason: "not implemented yet" })
    }
}
