//! Live sessions between an operator and a customer.
//!
//! Each concern is a sans-IO state machine: messages and `now` in; messages,
//! events and deadlines out.

pub mod chat;
pub mod control;
mod core;
pub mod permissions;
pub mod screen;

pub use self::core::{InputNotPermitted, Session, SessionConfig, SessionError, SessionEvent};
pub use chat::{Chat, ChatError, ChatEvent};
pub use control::{ControlChannel, ControlError, ControlEvent, PeerViolation, SessionPolicy};
pub use permissions::{Control, Sharing, Side};
