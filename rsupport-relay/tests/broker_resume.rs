//! Resuming sessions on a virtual clock: suspension on disconnect, resume
//! with the rotating token, refusals (audited and rate limited), grace
//! expiry, leaving while the peer is away, and restoring after a restart
//! from a real SQLite file.

#![allow(clippy::unwrap_used)]

use rsupport_testkit::broker as common;

use bytes::Bytes;
use rsupport_proto::relay::{Paired, PairingOrigin, RelayMessage, RequestError, Secret};
use rsupport_proto::{EndReason, Role};
use rsupport_relay::store::SqliteStore;
use rsupport_relay::Output;

use common::*;

const GRACE: u64 = 120_000;

/// Aiko and a customer in a session; returns (operator conn, customer conn,
/// operator's Paired, customer's Paired).
fn session(h: &mut Harness) -> (u64, u64, Paired, Paired) {
    let aiko = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko);
    let customer = h.connect(Role::Customer);
    let out = h.join(customer, &code);
    let op = paired(&out, aiko).unwrap();
    let cu = paired(&out, customer).unwrap();
    (aiko, customer, op, cu)
}

fn resume(h: &mut Harness, conn: u64, session_id: u64, token: &Secret<Bytes>) -> Vec<Output> {
    h.broker.handle_message(
        conn,
        RelayMessage::Resume {
            session_id,
            resume_token: token.clone(),
        },
        h.now,
    );
    h.drain()
}

fn sent(outputs: &[Output], to: u64) -> Vec<&RelayMessage> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send { conn, message } if *conn == to => Some(message),
            _ => None,
        })
        .collect()
}

fn not_found(outputs: &[Output], to: u64) -> bool {
    sent(outputs, to).iter().any(
        |m| matches!(m, RelayMessage::RequestResult(r) if r.error == Some(RequestError::NotFound)),
    )
}

fn ended(outputs: &[Output], to: u64) -> Option<EndReason> {
    sent(outputs, to).iter().find_map(|m| match m {
        RelayMessage::SessionEnded { reason, .. } => Some(*reason),
        _ => None,
    })
}

#[test]
fn a_dropped_customer_is_suspended_and_resumes_with_a_rotated_token() {
    let mut h = Harness::with_accounts();
    let (aiko, customer, _, cu) = session(&mut h);
    let id = cu.session_id;

    h.now += 1_000;
    h.broker.handle_disconnect(customer, h.now);
    let out = h.drain();
    assert!(sent(&out, aiko).iter().any(|m| matches!(
        m,
        RelayMessage::PeerSuspended { session_id, grace_ms: GRACE } if *session_id == id
    )));
    assert!(out.iter().any(
        |o| matches!(o, Output::Unroute { conn, session_id } if *conn == aiko && *session_id == id)
    ));
    assert!(ended(&out, aiko).is_none(), "suspended, not ended");
    assert_eq!(h.broker.session_count(), 1);
    assert_eq!(h.broker.poll_timeout(), Some(h.now + GRACE));

    // Back on a new connection, within the grace period.
    h.now += 30_000;
    let back = h.connect(Role::Customer);
    let out = resume(&mut h, back, id, &cu.resume_token);
    let again = paired(&out, back).expect("resumed");
    assert_eq!(again.session_id, id);
    assert_eq!(again.origin, PairingOrigin::Resumed);
    assert_eq!(again.peer_name, "Aiko");
    assert_ne!(again.resume_token, cu.resume_token, "token rotated");
    assert!(sent(&out, aiko)
        .iter()
        .any(|m| matches!(m, RelayMessage::PeerResumed { session_id } if *session_id == id)));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Route { conn, peer, .. } if *conn == aiko && *peer == back)));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Route { conn, peer, .. } if *conn == back && *peer == aiko)));

    // The old token is spent: a second connection presenting it is refused.
    h.broker.handle_disconnect(back, h.now);
    h.drain();
    let thief = h.connect(Role::Customer);
    assert!(not_found(
        &resume(&mut h, thief, id, &cu.resume_token),
        thief
    ));
    // The new one works.
    let third = h.connect(Role::Customer);
    assert!(paired(&resume(&mut h, third, id, &again.resume_token), third).is_some());

    let kinds = h.audit_kinds();
    assert_eq!(
        kinds.iter().filter(|k| *k == "session_suspended").count(),
        2
    );
    assert_eq!(kinds.iter().filter(|k| *k == "session_resumed").count(), 2);
    assert!(kinds.contains(&"resume_failed".to_string()));
}

