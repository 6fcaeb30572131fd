//! Property tests of the record layer: whatever is flipped, replayed,
//! reordered or removed is refused; what arrives in order opens.

use bytes::Bytes;
use proptest::prelude::*;
use rsupport_proto::envelope::Priority;

use super::*;
use crate::e2e::keys::SessionKeys;
use crate::Side;

const SID: u64 = 5;

fn layers() -> (RecordLayer, RecordLayer) {
    let keys = SessionKeys::derive(b"shared secret", [3; 32]);
    (
        RecordLayer::new(Side::Customer, SID, &keys),
        RecordLayer::new(Side::Operator, SID, &keys),
    )
}

fn class(i: usize) -> Priority {
    Priority::ALL[i % Priority::COUNT]
}

struct Record {
    priority: Priority,
    seq: u64,
    payload: Bytes,
    plain: Bytes,
}

fn seal_all(sender: &mut RecordLayer, messages: &[(usize, Vec<u8>)]) -> Vec<Record> {
    messages
        .iter()
        .map(|(c, m)| {
            let plain = Bytes::from(m.clone());
            let (seq, payload) = sender.seal(class(*c), plain.clone()).unwrap();
            Record {
                priority: class(*c),
                seq,
                payload,
                plain,
            }
        })
        .collect()
}

fn messages() -> impl Strategy<Value = Vec<(usize, Vec<u8>)>> {
    prop::collection::vec(
        (0usize..5, prop::collection::vec(any::<u8>(), 0..64)),
        1..24,
    )
}

