//! The routing envelope: the body of every [`FrameKind::Session`] frame.
//!
//! The relay decodes only this small header — session, priority, sequence —
//! to route and schedule a message. The payload stays a slice of the frame it
//! arrived in and is forwarded without re-encoding; it may be sealed end to
//! end so the relay cannot read it.
//!
//! [`FrameKind::Session`]: crate::framing::FrameKind::Session

use bytes::Bytes;

use crate::error::DecodeError;
use crate::pb;
use crate::wire::{self, wire_enum, Wire};

wire_enum! {
    /// Scheduling class: on a busy link, lower classes go first.
    pub enum Priority => Priority {
        /// Control and consent.
        Control => Control,
        /// Pointer and keyboard.
        Input => Input,
        /// Frame updates, cursor, annotations.
        Screen => Screen,
        /// Chat.
        Chat => Chat,
        /// File and print data.
        Bulk => Bulk,
    }
}

impl Priority {
    /// Index from 0 (most urgent) to 4, for priority-queue arrays.
    pub fn rank(self) -> usize {
        match self {
            Priority::Control => 0,
            Priority::Input => 1,
            Priority::Screen => 2,
            Priority::Chat => 3,
            Priority::Bulk => 4,
        }
    }

    /// Number of distinct ranks.
    pub const COUNT: usize = 5;
}

wire_enum! {
    /// How the payload is protected.
    pub enum PayloadProtection => PayloadProtection {
        /// An encoded [`crate::session::SessionMessage`], readable by the relay.
        Plain => Plain,
        /// Sealed end to end between operator and client; opaque to the relay.
        Sealed => Sealed,
        /// A key-exchange message (`rsupport_proto::e2e::Handshake`): public
        /// values only.
        Handshake => Handshake,
    }
}

/// Routing header plus opaque session payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Session the payload belongs to (from `Paired`).
    pub session_id: u64,
    /// Scheduling class.
    pub priority: Priority,
    /// How the payload is protected.
    pub protection: PayloadProtection,
    /// Per-sender sequence number.
    pub seq: u64,
    /// The session message bytes, forwarded untouched.
    pub payload: Bytes,
}

impl Envelope {
    /// Encodes the envelope as a frame body.
    pub fn encode(&self) -> Bytes {
        wire::encode(self)
    }

    /// Decodes a frame body. The payload slices `body` (no copy).
    pub fn decode(body: Bytes) -> Result<Self, DecodeError> {
        wire::decode(body)
    }
}

impl Wire for Envelope {
    type Pb = pb::Envelope;

    fn to_pb(&self) -> pb::Envelope {
        pb::Envelope {
            session_id: self.session_id,
            priority: self.priority.to_wire(),
            protection: self.protection.to_wire(),
            seq: self.seq,
            payload: self.payload.clone(),
        }
    }

    fn from_pb(pb: pb::Envelope) -> Result<Self, DecodeError> {
        if pb.session_id == 0 {
            return Err(DecodeError::MissingField("envelope.session_id"));
        }
        Ok(Envelope {
            session_id: pb.session_id,
            priority: Priority::from_wire("envelope.priority", pb.priority)?,
            protection: PayloadProtection::from_wire("envelope.protection", pb.protection)?,
            seq: pb.seq,
            payload: pb.payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::strategies::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn envelope_round_trips(
            session_id in 1u64..,
            priority in one_of(Priority::ALL),
            protection in one_of(PayloadProtection::ALL),
            seq in any::<u64>(),
            payload in bytes(256),
        ) {
            assert_round_trip(&Envelope { session_id, priority, protection, seq, payload });
        }
    }

    #[test]
    fn payload_is_a_slice_of_the_frame_body() {
        let env = Envelope {
            session_id: 7,
            priority: Priority::Screen,
            protection: PayloadProtection::Plain,
            seq: 1,
            payload: Bytes::from(vec![42u8; 1000]),
        };
        let body = env.encode();
        let range = body.as_ptr() as usize..body.as_ptr() as usize + body.len();
        let back = Envelope::decode(body.clone()).unwrap();
        assert!(
            range.contains(&(back.payload.as_ptr() as usize)),
            "payload was copied"
        );
        assert_eq!(back, env);
    }

    #[test]
    fn session_zero_is_refused() {
        let mut pb = Envelope {
            session_id: 1,
            priority: Priority::Chat,
            protection: PayloadProtection::Plain,
            seq: 0,
            payload: Bytes::new(),
        }
        .to_pb();
        pb.session_id = 0;
        assert_eq!(
            Envelope::from_pb(pb),
            Err(DecodeError::MissingField("envelope.session_id"))
        );
    }

    #[test]
    fn priority_ranks_are_ordered() {
        let ranks: Vec<usize> = Priority::ALL.iter().map(|p| p.rank()).collect();
        assert_eq!(ranks, (0..Priority::COUNT).collect::<Vec<_>>());
    }
}