#[test]
fn bad_tokens_are_refused_audited_and_rate_limited() {
    let mut h = Harness::with_accounts();
    let (_aiko, customer, op, cu) = session(&mut h);
    let id = cu.session_id;
    h.broker.handle_disconnect(customer, h.now);
    h.drain();

    // The operator's token does not open the customer's side, nor a wrong one,
    // nor the right token for another session id.
    let c = h.connect_from(Role::Customer, "198.51.100.7");
    assert!(not_found(&resume(&mut h, c, id, &op.resume_token), c));
    let wrong = Secret::new(Bytes::from_static(&[7u8; 32]));
    assert!(not_found(&resume(&mut h, c, id, &wrong), c));
    assert!(not_found(&resume(&mut h, c, id ^ 1, &cu.resume_token), c));
    // One row at once; the rest of the minute is summed up in one more row.
    let failed = |h: &Harness| {
        h.broker
            .store()
            .query_audit(&Default::default(), 1000)
            .unwrap()
            .into_iter()
            .filter(|r| r.kind == "resume_failed")
            .map(|r| r.detail)
            .collect::<Vec<_>>()
    };
    assert_eq!(failed(&h), ["party=Customer"]);

    // Guessing spends the source's allowance (10 per window by default);
    // then even the right token is not looked at from there.
    for _ in 0..7 {
        resume(&mut h, c, id, &wrong);
    }
    let out = resume(&mut h, c, id, &cu.resume_token);
    assert!(paired(&out, c).is_none());
    assert!(sent(&out, c).iter().any(|m| matches!(
        m,
        RelayMessage::RequestResult(r) if r.error == Some(RequestError::LimitReached)
    )));
    assert!(h.audit_kinds().contains(&"resume_rate_limited".to_string()));

    // Another source with the right token still gets in.
    let ok = h.connect_from(Role::Customer, "203.0.113.9");
    assert!(paired(&resume(&mut h, ok, id, &cu.resume_token), ok).is_some());

    h.now += MIN;
    h.broker.handle_timeout(h.now);
    let rows = failed(&h);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[1].starts_with("9 more refused"), "{rows:?}");
}

#[test]
fn a_flood_of_wrong_resumes_neither_blocks_the_party_nor_floods_the_audit() {
    let mut h = Harness::with_accounts();
    let (_aiko, customer, _, cu) = session(&mut h);
    let id = cu.session_id;
    h.broker.handle_disconnect(customer, h.now);
    h.drain();
    let rows_before = h.audit_kinds().len();

    // 1,000 sources (IPv4 and IPv6 /64s) send 30 wrong tokens each for
    // this session, and 30 for sessions that do not exist.
    let wrong = Secret::new(Bytes::from_static(&[7u8; 32]));
    let sources = 1_000;
    for i in 0..sources {
        let addr = if i % 2 == 0 {
            format!("10.1.{}.{}", i / 256, i % 256)
        } else {
            format!("2001:db8:77:{i:x}::5")
        };
        let c = h.connect_from(Role::Customer, &addr);
        for k in 0..30u64 {
            assert!(paired(&resume(&mut h, c, id, &wrong), c).is_none());
            assert!(paired(&resume(&mut h, c, id ^ (k + 1), &wrong), c).is_none());
        }
        h.broker.handle_disconnect(c, h.now);
    }
    h.drain();
    // Refusals are summarised, not written one row each (60,000 attempts).
    h.now += MIN;
    h.broker.handle_timeout(h.now);
    h.drain();
    let rows = h.audit_kinds().len() - rows_before;
    assert!(
        rows <= 4 * sources,
        "{rows} audit rows for {sources} sources"
    );

    // The customer comes back with its token, from a new address.
    let back = h.connect_from(Role::Customer, "198.51.100.99");
    assert!(paired(&resume(&mut h, back, id, &cu.resume_token), back).is_some());
    assert_eq!(h.broker.session_count(), 1);
}

#[test]
fn grace_expiry_ends_the_session_with_peer_lost() {
    let mut h = Harness::with_accounts();
    let (aiko, customer, _, cu) = session(&mut h);
    h.broker.handle_disconnect(customer, h.now);
    h.drain();

    h.now += GRACE - 1;
    h.broker.handle_timeout(h.now);
    assert!(ended(&h.drain(), aiko).is_none());
    h.now += 1;
    h.broker.handle_timeout(h.now);
    assert_eq!(ended(&h.drain(), aiko), Some(EndReason::PeerLost));
    assert_eq!(h.broker.session_count(), 0);
    let rows = h
        .broker
        .store()
        .query_audit(&Default::default(), 1000)
        .unwrap();
    let end = rows.iter().find(|r| r.kind == "session_ended").unwrap();
    assert_eq!(end.end_reason, Some(EndReason::PeerLost));
    assert_eq!(end.session_id, cu.session_id);

    // Too late to come back.
    let late = h.connect(Role::Customer);
    assert!(not_found(
        &resume(&mut h, late, cu.session_id, &cu.resume_token),
        late
    ));
    assert!(h.broker.store().load_sessions().unwrap().is_empty());
}

