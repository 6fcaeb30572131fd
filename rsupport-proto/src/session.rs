//! A session message: the payload of an [`Envelope`], one variant per channel.

use bytes::Bytes;

use crate::annotate::AnnotateMessage;
use crate::chat::ChatMessage;
use crate::control::ControlMessage;
use crate::envelope::{Envelope, PayloadProtection, Priority};
use crate::error::DecodeError;
use crate::files::FileMessage;
use crate::input::InputMessage;
use crate::pb::{self, session_message::Body};
use crate::print::PrintMessage;
use crate::screen::ScreenMessage;
use crate::wire::{self, required, Wire};

/// One message inside a session.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SessionMessage {
    /// Modes, consent, pause, end.
    Control(ControlMessage),
    /// Frames, cursor, monitors, display settings.
    Screen(ScreenMessage),
    /// Pointer, keys, text.
    Input(InputMessage),
    /// Chat.
    Chat(ChatMessage),
    /// File transfer.
    File(FileMessage),
    /// Remote printing.
    Print(PrintMessage),
    /// Drawing on the shared screen.
    Annotate(AnnotateMessage),
}

impl SessionMessage {
    /// The scheduling class this message travels in.
    pub fn priority(&self) -> Priority {
        match self {
            SessionMessage::Control(_) => Priority::Control,
            SessionMessage::Input(_) => Priority::Input,
            SessionMessage::Screen(_) | SessionMessage::Annotate(_) => Priority::Screen,
            SessionMessage::Chat(_) => Priority::Chat,
            SessionMessage::File(_) | SessionMessage::Print(_) => Priority::Bulk,
        }
    }

    /// Encodes the message (an envelope payload).
    pub fn encode(&self) -> Bytes {
        wire::encode(self)
    }

    /// As [`encode`](Self::encode), with `room` spare bytes of capacity
    /// after the message for what its sender appends in place (an
    /// end-to-end seal's tag and epoch): no copy of a large message then.
    pub fn encode_with_room(&self, room: usize) -> Bytes {
        wire::encode_with_room(self, room)
    }

    /// Decodes an envelope payload. Byte fields (tiles, file chunks) slice
    /// `payload` rather than copy it.
    pub fn decode(payload: Bytes) -> Result<Self, DecodeError> {
        wire::decode(payload)
    }

    /// Wraps the encoded message in a plain envelope for `session_id`.
    pub fn into_envelope(&self, session_id: u64, seq: u64) -> Envelope {
        Envelope {
            session_id,
            priority: self.priority(),
            protection: PayloadProtection::Plain,
            seq,
            payload: self.encode(),
        }
    }
}

impl Wire for SessionMessage {
    type Pb = pb::SessionMessage;

    fn to_pb(&self) -> pb::SessionMessage {
        let body = match self {
            SessionMessage::Control(m) => Body::Control(m.to_pb()),
            SessionMessage::Screen(m) => Body::Screen(m.to_pb()),
            SessionMessage::Input(m) => Body::Input(m.to_pb()),
            SessionMessage::Chat(m) => Body::Chat(m.to_pb()),
            SessionMessage::File(m) => Body::File(m.to_pb()),
            SessionMessage::Print(m) => Body::Print(m.to_pb()),
            SessionMessage::Annotate(m) => Body::Annotate(m.to_pb()),
        };
        pb::SessionMessage { body: Some(body) }
    }

    fn from_pb(pb: pb::SessionMessage) -> Result<Self, DecodeError> {
        Ok(match required("session.body", pb.body)? {
            Body::Control(m) => SessionMessage::Control(ControlMessage::from_pb(m)?),
            Body::Screen(m) => SessionMessage::Screen(ScreenMessage::from_pb(m)?),
            Body::Input(m) => SessionMessage::Input(InputMessage::from_pb(m)?),
            Body::Chat(m) => SessionMessage::Chat(ChatMessage::from_pb(m)?),
            Body::File(m) => SessionMessage::File(FileMessage::from_pb(m)?),
            Body::Print(m) => SessionMessage::Print(PrintMessage::from_pb(m)?),
            Body::Annotate(m) => SessionMessage::Annotate(AnnotateMessage::from_pb(m)?),
        })
    }
}

impl From<ControlMessage> for SessionMessage {
    fn from(m: ControlMessage) -> Self {
        SessionMessage::Control(m)
    }
}
impl From<ScreenMessage> for SessionMessage {
    fn from(m: ScreenMessage) -> Self {
        SessionMessage::Screen(m)
    }
}
impl From<InputMessage> for SessionMessage {
    fn from(m: InputMessage) -> Self {
        SessionMessage::Input(m)
    }
}
impl From<ChatMessage> for SessionMessage {
    fn from(m: ChatMessage) -> Self {
        SessionMessage::Chat(m)
    }
}
impl From<FileMessage> for SessionMessage {
    fn from(m: FileMessage) -> Self {
        SessionMessage::File(m)
    }
}
impl From<PrintMessage> for SessionMessage {
    fn from(m: PrintMessage) -> Self {
        SessionMessage::Print(m)
    }
}
impl From<AnnotateMessage> for SessionMessage {
    fn from(m: AnnotateMessage) -> Self {
        SessionMessage::Annotate(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ChatText;

    #[test]
    fn room_after_the_encoding_survives_into_a_vec() {
        let m = SessionMessage::Chat(ChatMessage::Text(ChatText {
            id: 1,
            text: "x".repeat(1000),
            sent_at_ms: 2,
            sender_name: "a".into(),
        }));
        let with_room = m.encode_with_room(20);
        assert_eq!(with_room, m.encode());
        // What a sealer appends in place then needs no new allocation.
        let v = Vec::from(with_room);
        assert!(
            v.capacity() >= v.len() + 20,
            "{} of {}",
            v.len(),
            v.capacity()
        );
    }
}
