//! The broker's sessions on a virtual clock: codes and their TTL, code
//! guessing against the rate limits, chat-first contact, pairing, licence
//! limits, handshake timeout.

#![allow(clippy::unwrap_used)]

use rsupport_testkit::broker as common;

use rsupport_proto::relay::admin::{AdminCommand, RelaySettings};
use rsupport_proto::relay::CustomerInfo;
use rsupport_proto::relay::{JoinRefusal, RelayMessage};
use rsupport_proto::{CloseReason, EndReason, Role};
use rsupport_relay::{ConnInfo, Output};

use common::*;

#[test]
fn code_pairs_customer_with_the_issuing_operator_once() {
    let mut h = Harness::with_accounts();
    let admin = h.admin_conn();
    h.create_operator(admin, "ken", "Ken");
    let ken = h.login("ken", OP_PW);
    let aiko = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko);
    assert_eq!(code.len(), 7);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    let _ = h.issue_code(ken); // another operator online with a code of his own

    let customer = h.connect(Role::Customer);
    let out = h.join(customer, &code);
    let to_customer = paired(&out, customer).expect("customer paired");
    let to_aiko = paired(&out, aiko).expect("issuing operator paired");
    assert!(paired(&out, ken).is_none());
    assert_eq!(to_customer.session_id, to_aiko.session_id);
    assert_eq!(to_customer.peer_name, "Aiko");
    assert!(out.iter().any(
        |o| matches!(o, Output::Route { conn, peer, .. } if *conn == customer && *peer == aiko)
    ));

    // Single use.
    let again = h.connect(Role::Customer);
    assert_eq!(
        refused(&h.join(again, &code), again),
        Some(JoinRefusal::InvalidCode)
    );

    // Either side ends it; both are told, routes go, history records it.
    h.broker.handle_message(
        customer,
        RelayMessage::LeaveSession {
            session_id: to_customer.session_id,
            reason: EndReason::CustomerEnded,
        },
        h.now + 5_000,
    );
    let out = h.drain();
    assert!(out.iter().any(|o| matches!(o, Output::Send { conn, message: RelayMessage::SessionEnded { reason: EndReason::CustomerEnded, duration_ms: 5_000, .. } } if *conn == aiko)));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Unroute { conn, .. } if *conn == aiko)));
    let ended = h.audit_rows_of("session_ended");
    let row = ended.first().expect("session audited");
    assert_eq!(row.operator_username, "aiko");
    assert_eq!(row.customer, "Bob");
    assert_eq!(row.ended_ms - row.started_ms, 5_000);
    assert_eq!(row.end_reason, Some(EndReason::CustomerEnded));
}

#[test]
fn codes_expire_at_their_ttl() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko);
    h.now += 10 * MIN - 1;
    assert_eq!(
        h.broker.poll_timeout(),
        Some(h.now + 1),
        "the expiry is a deadline"
    );
    h.broker.handle_timeout(h.now);
    let late = h.connect(Role::Customer);
    h.now += 1;
    h.broker.handle_timeout(h.now);
    assert_eq!(
        refused(&h.join(late, &code), late),
        Some(JoinRefusal::InvalidCode)
    );
    assert!(h.audit_kinds().contains(&"code_expired".to_string()));

    // One millisecond before the TTL it still works.
    let code = h.issue_code(aiko);
    h.now += 10 * MIN - 1;
    let c = h.connect(Role::Customer);
    assert!(paired(&h.join(c, &code), c).is_some());
}

/// A code of the same length as `code` that is certainly not `code`.
fn wrong_code(code: &str, n: u64) -> String {
    let len = code.len();
    let modulus = 10u64.pow(len as u32);
    let real: u64 = code.parse().unwrap();
    let guess = (real + 1 + n % (modulus - 1)) % modulus;
    format!("{guess:0len$}")
}

/// The `i`-th attacking source: even ones in 10.0.0.0/8, odd ones each in
/// their own IPv6 /64.
fn attacker(i: usize) -> String {
    if i % 2 == 0 {
        format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
    } else {
        format!("2001:db8:{:x}:{:x}::1", i >> 16, i & 0xffff)
    }
}

