//! Chat, before and during remote control: numbered lines, typing notices and
//! read receipts. Chat text never reaches logs.

use std::collections::VecDeque;

use rsupport_proto::chat::{ChatMessage, ChatText};
use rsupport_proto::limits::MAX_CHAT_TEXT;

/// Something the application shows in its chat window.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatEvent {
    /// A line from the peer.
    Received(ChatText),
    /// The peer started or stopped typing.
    PeerTyping(bool),
    /// The peer has read our lines up to this id.
    ReadUpTo(u64),
}

/// A line we may not send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChatError {
    /// Empty or only white space.
    #[error("empty chat message")]
    Empty,
    /// Over the protocol's cap.
    #[error("chat message of {0} bytes is over the cap of {MAX_CHAT_TEXT}")]
    TooLong(usize),
}

/// One side's chat.
#[derive(Debug)]
pub struct Chat {
    display_name: String,
    next_id: u64,
    history: Vec<(bool, ChatText)>,
    transmit: VecDeque<ChatMessage>,
    events: VecDeque<ChatEvent>,
    last_read_sent: u64,
}

impl Chat {
    /// A chat in which we appear as `display_name`.
    pub fn new(display_name: impl Into<String>) -> Self {
        Chat {
            display_name: display_name.into(),
            next_id: 1,
            history: Vec::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            last_read_sent: 0,
        }
    }

    /// Sends a line; returns its id.
    pub fn send(&mut self, text: impl Into<String>, now_ms: u64) -> Result<u64, ChatError> {
        let text = text.into();
        if text.trim().is_empty() {
            return Err(ChatError::Empty);
        }
        if text.len() > MAX_CHAT_TEXT {
            return Err(ChatError::TooLong(text.len()));
        }
        let line = ChatText {
            id: self.next_id,
            text,
            sent_at_ms: now_ms,
            sender_name: self.display_name.clone(),
        };
        self.next_id += 1;
        self.history.push((true, line.clone()));
        self.transmit.push_back(ChatMessage::Text(line.clone()));
        Ok(line.id)
    }

    /// Tells the peer we are (not) typing.
    pub fn set_typing(&mut self, typing: bool) {
        self.transmit.push_back(ChatMessage::Typing { typing });
    }

    /// Tells the peer we have read everything it sent so far.
    pub fn mark_read(&mut self) {
        let newest = self
            .history
            .iter()
            .filter(|(ours, _)| !ours)
            .map(|(_, l)| l.id)
            .max()
            .unwrap_or(0);
        if newest > self.last_read_sent {
            self.last_read_sent = newest;
            self.transmit
                .push_back(ChatMessage::Read { up_to_id: newest });
        }
    }

    /// A chat message from the peer.
    pub fn handle_message(&mut self, message: ChatMessage) {
        match message {
            ChatMessage::Text(line) => {
                self.history.push((false, line.clone()));
                self.events.push_back(ChatEvent::Received(line));
            }
            ChatMessage::Typing { typing } => self.events.push_back(ChatEvent::PeerTyping(typing)),
            ChatMessage::Read { up_to_id } => self.events.push_back(ChatEvent::ReadUpTo(up_to_id)),
            _ => {}
        }
    }

    /// Every line so far, in order; `true` marks our own.
    pub fn history(&self) -> impl Iterator<Item = (bool, &ChatText)> {
        self.history.iter().map(|(ours, l)| (*ours, l))
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<ChatMessage> {
        self.transmit.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<ChatEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_travel_with_increasing_ids_and_read_receipts() {
        let mut op = Chat::new("Sato");
        let mut cu = Chat::new("Customer");
        assert_eq!(op.send("こんにちは", 10), Ok(1));
        assert_eq!(op.send("printer?", 11), Ok(2));
        while let Some(m) = op.poll_transmit() {
            cu.handle_message(m);
        }
        let got: Vec<_> = std::iter::from_fn(|| cu.poll_event()).collect();
        assert!(
            matches!(&got[0], ChatEvent::Received(l) if l.text == "こんにちは" && l.sender_name == "Sato")
        );
        assert!(matches!(&got[1], ChatEvent::Received(l) if l.id == 2));
        cu.mark_read();
        cu.mark_read(); // nothing new: no second receipt
        let receipts: Vec<_> = std::iter::from_fn(|| cu.poll_transmit()).collect();
        assert_eq!(receipts, vec![ChatMessage::Read { up_to_id: 2 }]);
        op.handle_message(receipts[0].clone());
        assert_eq!(op.poll_event(), Some(ChatEvent::ReadUpTo(2)));
        assert_eq!(cu.history().count(), 2);
    }

    #[test]
    fn empty_and_over_long_lines_are_refused() {
        let mut c = Chat::new("x");
        assert_eq!(c.send("  \n", 0), Err(ChatError::Empty));
        assert_eq!(
            c.send("a".repeat(MAX_CHAT_TEXT + 1), 0),
            Err(ChatError::TooLong(MAX_CHAT_TEXT + 1))
        );
        assert!(c.poll_transmit().is_none());
    }
}