proptest! {
    #[test]
    fn in_order_records_open_to_what_was_sealed(msgs in messages()) {
        let (mut customer, mut operator) = layers();
        for r in seal_all(&mut customer, &msgs) {
            prop_assert_eq!(operator.open(r.priority, r.seq, &r.payload).unwrap(), r.plain);
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_is_refused(msgs in messages(), pick in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (mut customer, mut operator) = layers();
        let records = seal_all(&mut customer, &msgs);
        let victim = pick.index(records.len());
        for (i, r) in records.iter().enumerate() {
            if i == victim {
                let mut bytes = r.payload.to_vec();
                let at = (usize::from(bit) * 7919 + i) % bytes.len();
                bytes[at] ^= 1 << bit;
                prop_assert!(operator.open(r.priority, r.seq, &bytes).is_err());
                // The forgery did not move the receiver: the real one still opens.
            }
            prop_assert_eq!(operator.open(r.priority, r.seq, &r.payload).unwrap(), r.plain.clone());
        }
    }

    #[test]
    fn a_changed_header_is_refused(msgs in messages(), pick in any::<prop::sample::Index>(), other in 0usize..5) {
        let (mut customer, mut operator) = layers();
        let records = seal_all(&mut customer, &msgs);
        let victim = pick.index(records.len());
        for (i, r) in records.iter().enumerate() {
            if i == victim && class(other) != r.priority {
                prop_assert!(operator.open(class(other), r.seq, &r.payload).is_err());
            }
            prop_assert!(operator.open(r.priority, r.seq, &r.payload).is_ok());
        }
    }

    #[test]
    fn a_replayed_record_is_refused(msgs in messages(), pick in any::<prop::sample::Index>()) {
        let (mut customer, mut operator) = layers();
        let records = seal_all(&mut customer, &msgs);
        let victim = pick.index(records.len());
        for (i, r) in records.iter().enumerate() {
            operator.open(r.priority, r.seq, &r.payload).unwrap();
            if i == victim {
                prop_assert_eq!(operator.open(r.priority, r.seq, &r.payload), Err(RecordError::Replayed));
            }
        }
        // And once everything arrived, every earlier record is a replay.
        for r in &records {
            prop_assert!(operator.open(r.priority, r.seq, &r.payload).is_err());
        }
    }

    #[test]
    fn a_removed_or_reordered_record_is_refused(msgs in messages(), pick in any::<prop::sample::Index>()) {
        let (mut customer, mut operator) = layers();
        let records = seal_all(&mut customer, &msgs);
        let victim = pick.index(records.len());
        let removed = &records[victim];
        // The next record of the same class after the removed one.
        let next = records[victim + 1..].iter().find(|r| r.priority == removed.priority);
        for r in &records[..victim] {
            operator.open(r.priority, r.seq, &r.payload).unwrap();
        }
        if let Some(next) = next {
            prop_assert_eq!(operator.open(next.priority, next.seq, &next.payload), Err(RecordError::Missing));
        }
        // Records of other classes are not held up by it.
        for r in records[victim + 1..].iter().filter(|r| r.priority != removed.priority) {
            prop_assert!(operator.open(r.priority, r.seq, &r.payload).is_ok());
        }
    }

    #[test]
    fn a_cut_payload_is_refused(msgs in messages(), cut in 0usize..40) {
        let (mut customer, mut operator) = layers();
        let records = seal_all(&mut customer, &msgs);
        let r = &records[0];
        let keep = r.payload.len().saturating_sub(cut + 1);
        prop_assert!(operator.open(r.priority, r.seq, &r.payload[..keep]).is_err());
    }
}

#[test]
fn a_new_epoch_restarts_counters_and_old_epochs_are_refused() {
    let (mut customer, mut operator) = layers();
    let old: Vec<_> = (0..3)
        .map(|i| customer.seal(Priority::Chat, Bytes::from(vec![i])).unwrap())
        .collect();
    operator.open(Priority::Chat, old[0].0, &old[0].1).unwrap();
    // Records 2 and 3 are lost in a drop; the sender repairs into epoch 1.
    customer.next_send_epoch().unwrap();
    assert_eq!(customer.send_epoch(), 1);
    let (seq, fresh) = customer
        .seal(Priority::Chat, Bytes::from_static(b"after"))
        .unwrap();
    assert_eq!(seq, 1);
    assert_eq!(
        operator.open(Priority::Chat, seq, &fresh).unwrap(),
        Bytes::from_static(b"after")
    );
    // What was lost cannot be played in afterwards.
    assert_eq!(
        operator.open(Priority::Chat, old[1].0, &old[1].1),
        Err(RecordError::Replayed)
    );
    // A class that had no record in the new epoch yet accepts it from its first.
    let (seq, input) = customer
        .seal(Priority::Input, Bytes::from_static(b"k"))
        .unwrap();
    assert_eq!(seq, 1);
    assert!(operator.open(Priority::Input, seq, &input).is_ok());
}

#[test]
fn the_directions_use_different_keys() {
    let (mut customer, mut operator) = layers();
    let (seq, payload) = customer
        .seal(Priority::Chat, Bytes::from_static(b"x"))
        .unwrap();
    // Reflected back to its sender, a record does not open.
    assert_eq!(
        customer.open(Priority::Chat, seq, &payload),
        Err(RecordError::Forged)
    );
    assert!(operator.open(Priority::Chat, seq, &payload).is_ok());
}

#[test]
fn another_sessions_records_do_not_open() {
    let keys = SessionKeys::derive(b"shared secret", [3; 32]);
    let mut a = RecordLayer::new(Side::Customer, 1, &keys);
    let mut b = RecordLayer::new(Side::Operator, 2, &keys);
    let (seq, payload) = a.seal(Priority::Chat, Bytes::from_static(b"x")).unwrap();
    assert_eq!(
        b.open(Priority::Chat, seq, &payload),
        Err(RecordError::Forged)
    );
}

#[test]
fn after_an_outage_records_may_skip_forward_until_the_new_epoch() {
    let (mut customer, mut operator) = layers();
    let sent: Vec<_> = (0..5)
        .map(|i| operator.seal(Priority::Chat, Bytes::from(vec![i])).unwrap())
        .collect();
    customer
        .open(Priority::Chat, sent[0].0, &sent[0].1)
        .unwrap();
    // Records 2 and 3 die with the customer's old connection; 4 was sent
    // before the operator heard of it and arrives on the new one.
    assert_eq!(
        customer.open(Priority::Chat, sent[3].0, &sent[3].1),
        Err(RecordError::Missing),
        "no skip outside an outage"
    );
    customer.path_broken();
    assert!(customer.open(Priority::Chat, sent[3].0, &sent[3].1).is_ok());
    // Never backwards, even now.
    assert_eq!(
        customer.open(Priority::Chat, sent[1].0, &sent[1].1),
        Err(RecordError::Replayed)
    );
    assert!(customer.open(Priority::Chat, sent[4].0, &sent[4].1).is_ok());
    // The operator repairs into epoch 1; from its first record on, gaps
    // are refused again.
    operator.next_send_epoch().unwrap();
    let fresh: Vec<_> = (0..3)
        .map(|i| operator.seal(Priority::Chat, Bytes::from(vec![i])).unwrap())
        .collect();
    assert!(customer
        .open(Priority::Chat, fresh[0].0, &fresh[0].1)
        .is_ok());
    assert_eq!(
        customer.open(Priority::Chat, fresh[2].0, &fresh[2].1),
        Err(RecordError::Missing)
    );
}