#[test]
fn a_code_guessing_flood_never_stops_a_right_code_or_a_resume() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    // A running session whose customer's connection has just dropped.
    let code = h.issue_code(aiko);
    let customer = h.connect(Role::Customer);
    let cu = paired(&h.join(customer, &code), customer).unwrap();
    h.broker.handle_disconnect(customer, h.now);
    h.drain();
    let code = h.issue_code(aiko);

    // What broke the relay before: 275 wrong codes from 25 addresses ...
    let mut n = 0;
    for s in 0..25 {
        let c = h.connect_from(Role::Customer, &format!("127.0.{s}.1"));
        for _ in 0..11 {
            n += 1;
            let out = h.join(c, &wrong_code(&code, n));
            assert!(paired(&out, c).is_none());
        }
    }
    // ... and then 10,000 sources mixing IPv4 and IPv6 /64s, two each.
    for i in 0..10_000 {
        let c = h.connect_from(Role::Customer, &attacker(i));
        for _ in 0..2 {
            n += 1;
            let out = h.join(c, &wrong_code(&code, n));
            assert!(paired(&out, c).is_none());
        }
        h.broker.handle_disconnect(c, h.now);
    }
    h.drain();

    // A customer with the right code from a clean source joins at once.
    let good = h.connect_from(Role::Customer, "198.51.100.77");
    assert!(
        paired(&h.join(good, &code), good).is_some(),
        "the right code joins during the flood"
    );
    // The suspended customer resumes with its token from a new address.
    let back = h.connect_from(Role::Customer, "198.51.100.78");
    h.broker.handle_message(
        back,
        RelayMessage::Resume {
            session_id: cu.session_id,
            resume_token: cu.resume_token.clone(),
        },
        h.now,
    );
    let out = h.drain();
    assert!(paired(&out, back).is_some(), "a valid Resume works");
    assert!(!out.iter().any(|o| matches!(
        o,
        Output::Send {
            message: RelayMessage::SessionEnded { .. },
            ..
        }
    )));
    assert_eq!(h.broker.session_count(), 2, "no session ended");
}

#[test]
fn one_source_is_slowed_down_then_stopped_for_a_day() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko);
    let c = h.connect_from(Role::Customer, "203.0.113.5");
    let refusal = |out: &[Output]| {
        out.iter().find_map(|o| match o {
            Output::Send {
                message:
                    RelayMessage::JoinRefused {
                        reason,
                        retry_after_ms,
                    },
                ..
            } => Some((*reason, *retry_after_ms)),
            _ => None,
        })
    };
    let first = h.now;
    for n in 1..=5u64 {
        let out = h.join(c, &wrong_code(&code, n));
        assert_eq!(refusal(&out), Some((JoinRefusal::InvalidCode, 0)), "{n}");
        if n < 5 {
            // Slow-down: the next attempt waits 2^(n-1) s and is not evaluated
            // before (not even the right code).
            let wait = 1000 << (n - 1);
            let out = h.join(c, &code);
            assert_eq!(
                refusal(&out),
                Some((JoinRefusal::RateLimited, h.now + wait)),
                "{n}"
            );
            h.now += wait;
        }
    }
    // Five wrong codes: this source is done until the first one is a day old.
    h.now += 60 * MIN;
    let out = h.join(c, &code);
    assert_eq!(
        refusal(&out),
        Some((JoinRefusal::RateLimited, first + 24 * 60 * MIN))
    );
    // Another source with the right code is not affected.
    let code2 = h.issue_code(aiko);
    let d = h.connect_from(Role::Customer, "203.0.113.6");
    assert!(paired(&h.join(d, &code2), d).is_some());
    // A day after its first failure the source may try again.
    h.now = first + 24 * 60 * MIN;
    let code3 = h.issue_code(aiko);
    let e = h.connect_from(Role::Customer, "203.0.113.5");
    assert!(paired(&h.join(e, &code3), e).is_some());
}

#[test]
fn a_code_goes_to_the_console_that_issued_it() {
    let mut h = Harness::with_accounts();
    let first = h.login("aiko", OP_PW);
    let code = h.issue_code(first);
    let second = h.login("aiko", OP_PW); // a second login of the same user
    let c = h.connect(Role::Customer);
    let out = h.join(c, &code);
    assert!(paired(&out, first).is_some(), "the issuing console gets it");
    assert!(paired(&out, second).is_none());

    // When the issuing console goes away its codes go with it, even though
    // the same user is still logged in elsewhere.
    let code = h.issue_code(first);
    h.broker.handle_disconnect(first, h.now);
    h.drain();
    let c = h.connect(Role::Customer);
    let out = h.join(c, &code);
    assert!(paired(&out, second).is_none());
    assert_eq!(refused(&out, c), Some(JoinRefusal::InvalidCode));
    assert!(h.audit_kinds().contains(&"code_cancelled".to_string()));
}

