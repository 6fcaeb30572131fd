//! The key exchange end to end between two channels, including a party in
//! the middle that runs its own exchange with each side.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rsupport_proto::envelope::{Envelope, PayloadProtection, Priority};
use rsupport_proto::EndReason;

use super::*;
use crate::Side;

const SID: u64 = 9;

fn code(secret: &str) -> KeyExchange {
    KeyExchange::Code {
        secret: secret.into(),
    }
}

/// Moves handshake envelopes between `a` (customer) and `b` (operator)
/// until neither sends; returns what each side's `receive` said last.
fn run(a: &mut SecureChannel, b: &mut SecureChannel) -> (Option<Received>, Option<Received>) {
    let now = Instant::now();
    let (mut last_a, mut last_b) = (None, None);
    loop {
        let mut moved = false;
        while let Some(env) = a.poll_handshake() {
            last_b = Some(b.receive(env, now));
            moved = true;
        }
        while let Some(env) = b.poll_handshake() {
            last_a = Some(a.receive(env, now));
            moved = true;
        }
        if !moved {
            return (last_a, last_b);
        }
    }
}

fn broken(r: &Option<Received>) -> Option<EndReason> {
    match r {
        Some(Received::Broken(reason, _)) => Some(*reason),
        _ => None,
    }
}

fn fingerprint(c: &SecureChannel) -> String {
    match c.protection() {
        Protection::Encrypted { fingerprint, .. } => fingerprint.clone(),
        other => panic!("not encrypted: {other:?}"),
    }
}

