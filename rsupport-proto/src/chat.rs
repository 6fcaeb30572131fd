//! Chat channel: text before and during remote control.

use crate::error::DecodeError;
use crate::limits::{MAX_CHAT_TEXT, MAX_NAME};
use crate::pb::{self, chat_message::Body};
use crate::wire::{check_str, required, Wire};

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatMessage {
    /// A line of chat.
    Text(ChatText),
    /// The sender started or stopped typing.
    Typing {
        /// Whether the sender is typing now.
        typing: bool,
    },
    /// The sender has read the peer's messages up to this id.
    Read {
        /// Highest message id read.
        up_to_id: u64,
    },
}

/// A line of chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatText {
    /// Sender-assigned, increasing per sender.
    pub id: u64,
    /// The text (at most [`MAX_CHAT_TEXT`] bytes).
    pub text: String,
    /// When it was sent, ms since the Unix epoch.
    pub sent_at_ms: u64,
    /// Display name of the sender.
    pub sender_name: String,
}

impl Wire for ChatMessage {
    type Pb = pb::ChatMessage;

    fn to_pb(&self) -> pb::ChatMessage {
        let body = match self {
            ChatMessage::Text(t) => Body::Text(pb::ChatText {
                id: t.id,
                text: t.text.clone(),
                sent_at_ms: t.sent_at_ms,
                sender_name: t.sender_name.clone(),
            }),
            ChatMessage::Typing { typing } => Body::Typing(pb::ChatTyping { typing: *typing }),
            ChatMessage::Read { up_to_id } => Body::Read(pb::ChatRead {
                up_to_id: *up_to_id,
            }),
        };
        pb::ChatMessage { body: Some(body) }
    }

    fn from_pb(pb: pb::ChatMessage) -> Result<Self, DecodeError> {
        Ok(match required("chat.body", pb.body)? {
            Body::Text(t) => {
                check_str("chat.text", &t.text, MAX_CHAT_TEXT)?;
                check_str("chat.sender_name", &t.sender_name, MAX_NAME)?;
                ChatMessage::Text(ChatText {
                    id: t.id,
                    text: t.text,
                    sent_at_ms: t.sent_at_ms,
                    sender_name: t.sender_name,
                })
            }
            Body::Typing(t) => ChatMessage::Typing { typing: t.typing },
            Body::Read(r) => ChatMessage::Read {
                up_to_id: r.up_to_id,
            },
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::strategies::*;
    use proptest::prelude::*;

    pub(crate) fn chat_message() -> impl Strategy<Value = ChatMessage> {
        prop_oneof![
            (any::<u64>(), text(64), any::<u64>(), text(16)).prop_map(
                |(id, text, sent_at_ms, sender_name)| {
                    ChatMessage::Text(ChatText {
                        id,
                        text,
                        sent_at_ms,
                        sender_name,
                    })
                }
            ),
            any::<bool>().prop_map(|typing| ChatMessage::Typing { typing }),
            any::<u64>().prop_map(|up_to_id| ChatMessage::Read { up_to_id }),
        ]
    }

    proptest! {
        #[test]
        fn chat_round_trips(m in chat_message()) {
            assert_round_trip(&m);
        }
    }

    #[test]
    fn over_long_text_is_refused() {
        let m = ChatMessage::Text(ChatText {
            id: 1,
            text: "あ".repeat(MAX_CHAT_TEXT / 3 + 1),
            sent_at_ms: 0,
            sender_name: String::new(),
        });
        assert!(matches!(
            ChatMessage::from_pb(m.to_pb()),
            Err(DecodeError::TooLong {
                field: "chat.text",
                ..
            })
        ));
    }

    #[test]
    fn empty_body_is_refused() {
        assert_eq!(
            ChatMessage::from_pb(pb::ChatMessage { body: None }),
            Err(DecodeError::MissingField("chat.body"))
        );
    }
}