#[test]
fn live_codes_are_capped_per_operator_and_relay_wide() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    for _ in 0..5 {
        h.issue_code(aiko);
    }
    h.broker
        .handle_message(aiko, RelayMessage::IssueCode { ttl_secs: 0 }, h.now);
    match h.sent_to(aiko).as_slice() {
        [RelayMessage::RequestResult(r)] => {
            assert_eq!(
                r.error,
                Some(rsupport_proto::relay::RequestError::LimitReached)
            );
            assert!(r.detail.contains("cancel"), "{}", r.detail);
        }
        other => panic!("{other:?}"),
    }
    // Relay-wide: 50 live codes at most, whoever holds them.
    let admin = h.admin_conn();
    for i in 0..9 {
        let name = format!("op{i}");
        h.create_operator(admin, &name, &name);
        let op = h.login(&name, OP_PW);
        for _ in 0..5 {
            h.issue_code(op);
        }
    }
    h.create_operator(admin, "late", "Late");
    let late = h.login("late", OP_PW);
    h.broker
        .handle_message(late, RelayMessage::IssueCode { ttl_secs: 0 }, h.now);
    assert!(matches!(
        h.sent_to(late).as_slice(),
        [RelayMessage::RequestResult(r)] if r.error == Some(rsupport_proto::relay::RequestError::LimitReached)
    ));
}

#[test]
fn chat_first_contact_reaches_the_addressed_operator() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let operator_id = h.operator_id("aiko");
    let customer = h.connect(Role::Customer);
    h.broker.handle_message(
        customer,
        RelayMessage::ContactOperator(rsupport_proto::relay::ContactOperator {
            operator_id: operator_id.clone(),
            customer: CustomerInfo {
                name: "Bob".into(),
                ..Default::default()
            },
            first_message: "help".into(),
        }),
        h.now,
    );
    let contact_id = match h.sent_to(aiko).as_slice() {
        [RelayMessage::ContactRequest(r)] => r.contact_id,
        other => panic!("{other:?}"),
    };
    h.broker.handle_message(
        aiko,
        RelayMessage::ContactAnswer {
            contact_id,
            accept: true,
        },
        h.now,
    );
    let out = h.drain();
    assert_eq!(
        paired(&out, customer).unwrap().origin,
        rsupport_proto::relay::PairingOrigin::Contact
    );

    // A waiting customer hears when the operator goes away.
    let waiting = h.connect(Role::Customer);
    h.broker.handle_message(
        waiting,
        RelayMessage::ContactOperator(rsupport_proto::relay::ContactOperator {
            operator_id: operator_id.clone(),
            customer: CustomerInfo::default(),
            first_message: String::new(),
        }),
        h.now,
    );
    h.drain();
    h.broker.handle_disconnect(aiko, h.now);
    assert_eq!(
        refused(&h.drain(), waiting),
        Some(JoinRefusal::OperatorOffline)
    );

    // Unknown or offline operator.
    let other = h.connect(Role::Customer);
    h.broker.handle_message(
        other,
        RelayMessage::ContactOperator(rsupport_proto::relay::ContactOperator {
            operator_id: "nobody".into(),
            customer: CustomerInfo::default(),
            first_message: String::new(),
        }),
        h.now,
    );
    assert_eq!(
        refused(&h.drain(), other),
        Some(JoinRefusal::OperatorOffline)
    );
}

#[test]
fn licence_limits_sessions_and_time() {
    let mut h = Harness::with_accounts();
    let admin = h.admin_conn();
    h.admin_ok(
        admin,
        AdminCommand::UpdateSettings(RelaySettings {
            max_concurrent_sessions: Some(1),
            max_session_ms: Some(30 * MIN),
            time_warning_ms: Some(5 * MIN),
            ..Default::default()
        }),
    );
    let aiko = h.login("aiko", OP_PW);
    let (c1, c2) = (h.connect(Role::Customer), h.connect(Role::Customer));
    let code1 = h.issue_code(aiko);
    let code2 = h.issue_code(aiko);
    let session = paired(&h.join(c1, &code1), c1).unwrap();
    assert_eq!(session.time_limit_ms, 30 * MIN);
    assert_eq!(
        refused(&h.join(c2, &code2), c2),
        Some(JoinRefusal::LicenceLimit)
    );

    assert!(h
        .broker
        .poll_timeout()
        .is_some_and(|t| t <= h.now + 25 * MIN));
    h.now += 25 * MIN;
    h.broker.handle_timeout(h.now);
    let out = h.drain();
    assert!(out.iter().any(|o| matches!(o, Output::Send { conn, message: RelayMessage::TimeLimitWarning { remaining_ms, .. } } if *conn == c1 && *remaining_ms == 5 * MIN)));
    h.now += 5 * MIN;
    h.broker.handle_timeout(h.now);
    let out = h.drain();
    assert!(out.iter().any(|o| matches!(o, Output::Send { conn, message: RelayMessage::SessionEnded { reason: EndReason::TimeLimit, .. } } if *conn == aiko)));
    assert_eq!(h.broker.session_count(), 0);
    // The licence slot is free again. (A new customer connection: c2 sat idle
    // for 30 minutes and was closed by the deadline to join.)
    let c3 = h.connect(Role::Customer);
    let code3 = h.issue_code(aiko);
    assert!(paired(&h.join(c3, &code3), c3).is_some());
}

