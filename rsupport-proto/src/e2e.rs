//! End-to-end key-exchange messages: the payload of envelopes with
//! [`PayloadProtection::Handshake`](crate::envelope::PayloadProtection::Handshake).
//!
//! Every field is public: PAKE and Diffie-Hellman shares, MACs and a
//! signature. The exchange itself lives in `rsupport-core` (`e2e`); this
//! module only bounds and decodes the bytes.

use bytes::Bytes;

use crate::error::DecodeError;
use crate::limits::MAX_NOTE;
use crate::pb::{self, handshake::Body};
use crate::wire::{self, check_bytes, check_str, required, Wire};

/// The longest share, MAC or signature accepted: bytes.
pub const MAX_HANDSHAKE_FIELD: usize = 128;
/// The longest suite label: bytes.
pub const MAX_SUITE: usize = 64;

/// One key-exchange message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handshake {
    /// Customer → operator: CPace initiator share over the code's secret digits.
    PakeStart {
        /// Exchange label and version.
        suite: String,
        /// The share.
        share: Bytes,
    },
    /// Operator → customer: CPace responder share and key confirmation.
    PakeReply {
        /// The share.
        share: Bytes,
        /// The operator's key confirmation.
        confirm: Bytes,
    },
    /// Customer → operator (chat-first contact): ephemeral X25519 share.
    ContactStart {
        /// Exchange label and version.
        suite: String,
        /// The share.
        share: Bytes,
    },
    /// Operator → customer (chat-first contact): X25519 share, help-desk
    /// signature (may be empty) and key confirmation.
    ContactReply {
        /// The share.
        share: Bytes,
        /// Ed25519 signature by the help desk's contact key; empty without one.
        signature: Bytes,
        /// The operator's key confirmation.
        confirm: Bytes,
    },
    /// Customer → operator: the customer's key confirmation.
    Confirm {
        /// The MAC.
        confirm: Bytes,
    },
    /// Either way: this side's exchange failed; the session ends.
    Failed {
        /// Plain words, never secret.
        reason: String,
    },
}

impl Handshake {
    /// Encodes the message (an envelope payload).
    pub fn encode(&self) -> Bytes {
        wire::encode(self)
    }

    /// Decodes an envelope payload.
    pub fn decode(payload: Bytes) -> Result<Self, DecodeError> {
        wire::decode(payload)
    }
}

fn field(name: &'static str, b: Bytes) -> Result<Bytes, DecodeError> {
    check_bytes(name, &b, MAX_HANDSHAKE_FIELD)?;
    Ok(b)
}

impl Wire for Handshake {
    type Pb = pb::Handshake;

    fn to_pb(&self) -> pb::Handshake {
        let body = match self {
            Handshake::PakeStart { suite, share } => Body::PakeStart(pb::PakeStart {
                suite: suite.clone(),
                share: share.clone(),
            }),
            Handshake::PakeReply { share, confirm } => Body::PakeReply(pb::PakeReply {
                share: share.clone(),
                confirm: confirm.clone(),
            }),
            Handshake::ContactStart { suite, share } => Body::ContactStart(pb::ContactStart {
                suite: suite.clone(),
                share: share.clone(),
            }),
            Handshake::ContactReply {
                share,
                signature,
                confirm,
            } => Body::ContactReply(pb::ContactReply {
                share: share.clone(),
                signature: signature.clone(),
                confirm: confirm.clone(),
            }),
            Handshake::Confirm { confirm } => Body::Confirm(pb::Confirm {
                confirm: confirm.clone(),
            }),
            Handshake::Failed { reason } => Body::Failed(pb::Failed {
                reason: reason.clone(),
            }),
        };
        pb::Handshake { body: Some(body) }
    }

    fn from_pb(pb: pb::Handshake) -> Result<Self, DecodeError> {
        Ok(match required("handshake.body", pb.body)? {
            Body::PakeStart(m) => {
                check_str("pake_start.suite", &m.suite, MAX_SUITE)?;
                Handshake::PakeStart {
                    suite: m.suite,
                    share: field("pake_start.share", m.share)?,
                }
            }
            Body::PakeReply(m) => Handshake::PakeReply {
                share: field("pake_reply.share", m.share)?,
                confirm: field("pake_reply.confirm", m.confirm)?,
            },
            Body::ContactStart(m) => {
                check_str("contact_start.suite", &m.suite, MAX_SUITE)?;
                Handshake::ContactStart {
                    suite: m.suite,
                    share: field("contact_start.share", m.share)?,
                }
            }
            Body::ContactReply(m) => Handshake::ContactReply {
                share: field("contact_reply.share", m.share)?,
                signature: field("contact_reply.signature", m.signature)?,
                confirm: field("contact_reply.confirm", m.confirm)?,
            },
            Body::Confirm(m) => Handshake::Confirm {
                confirm: field("confirm.confirm", m.confirm)?,
            },
            Body::Failed(m) => {
                check_str("failed.reason", &m.reason, MAX_NOTE)?;
                Handshake::Failed { reason: m.reason }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips() {
        let b = Bytes::from_static(&[7; 32]);
        for m in [
            Handshake::PakeStart {
                suite: "s".into(),
                share: b.clone(),
            },
            Handshake::PakeReply {
                share: b.clone(),
                confirm: b.clone(),
            },
            Handshake::ContactStart {
                suite: "s".into(),
                share: b.clone(),
            },
            Handshake::ContactReply {
                share: b.clone(),
                signature: Bytes::new(),
                confirm: b.clone(),
            },
            Handshake::Confirm { confirm: b.clone() },
            Handshake::Failed {
                reason: "wrong code".into(),
            },
        ] {
            assert_eq!(Handshake::decode(m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn oversized_fields_are_refused() {
        let m = Handshake::Confirm {
            confirm: Bytes::from(vec![0; MAX_HANDSHAKE_FIELD + 1]),
        };
        assert!(Handshake::decode(m.encode()).is_err());
    }
}