#[test]
fn leaving_while_the_peer_is_away_ends_at_once() {
    let mut h = Harness::with_accounts();
    let (aiko, customer, _, cu) = session(&mut h);
    h.broker.handle_disconnect(customer, h.now);
    h.drain();
    h.broker.handle_message(
        aiko,
        RelayMessage::LeaveSession {
            session_id: cu.session_id,
            reason: EndReason::OperatorEnded,
        },
        h.now,
    );
    assert_eq!(ended(&h.drain(), aiko), Some(EndReason::OperatorEnded));
    assert_eq!(h.broker.session_count(), 0);
    assert_eq!(h.broker.poll_timeout(), None);
}

#[test]
fn an_operator_resumes_before_logging_in_and_may_leave() {
    let mut h = Harness::with_accounts();
    let (aiko, customer, op, _) = session(&mut h);
    let id = op.session_id;
    h.broker.handle_disconnect(aiko, h.now);
    assert!(sent(&h.drain(), customer)
        .iter()
        .any(|m| matches!(m, RelayMessage::PeerSuspended { .. })));

    let anon = h.connect(Role::Operator);
    let out = resume(&mut h, anon, id, &op.resume_token);
    let again = paired(&out, anon).expect("token is enough");
    assert_eq!(again.peer_role, Role::Customer);
    assert_eq!(again.peer_name, "Bob");
    // Not logged in: no codes.
    h.broker
        .handle_message(anon, RelayMessage::IssueCode { ttl_secs: 0 }, h.now);
    assert!(!matches!(
        h.sent_to(anon).as_slice(),
        [RelayMessage::CodeIssued(_)]
    ));
    // But it can end its own session.
    h.broker.handle_message(
        anon,
        RelayMessage::LeaveSession {
            session_id: id,
            reason: EndReason::OperatorEnded,
        },
        h.now,
    );
    assert_eq!(ended(&h.drain(), customer), Some(EndReason::OperatorEnded));
}

#[test]
fn a_restarted_relay_restores_sessions_from_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let (op, cu) = {
        let mut h = Harness::with_accounts_in(SqliteStore::open(&path).unwrap());
        let (_, _, op, cu) = session(&mut h);
        // A crash: the broker is dropped without ending anything.
        (op, cu)
    };
    let id = op.session_id;

    let mut h = Harness::new(Box::new(SqliteStore::open(&path).unwrap()), config());
    h.now += 10 * MIN;
    assert_eq!(h.broker.restore_sessions(h.now), 1);
    assert_eq!(h.broker.poll_timeout(), Some(h.now + GRACE));

    let c = h.connect(Role::Customer);
    let out = resume(&mut h, c, id, &cu.resume_token);
    assert!(paired(&out, c).is_some());
    // The operator is not back yet: the customer hears so at once.
    assert!(sent(&out, c).iter().any(|m| matches!(
        m,
        RelayMessage::PeerSuspended {
            grace_ms: GRACE,
            ..
        }
    )));
    let o = h.connect(Role::Operator);
    let out = resume(&mut h, o, id, &op.resume_token);
    let back = paired(&out, o).unwrap();
    assert_eq!(back.peer_name, "Bob");
    assert!(sent(&out, c)
        .iter()
        .any(|m| matches!(m, RelayMessage::PeerResumed { .. })));
    assert!(out
        .iter()
        .any(|o2| matches!(o2, Output::Route { conn, peer, .. } if *conn == o && *peer == c)));
    // The rotated token is what the store keeps now.
    drop(h);
    let mut h = Harness::new(Box::new(SqliteStore::open(&path).unwrap()), config());
    assert_eq!(h.broker.restore_sessions(h.now), 1);
    let o = h.connect(Role::Operator);
    assert!(not_found(&resume(&mut h, o, id, &op.resume_token), o));
    let o = h.connect(Role::Operator);
    assert!(paired(&resume(&mut h, o, id, &back.resume_token), o).is_some());

    // Nobody else comes: grace over, the session ends and leaves the store.
    h.now += GRACE;
    h.broker.handle_timeout(h.now);
    assert_eq!(ended(&h.drain(), o), Some(EndReason::PeerLost));
    assert!(h.broker.store().load_sessions().unwrap().is_empty());
}