#[test]
fn handshake_timeout_and_wrong_first_message_close() {
    let mut h = Harness::with_accounts();
    h.broker.handle_connect(
        100,
        ConnInfo {
            source: "192.0.2.9".parse().unwrap(),
            client_cert: false,
        },
        h.now,
    );
    h.broker.handle_connect(
        101,
        ConnInfo {
            source: "192.0.2.9".parse().unwrap(),
            client_cert: false,
        },
        h.now,
    );
    h.broker
        .handle_message(101, RelayMessage::IssueCode { ttl_secs: 0 }, h.now);
    h.now += 10_000;
    h.broker.handle_timeout(h.now);
    let out = h.drain();
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Close {
            conn: 100,
            reason: CloseReason::Timeout,
            ..
        }
    )));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Close {
            conn: 101,
            reason: CloseReason::UnexpectedMessage,
            ..
        }
    )));
}

/// Only plaintext sessions can be handed over (an encrypted one is refused:
/// see `broker_e2e`): a customer program of protocol 1, allowed by the admin.
#[test]
fn an_operator_hands_the_session_to_a_colleague() {
    let mut h = Harness::with_accounts();
    let admin = h.admin_conn();
    h.allow_plaintext(admin, true);
    h.create_operator(admin, "ken", "Ken");
    let ken = h.login("ken", OP_PW);
    let ken_id = h.operator_id("ken");
    let aiko = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko);
    let customer = h.connect_v1(Role::Customer);
    let sid = paired(&h.join(customer, &code), customer)
        .unwrap()
        .session_id;

    h.broker.handle_message(
        aiko,
        RelayMessage::TransferSession(rsupport_proto::relay::SessionHandover {
            session_id: sid,
            operator_id: ken_id,
            note: "printer question".into(),
        }),
        h.now,
    );
    let out = h.drain();
    let offer = out
        .iter()
        .find_map(|o| match o {
            Output::Send {
                conn,
                message: RelayMessage::SessionOffer(of),
            } if *conn == ken => Some(of.clone()),
            _ => None,
        })
        .expect("ken is offered the session");
    assert_eq!(offer.session_id, sid);
    assert!(offer.transfer);

    h.broker.handle_message(
        ken,
        RelayMessage::SessionOfferAnswer {
            offer_id: offer.offer_id,
            accept: true,
        },
        h.now,
    );
    let out = h.drain();
    assert!(out.iter().any(|o| matches!(o, Output::Send { conn, message: RelayMessage::SessionEnded { reason: EndReason::Transferred, .. } } if *conn == aiko)));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Unroute { conn, .. } if *conn == aiko)));
    assert!(out.iter().any(
        |o| matches!(o, Output::Route { conn, peer, .. } if *conn == customer && *peer == ken)
    ));
    let to_customer = paired(&out, customer).expect("customer told about the new operator");
    assert_eq!(to_customer.peer_name, "Ken");
    assert_eq!(
        to_customer.origin,
        rsupport_proto::relay::PairingOrigin::Transfer
    );
    assert!(to_customer.plaintext);
    assert!(paired(&out, ken).unwrap().plaintext);

    // Ken now owns it: aiko can no longer end it, ken can.
    h.broker.handle_message(
        aiko,
        RelayMessage::LeaveSession {
            session_id: sid,
            reason: EndReason::OperatorEnded,
        },
        h.now,
    );
    assert!(matches!(h.sent_to(aiko).as_slice(), [RelayMessage::RequestResult(r)] if !r.is_ok()));
    h.broker.handle_message(
        ken,
        RelayMessage::LeaveSession {
            session_id: sid,
            reason: EndReason::OperatorEnded,
        },
        h.now,
    );
    assert!(h.sent_to(customer).iter().any(|m| matches!(
        m,
        RelayMessage::SessionEnded {
            reason: EndReason::OperatorEnded,
            ..
        }
    )));
    let kinds = h.audit_kinds();
    assert!(kinds.contains(&"session_transferred".to_string()));
}
