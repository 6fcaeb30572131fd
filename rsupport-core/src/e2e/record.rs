//! The record layer: every session payload sealed with AES-256-GCM under a
//! per-direction key, with a sequence number per priority class.
//!
//! The relay schedules by priority, so it may pass a chat line ahead of a
//! file chunk; within one class it keeps order. Each class therefore counts
//! its own records from 1, and the receiver accepts only the next number:
//! a replayed, reordered or removed record is refused, and the session ends
//! (`EndReason::Tampered`) — TLS already protects each hop, so only someone
//! on the relay can cause it.
//!
//! Records lost when a connection drops are expected (the session repairs
//! what matters: transfers resume, the screen restarts from a key frame).
//! After every repair each side starts a new *epoch* for what it sends: a
//! fresh key, counters from 1. The receiver accepts a newer epoch only from
//! its first record in each class, and never an older one.
//!
//! A sender learns of an outage later than the relay: records it sent
//! before (dropped by the relay while the peer was away) leave a gap in the
//! old epoch, and the records that follow still reach the peer. So once a
//! side knows the path broke ([`RecordLayer::path_broken`]), each class may
//! skip forward — never back — until the peer's first record of a newer
//! epoch. Outside an outage both sides see, nothing may go missing.
//!
//! Payload layout: `ciphertext ‖ tag (16) ‖ epoch (4, big-endian)`. The
//! nonce is `class (1) ‖ epoch (3) ‖ seq (8)`; the associated data binds the
//! session id, class, sequence number and epoch, so the routing header the
//! relay reads cannot be changed either.

use bytes::{Bytes, BytesMut};
use ring::aead::{Aad, LessSafeKey, Nonce, NONCE_LEN};
use ring::hkdf::Prk;
use rsupport_proto::envelope::Priority;

use super::keys::{epoch_key, SessionKeys};
use crate::Side;

/// Bytes a sealed payload adds to the encoded message.
pub const RECORD_OVERHEAD: usize = TAG_LEN + EPOCH_LEN;
const TAG_LEN: usize = 16;
const EPOCH_LEN: usize = 4;
/// Epochs fit in three bytes of the nonce: one per reconnect.
const MAX_EPOCH: u32 = (1 << 24) - 1;

/// Why a sealed record was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Too short to hold a tag and an epoch.
    #[error("a sealed message is cut short")]
    Short,
    /// The tag does not match: changed bytes, or not sealed by the peer.
    #[error("a sealed message failed authentication (changed on the way)")]
    Forged,
    /// A sequence number seen already, or an old epoch.
    #[error("a sealed message was replayed")]
    Replayed,
    /// A sequence number skipped: a record before it went missing.
    #[error("sealed messages arrived out of order or with one removed")]
    Missing,
    /// The sender ran out of epochs or sequence numbers.
    #[error("the session's key epochs are used up")]
    Exhausted,
}

struct Sender {
    secret: Prk,
    epoch: u32,
    key: Option<LessSafeKey>,
    seq: [u64; Priority::COUNT],
}

struct Receiver {
    secret: Prk,
    /// Per class: the epoch in force, the next sequence number expected,
    /// and whether records may have been lost in an outage (see the module
    /// docs), so that a skip forward is accepted.
    classes: [(u32, u64, bool); Priority::COUNT],
    /// The last epoch's key, derived on first use.
    cached: Option<(u32, LessSafeKey)>,
}

/// Both directions of one session's sealed traffic.
pub struct RecordLayer {
    session_id: u64,
    send: Sender,
    recv: Receiver,
}

impl std::fmt::Debug for RecordLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordLayer")
            .field("session_id", &self.session_id)
            .field("send_epoch", &self.send.epoch)
            .finish_non_exhaustive()
    }
}

fn nonce(priority: Priority, epoch: u32, seq: u64) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    n[0] = priority.rank() as u8;
    n[1..4].copy_from_slice(&epoch.to_be_bytes()[1..]);
    n[4..].copy_from_slice(&seq.to_be_bytes());
    n
}

fn aad(session_id: u64, priority: Priority, epoch: u32, seq: u64) -> [u8; 21] {
    let mut a = [0u8; 21];
    a[..8].copy_from_slice(&session_id.to_be_bytes());
    a[8] = priority.rank() as u8;
    a[9..13].copy_from_slice(&epoch.to_be_bytes());
    a[13..].copy_from_slice(&seq.to_be_bytes());
    a
}

