//! STUB — replaced by the channel's owner. Only `Clear` exists for now.

use crate::error::DecodeError;
use crate::pb;
use crate::wire::Wire;

/// One annotate message (stub).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnnotateMessage {
    /// Placeholder.
    Clear,
}

impl Wire for AnnotateMessage {
    type Pb = pb::AnnotateMessage;
    fn to_pb(&self) -> pb::AnnotateMessage {
        pb::AnnotateMessage::default()
    }
    fn from_pb(_pb: pb::AnnotateMessage) -> Result<Self, DecodeError> {
        Err(DecodeError::Invalid { field: "annotate", reason: "not implemented yet" })
    }
}
