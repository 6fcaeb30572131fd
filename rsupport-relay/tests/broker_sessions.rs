//! The broker's sessions on a virtual clock: codes and their TTL, code
//! guessing against the rate limits, chat-first contact, pairing, licence
//! limits, handshake timeout.

#![allow(clippy::unwrap_used)]

use rsupport_testkit::broker as common;

use rsupport_proto::relay::admin::{AdminCommand, AuditQuery, RelaySettings};
use rsupport_proto::relay::CustomerInfo;
use rsupport_proto::relay::{JoinRefusal, RelayMessage};
use rsupport_proto::{CloseReason, EndReason, Role};
use rsupport_relay::store::SqliteStore;
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
    assert_eq!(code.len(), 8);
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
    let ended = h
        .broker
        .store()
        .query_audit(&AuditQuery::default(), 1000)
        .unwrap();
    let row = ended
        .iter()
        .find(|r| r.kind == "session_ended")
        .expect("session audited");
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

#[test]
fn code_guessing_from_many_sources_stays_within_the_budget() {
    let mut cfg = config();
    cfg.code_failure_budget = 20;
    cfg.code_failures_per_source = 3;
    let store = with_admin(SqliteStore::in_memory().unwrap());
    let mut h = Harness::new(Box::new(store), cfg);
    let op = h.login("root", ADMIN_PW);
    let code = h.issue_code(op);
    let code_value: u64 = code.parse().unwrap();

    // A guesser enumerates every 8-digit code near the real one from a fresh
    // address each time. Only `budget` attempts are ever evaluated; the rest —
    // the right code included — are refused by the rate limit.
    let start = code_value.saturating_sub(500);
    let mut evaluated = 0;
    let mut succeeded = false;
    for (i, guess) in (start..start + 1000).enumerate() {
        let c = h.connect_from(
            Role::Customer,
            &format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
        );
        let out = h.join(c, &format!("{guess:08}"));
        match refused(&out, c) {
            Some(JoinRefusal::InvalidCode) => evaluated += 1,
            Some(JoinRefusal::RateLimited) => {}
            None => succeeded = true,
            other => panic!("{other:?}"),
        }
    }
    assert!(
        !succeeded,
        "the real code was reached only after the budget was spent"
    );
    assert_eq!(evaluated, 20);
    assert_eq!(
        h.audit_kinds()
            .iter()
            .filter(|k| *k == "code_failed")
            .count(),
        20
    );

    // One source alone is stopped after its own allowance.
    h.now += 10 * MIN;
    let code = h.issue_code(op);
    let c = h.connect_from(Role::Customer, "198.51.100.7");
    for _ in 0..3 {
        assert_eq!(
            refused(&h.join(c, "00000000"), c),
            Some(JoinRefusal::InvalidCode)
        );
    }
    assert_eq!(
        refused(&h.join(c, &code), c),
        Some(JoinRefusal::RateLimited)
    );
    // Another source with the right code still gets in.
    let d = h.connect_from(Role::Customer, "198.51.100.8");
    assert!(paired(&h.join(d, &code), d).is_some());
}

#[test]
fn chat_first_contact_reaches_the_addressed_operator() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let operator_id = h
        .broker
        .store()
        .find_account("aiko")
        .unwrap()
        .unwrap()
        .operator_id;
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

#[test]
fn an_operator_hands_the_session_to_a_colleague() {
    let mut h = Harness::with_accounts();
    let admin = h.admin_conn();
    h.create_operator(admin, "ken", "Ken");
    let ken = h.login("ken", OP_PW);
    let ken_id = h
        .broker
        .store()
        .find_account("ken")
        .unwrap()
        .unwrap()
        .operator_id;
    let aiko = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko);
    let customer = h.connect(Role::Customer);
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
