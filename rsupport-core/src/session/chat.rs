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

/// Lines of history kept; the oldest go first (SECURITY M7).
pub const MAX_HISTORY_LINES: usize = 1000;
/// Bytes of history text (and sender names) kept; the oldest lines go
/// first, so a peer cannot grow the other side's memory without limit.
pub const MAX_HISTORY_BYTES: usize = 1024 * 1024;

/// One side's chat.
#[derive(Debug)]
pub struct Chat {
    display_name: String,
    next_id: u64,
    /// The latest lines, within [`MAX_HISTORY_LINES`] and
    /// [`MAX_HISTORY_BYTES`].
    history: VecDeque<(bool, ChatText)>,
    history_bytes: usize,
    /// Newest line id from the peer (what a read receipt covers), kept
    /// apart from the history so dropping old lines changes nothing.
    newest_from_peer: u64,
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
            history: VecDeque::new(),
            history_bytes: 0,
            newest_from_peer: 0,
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
        self.remember(true, line.clone());
        self.transmit.push_back(ChatMessage::Text(line.clone()));
        Ok(line.id)
    }

    /// Tells the peer we are (not) typing.
    pub fn set_typing(&mut self, typing: bool) {
        self.transmit.push_back(ChatMessage::Typing { typing });
    }

    /// Tells the peer we have read everything it sent so far.
    pub fn mark_read(&mut self) {
        let newest = self.newest_from_peer;
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
                self.newest_from_peer = self.newest_from_peer.max(line.id);
                self.remember(false, line.clone());
                self.events.push_back(ChatEvent::Received(line));
            }
            ChatMessage::Typing { typing } => self.events.push_back(ChatEvent::PeerTyping(typing)),
            ChatMessage::Read { up_to_id } => self.events.push_back(ChatEvent::ReadUpTo(up_to_id)),
            _ => {}
        }
    }

    /// Keeps `line`, dropping the oldest lines past the bounds.
    fn remember(&mut self, ours: bool, line: ChatText) {
        self.history_bytes = self.history_bytes.saturating_add(line_bytes(&line));
        self.history.push_back((ours, line));
        while self.history.len() > MAX_HISTORY_LINES
            || (self.history_bytes > MAX_HISTORY_BYTES && self.history.len() > 1)
        {
            if let Some((_, old)) = self.history.pop_front() {
                self.history_bytes = self.history_bytes.saturating_sub(line_bytes(&old));
            }
        }
    }

    /// The latest lines, in order (at most [`MAX_HISTORY_LINES`] and
    /// [`MAX_HISTORY_BYTES`]); `true` marks our own.
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

/// What a line costs in the history.
fn line_bytes(line: &ChatText) -> usize {
    line.text.len().saturating_add(line.sender_name.len())
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

    fn line(id: u64, text: String) -> ChatMessage {
        ChatMessage::Text(ChatText {
            id,
            text,
            sent_at_ms: 0,
            sender_name: "peer".into(),
        })
    }

    /// SECURITY M7: a peer's lines cannot grow the history without limit.
    #[test]
    fn history_keeps_the_latest_lines_within_its_bounds() {
        let mut c = Chat::new("x");
        for id in 1..=3000 {
            c.handle_message(line(id, format!("line {id}")));
        }
        assert_eq!(c.history().count(), 1000, "at most 1,000 lines");
        assert_eq!(c.history().next().map(|(_, l)| l.id), Some(2001));
        let mut big = Chat::new("x");
        for id in 1..=200 {
            big.handle_message(line(id, "y".repeat(MAX_CHAT_TEXT)));
        }
        let bytes: usize = big.history().map(|(_, l)| l.text.len()).sum();
        assert!(bytes <= 1024 * 1024, "at most 1 MiB of text ({bytes})");
        assert_eq!(big.history().last().map(|(_, l)| l.id), Some(200));
        big.mark_read();
        assert_eq!(
            big.poll_transmit(),
            Some(ChatMessage::Read { up_to_id: 200 })
        );
    }
}