#[test]
fn the_same_code_gives_both_sides_the_same_keys() {
    let mut customer = SecureChannel::new(Side::Customer, SID, code("13579"));
    let mut operator = SecureChannel::new(Side::Operator, SID, code("13579"));
    assert!(!customer.ready() && !operator.ready());
    run(&mut customer, &mut operator);
    assert!(customer.ready() && operator.ready());
    assert_eq!(fingerprint(&customer), fingerprint(&operator));
    // What one seals the other opens, both ways.
    let env = customer
        .wrap(Priority::Chat, Bytes::from_static(b"hello"), 1)
        .unwrap();
    assert_eq!(env.protection, PayloadProtection::Sealed);
    assert!(!env.payload.windows(5).any(|w| w == b"hello"));
    match operator.receive(env, Instant::now()) {
        Received::Messages(m) => assert_eq!(m, vec![Bytes::from_static(b"hello")]),
        other => panic!("{other:?}"),
    }
    let env = operator
        .wrap(Priority::Control, Bytes::from_static(b"mode?"), 1)
        .unwrap();
    match customer.receive(env, Instant::now()) {
        Received::Messages(m) => assert_eq!(m, vec![Bytes::from_static(b"mode?")]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_wrong_code_fails_on_both_sides_before_anything_is_sealed() {
    let mut customer = SecureChannel::new(Side::Customer, SID, code("13579"));
    let mut operator = SecureChannel::new(Side::Operator, SID, code("13578"));
    let (c, o) = run(&mut customer, &mut operator);
    assert_eq!(broken(&c), Some(EndReason::KeyExchangeFailed));
    assert_eq!(broken(&o), Some(EndReason::KeyExchangeFailed));
    assert!(!customer.ready() && !operator.ready());
    match c {
        Some(Received::Broken(_, detail)) => {
            assert!(detail.contains("code does not match"), "{detail}")
        }
        _ => unreachable!(),
    }
}

/// A relay that runs its own exchange with each side, guessing the code.
#[test]
fn a_party_in_the_middle_is_detected_by_both_sides() {
    let now = Instant::now();
    let mut customer = SecureChannel::new(Side::Customer, SID, code("13579"));
    let mut operator = SecureChannel::new(Side::Operator, SID, code("13579"));
    // The middle plays operator towards the customer and customer towards
    // the operator, with its best guess of the secret.
    let mut fake_operator = SecureChannel::new(Side::Operator, SID, code("00000"));
    let mut fake_customer = SecureChannel::new(Side::Customer, SID, code("00000"));
    let (to_customer, _) = run(&mut customer, &mut fake_operator);
    let (_, to_operator) = run(&mut fake_customer, &mut operator);
    assert_eq!(broken(&to_customer), Some(EndReason::KeyExchangeFailed));
    assert_eq!(broken(&to_operator), Some(EndReason::KeyExchangeFailed));
    assert!(!customer.ready() && !operator.ready());
    // Neither will take a sealed message now.
    let env = fake_operator
        .wrap(Priority::Control, Bytes::from_static(b"x"), 1)
        .unwrap();
    assert!(matches!(customer.receive(env, now), Received::Messages(m) if m.is_empty()));
}

#[test]
fn a_changed_share_fails_the_exchange() {
    let now = Instant::now();
    let mut customer = SecureChannel::new(Side::Customer, SID, code("13579"));
    let mut operator = SecureChannel::new(Side::Operator, SID, code("13579"));
    let mut start = customer.poll_handshake().unwrap();
    let mut bytes = start.payload.to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    start.payload = Bytes::from(bytes);
    let _ = operator.receive(start, now);
    let (c, o) = run(&mut customer, &mut operator);
    assert_eq!(broken(&c), Some(EndReason::KeyExchangeFailed));
    assert!(broken(&o).is_some() || !operator.ready());
}

#[test]
fn plain_payloads_in_an_encrypted_session_end_it() {
    let mut customer = SecureChannel::new(Side::Customer, SID, code("13579"));
    let mut operator = SecureChannel::new(Side::Operator, SID, code("13579"));
    run(&mut customer, &mut operator);
    let injected = Envelope {
        session_id: SID,
        priority: Priority::Input,
        protection: PayloadProtection::Plain,
        seq: 1,
        payload: Bytes::from_static(b"\x0a\x00"),
    };
    let r = customer.receive(injected, Instant::now());
    assert!(
        matches!(r, Received::Broken(EndReason::Tampered, _)),
        "{r:?}"
    );
}

#[test]
fn an_unanswered_exchange_times_out() {
    let now = Instant::now();
    let mut customer = SecureChannel::new(Side::Customer, SID, code("13579"));
    assert!(customer.handle_timeout(now).is_none());
    assert!(customer
        .handle_timeout(now + Duration::from_secs(29))
        .is_none());
    let r = customer.handle_timeout(now + EXCHANGE_TIMEOUT);
    assert!(
        matches!(r, Some(Received::Broken(EndReason::KeyExchangeFailed, _))),
        "{r:?}"
    );
}

fn contact(helpdesk: Option<HelpdeskKey>, pinned: Option<HelpdeskPublicKey>) -> KeyExchange {
    KeyExchange::Contact { helpdesk, pinned }
}

#[test]
fn contact_with_a_pinned_helpdesk_key_is_verified() {
    let key = HelpdeskKey::generate().unwrap();
    let mut customer =
        SecureChannel::new(Side::Customer, SID, contact(None, Some(key.public_key())));
    let mut operator = SecureChannel::new(Side::Operator, SID, contact(Some(key), None));
    run(&mut customer, &mut operator);
    assert!(customer.ready() && operator.ready());
    assert!(matches!(
        customer.protection(),
        Protection::Encrypted {
            verification: Verification::Helpdesk,
            ..
        }
    ));
    assert_eq!(fingerprint(&customer), fingerprint(&operator));
}

#[test]
fn contact_signed_by_another_key_is_refused() {
    let ours = HelpdeskKey::generate().unwrap();
    let theirs = HelpdeskKey::generate().unwrap();
    let mut customer =
        SecureChannel::new(Side::Customer, SID, contact(None, Some(ours.public_key())));
    let mut operator = SecureChannel::new(Side::Operator, SID, contact(Some(theirs), None));
    let (c, o) = run(&mut customer, &mut operator);
    assert_eq!(broken(&c), Some(EndReason::KeyExchangeFailed));
    assert_eq!(broken(&o), Some(EndReason::KeyExchangeFailed));
    // An operator without any key fails a pinning customer the same way.
    let mut customer =
        SecureChannel::new(Side::Customer, SID, contact(None, Some(ours.public_key())));
    let mut operator = SecureChannel::new(Side::Operator, SID, contact(None, None));
    let (c, _) = run(&mut customer, &mut operator);
    assert_eq!(broken(&c), Some(EndReason::KeyExchangeFailed));
}

#[test]
fn contact_without_a_pinned_key_is_encrypted_but_unverified() {
    let mut customer = SecureChannel::new(Side::Customer, SID, contact(None, None));
    let mut operator = SecureChannel::new(Side::Operator, SID, contact(None, None));
    run(&mut customer, &mut operator);
    assert!(matches!(
        customer.protection(),
        Protection::Encrypted {
            verification: Verification::Unverified,
            ..
        }
    ));
    assert!(customer.protection().to_string().contains("not verified"));
}

#[test]
fn codes_split_into_routing_and_secret_digits() {
    let c = SplitCode::parse("123 456 789-012").unwrap();
    assert_eq!(c.routing, "1234567");
    assert_eq!(c.secret.expose(), "89012");
    assert_eq!(c.full(), "123456789012");
    assert!(
        SplitCode::parse("1234567890").is_none(),
        "too short for both parts"
    );
    assert!(SplitCode::parse("12345678901a").is_none());
    let fresh = SplitCode::extend("7654321").unwrap();
    assert_eq!(fresh.routing, "7654321");
    assert_eq!(fresh.secret.expose().len(), 5);
    assert!(fresh.secret.expose().chars().all(|c| c.is_ascii_digit()));
    assert!(!format!("{fresh:?}").contains(fresh.secret.expose().as_str()));
}

#[test]
fn helpdesk_keys_round_trip_through_their_encodings() {
    let key = HelpdeskKey::generate().unwrap();
    let again = HelpdeskKey::from_pkcs8(key.to_pkcs8()).unwrap();
    assert_eq!(key.public_key(), again.public_key());
    let text = key.public_key().to_string();
    assert_eq!(text.len(), 64);
    assert_eq!(text.parse::<HelpdeskPublicKey>().unwrap(), key.public_key());
    assert!("xyz".parse::<HelpdeskPublicKey>().is_err());
    assert!(HelpdeskKey::from_pkcs8(b"not a key").is_err());
}