impl RecordLayer {
    /// The record layer of `side` for the keys both sides confirmed.
    pub(crate) fn new(side: Side, session_id: u64, keys: &SessionKeys) -> Self {
        let (send, recv) = match side {
            Side::Customer => (&keys.customer_to_operator, &keys.operator_to_customer),
            Side::Operator => (&keys.operator_to_customer, &keys.customer_to_operator),
        };
        RecordLayer {
            session_id,
            send: Sender {
                secret: send.clone(),
                epoch: 0,
                key: epoch_key(send, 0),
                seq: [0; Priority::COUNT],
            },
            recv: Receiver {
                secret: recv.clone(),
                classes: [(0, 1, false); Priority::COUNT],
                cached: None,
            },
        }
    }

    /// The epoch this side sends in.
    pub fn send_epoch(&self) -> u32 {
        self.send.epoch
    }

    /// Seals an encoded message of class `priority`: the sequence number
    /// for its envelope, and the payload.
    pub fn seal(
        &mut self,
        priority: Priority,
        message: Bytes,
    ) -> Result<(u64, Bytes), RecordError> {
        let slot = &mut self.send.seq[priority.rank()];
        let seq = slot.checked_add(1).ok_or(RecordError::Exhausted)?;
        let key = self.send.key.as_ref().ok_or(RecordError::Exhausted)?;
        *slot = seq;
        let epoch = self.send.epoch;
        let mut buf = Vec::from(message);
        buf.reserve_exact(RECORD_OVERHEAD);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce(priority, epoch, seq)),
            Aad::from(aad(self.session_id, priority, epoch, seq)),
            &mut buf,
        )
        .map_err(|_| RecordError::Exhausted)?;
        buf.extend_from_slice(&epoch.to_be_bytes());
        Ok((seq, Bytes::from(buf)))
    }

    /// Opens a record of class `priority` with sequence number `seq` (both
    /// from its envelope): the encoded message, or why it is refused.
    pub fn open(
        &mut self,
        priority: Priority,
        seq: u64,
        payload: &[u8],
    ) -> Result<Bytes, RecordError> {
        let body_len = payload
            .len()
            .checked_sub(RECORD_OVERHEAD)
            .ok_or(RecordError::Short)?;
        let (sealed, epoch_bytes) = payload.split_at(payload.len() - EPOCH_LEN);
        let mut e = [0u8; EPOCH_LEN];
        e.copy_from_slice(epoch_bytes);
        let epoch = u32::from_be_bytes(e);
        let (class_epoch, next, outage) = self.recv.classes[priority.rank()];
        // Order is checked before the (costlier) decryption; the state moves
        // only once the tag verified, so a forgery cannot desynchronise it.
        match epoch.cmp(&class_epoch) {
            std::cmp::Ordering::Less => return Err(RecordError::Replayed),
            std::cmp::Ordering::Equal if seq < next => return Err(RecordError::Replayed),
            std::cmp::Ordering::Equal if seq > next && !outage => return Err(RecordError::Missing),
            std::cmp::Ordering::Greater if seq != 1 && !outage => return Err(RecordError::Missing),
            _ => {}
        }
        if epoch > MAX_EPOCH {
            return Err(RecordError::Forged);
        }
        if self.recv.cached.as_ref().is_none_or(|(e, _)| *e != epoch) {
            let key = epoch_key(&self.recv.secret, epoch).ok_or(RecordError::Forged)?;
            self.recv.cached = Some((epoch, key));
        }
        let Some((_, key)) = self.recv.cached.as_ref() else {
            return Err(RecordError::Forged);
        };
        let mut buf = BytesMut::from(sealed);
        let plain_len = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce(priority, epoch, seq)),
                Aad::from(aad(self.session_id, priority, epoch, seq)),
                &mut buf,
            )
            .map_err(|_| RecordError::Forged)?
            .len();
        debug_assert_eq!(plain_len, body_len);
        buf.truncate(plain_len);
        // The peer's first record of a newer epoch ends the outage's leeway.
        let outage = outage && epoch == class_epoch;
        self.recv.classes[priority.rank()] = (epoch, seq + 1, outage);
        Ok(buf.freeze())
    }

    /// The path to the peer broke (our connection, or the relay says the
    /// peer's): records in flight may be lost, so each class may skip
    /// forward until the peer's first record of a newer epoch.
    pub fn path_broken(&mut self) {
        for class in &mut self.recv.classes {
            class.2 = true;
        }
    }

    /// The path was repaired after a drop: records sent before it may be
    /// lost, so this side sends from a new epoch (fresh key, counters from 1).
    pub fn next_send_epoch(&mut self) -> Result<(), RecordError> {
        if self.send.epoch >= MAX_EPOCH {
            self.send.key = None;
            return Err(RecordError::Exhausted);
        }
        self.send.epoch += 1;
        self.send.key = epoch_key(&self.send.secret, self.send.epoch);
        self.send.seq = [0; Priority::COUNT];
        Ok(())
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
