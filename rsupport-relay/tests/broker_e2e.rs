//! End-to-end encryption as the broker sees it, on a virtual clock: the
//! routing code in `Paired`, refusing or allowing programs that cannot
//! encrypt (protocol 1), `plaintext` repeated on resume (also after a
//! restart), key-exchange failures counted as wrong codes, and hand-overs of
//! encrypted sessions refused.

#![allow(clippy::unwrap_used)]

use rsupport_testkit::broker as common;

use rsupport_proto::limits::CODE_SECRET_DIGITS;
use rsupport_proto::relay::{
    ContactOperator, CustomerInfo, JoinRefusal, Paired, PairingOrigin, RelayMessage, RequestError,
    SessionHandover,
};
use rsupport_proto::{CloseReason, EndReason, Role};
use rsupport_relay::store::{SqliteStore, Store};
use rsupport_relay::{ConnId, Output};

use common::*;

/// Results (`RequestResult`) sent to `conn` among `outputs`.
fn results(outputs: &[Output], conn: ConnId) -> Vec<rsupport_proto::relay::RequestResult> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send {
                conn: c,
                message: RelayMessage::RequestResult(r),
            } if *c == conn => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn ended(outputs: &[Output], conn: ConnId) -> Option<EndReason> {
    outputs.iter().find_map(|o| match o {
        Output::Send {
            conn: c,
            message: RelayMessage::SessionEnded { reason, .. },
        } if *c == conn => Some(*reason),
        _ => None,
    })
}

fn closed(outputs: &[Output], conn: ConnId) -> Option<(CloseReason, String)> {
    outputs.iter().find_map(|o| match o {
        Output::Close {
            conn: c,
            reason,
            detail,
        } if *c == conn => Some((*reason, detail.clone())),
        _ => None,
    })
}

/// Aiko (protocol 2) and a protocol-2 customer paired by a code from
/// `source`: (operator conn, customer conn, operator's Paired, customer's Paired).
/// `customer` asks the operator with `operator_id` (logged in on
/// `operator`) for help, and the operator accepts.
fn contact_accepted(
    h: &mut Harness,
    customer: ConnId,
    operator: ConnId,
    operator_id: String,
    first_message: impl Into<String>,
) {
    h.broker.handle_message(
        customer,
        RelayMessage::ContactOperator(ContactOperator {
            operator_id,
            customer: CustomerInfo::default(),
            first_message: first_message.into(),
        }),
        h.now,
    );
    // Delivered as usual, whatever the versions: refusing here would tell
    // that the operator is online.
    let contact_id = h
        .sent_to(operator)
        .into_iter()
        .find_map(|m| match m {
            RelayMessage::ContactRequest(r) => Some(r.contact_id),
            _ => None,
        })
        .unwrap();
    h.broker.handle_message(
        operator,
        RelayMessage::ContactAnswer {
            contact_id,
            accept: true,
        },
        h.now,
    );
}

fn encrypted_session(h: &mut Harness, source: &str) -> (ConnId, ConnId, Paired, Paired) {
    let aiko = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko);
    let customer = h.connect_from(Role::Customer, source);
    let out = h.join(customer, &code);
    let op = paired(&out, aiko).unwrap();
    let cu = paired(&out, customer).unwrap();
    (aiko, customer, op, cu)
}

#[test]
fn the_routing_code_reaches_only_the_operator_and_is_the_issued_one() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko);
    assert_eq!(code.len(), 7, "the relay issues the routing digits only");
    let customer = h.connect(Role::Customer);
    // However the customer's program spaced it.
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let out = h.join(customer, &spaced);
    let op = paired(&out, aiko).unwrap();
    let cu = paired(&out, customer).unwrap();
    assert_eq!(op.code, code);
    assert_eq!(op.origin, PairingOrigin::SessionCode);
    assert!(cu.code.is_empty(), "the customer is not told the code");
    assert!(!op.plaintext && !cu.plaintext, "both speak protocol 2");
    let started = h.audit_rows_of("session_started");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].detail, "end-to-end encrypted");

    // A contact has no code.
    let aiko_id = h.operator_id("aiko");
    let other = h.connect_from(Role::Customer, "192.0.2.50");
    contact_accepted(&mut h, other, aiko, aiko_id.clone(), "");
    let out = h.drain();
    let op = paired(&out, aiko).unwrap();
    assert!(op.code.is_empty());
    assert!(!op.plaintext && !paired(&out, other).unwrap().plaintext);
}

#[test]
fn a_protocol_1_operator_is_refused_by_default_and_the_code_stays_usable() {
    let mut h = Harness::with_accounts();
    let aiko = h.login_v1("aiko", OP_PW);
    let code = h.issue_code(aiko);
    let customer = h.connect(Role::Customer);
    let out = h.join(customer, &code);
    assert_eq!(refused(&out, customer), Some(JoinRefusal::NotEncrypted));
    assert!(paired(&out, aiko).is_none());
    let row = &h.audit_rows_of("plaintext_refused")[0];
    assert_eq!(row.operator_username, "aiko");
    assert!(row.detail.contains("operator's program"), "{}", row.detail);
    // Not a wrong code: nothing counted, nothing used up.
    assert!(!h.audit_kinds().contains(&"code_failed".to_string()));
    assert!(!h.audit_kinds().contains(&"code_used".to_string()));

    // The admin allows plaintext sessions; the same code now pairs, and
    // both sides are told that the session is not encrypted.
    let admin = h.admin_conn();
    h.allow_plaintext(admin, true);
    let out = h.join(customer, &code);
    let op = paired(&out, aiko).expect("the code was kept");
    let cu = paired(&out, customer).unwrap();
    assert!(op.plaintext && cu.plaintext);
    assert_eq!(op.code, code);
    let started = h.audit_rows_of("session_started");
    assert_eq!(started.len(), 1);
    assert!(
        started[0].detail.contains("not end-to-end encrypted"),
        "{}",
        started[0].detail
    );
}

#[test]
fn a_protocol_1_customer_is_closed_with_a_readable_reason_and_the_code_stays_usable() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko);
    let old = h.connect_v1(Role::Customer);
    let out = h.join(old, &code);
    // It could not decode JoinRefusal::NotEncrypted: it hears a Close it knows.
    let (reason, detail) = closed(&out, old).unwrap();
    assert_eq!(reason, CloseReason::VersionMismatch);
    assert!(detail.contains("update the program"), "{detail}");
    assert!(refused(&out, old).is_none());
    assert_eq!(h.audit_rows_of("plaintext_refused").len(), 1);
    assert!(!h.audit_kinds().contains(&"code_failed".to_string()));

    let customer = h.connect(Role::Customer);
    let out = h.join(customer, &code);
    assert!(paired(&out, customer).is_some(), "the code was kept");
}

#[test]
fn a_protocol_1_customer_typing_the_whole_code_joins_where_plaintext_is_allowed() {
    let mut h = Harness::with_accounts();
    let admin = h.admin_conn();
    h.allow_plaintext(admin, true);
    let aiko = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko);
    // The operator's program shows the issued digits and its secret ones;
    // an old customer program sends everything that was typed.
    let typed = format!("{code}{}", "4".repeat(CODE_SECRET_DIGITS));
    let old = h.connect_v1(Role::Customer);
    let out = h.join(old, &typed);
    let op = paired(&out, aiko).expect("the routing digits found the code");
    assert!(op.plaintext && paired(&out, old).unwrap().plaintext);
    assert_eq!(op.code, code, "the secret digits are not passed on");
}

#[test]
fn a_contact_with_a_protocol_1_operator_is_refused_once_accepted() {
    let mut h = Harness::with_accounts();
    let aiko = h.login_v1("aiko", OP_PW);
    let aiko_id = h.operator_id("aiko");
    let customer = h.connect(Role::Customer);
    // Delivered as usual: refusing here would tell that aiko is online.
    contact_accepted(&mut h, customer, aiko, aiko_id.clone(), "hello");
    let out = h.drain();
    assert_eq!(refused(&out, customer), Some(JoinRefusal::NotEncrypted));
    let to_aiko = results(&out, aiko);
    assert_eq!(to_aiko.len(), 1);
    assert_eq!(to_aiko[0].error, Some(RequestError::InvalidArgument));
    assert!(to_aiko[0].detail.contains("update the program"));
    assert_eq!(h.broker.session_count(), 0);
    assert_eq!(h.audit_rows_of("plaintext_refused").len(), 1);
}

#[test]
fn resume_repeats_plaintext_also_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let (plain, encrypted) = {
        let mut h = Harness::with_accounts_in(SqliteStore::open(&path).unwrap());
        let admin = h.admin_conn();
        h.allow_plaintext(admin, true);
        let aiko = h.login("aiko", OP_PW);
        let code = h.issue_code(aiko);
        let old = h.connect_v1(Role::Customer);
        let plain = paired(&h.join(old, &code), old).unwrap();
        assert!(plain.plaintext);
        let (_, customer, _, encrypted) = encrypted_session(&mut h, "192.0.2.9");
        assert!(!encrypted.plaintext);

        // A dropped connection resumes with the same protection.
        for (conn, p) in [(old, &plain), (customer, &encrypted)] {
            h.broker.handle_disconnect(conn, h.now);
            h.drain();
            let again = h.connect(Role::Customer);
            h.broker.handle_message(
                again,
                RelayMessage::Resume {
                    session_id: p.session_id,
                    resume_token: p.resume_token.clone(),
                },
                h.now,
            );
            let back = paired(&h.drain(), again).unwrap();
            assert_eq!(back.origin, PairingOrigin::Resumed);
            assert_eq!(back.plaintext, p.plaintext);
            assert!(back.code.is_empty());
        }
        // A crash: the broker is dropped without ending anything.
        (plain.session_id, encrypted.session_id)
    };

    let store = SqliteStore::open(&path).unwrap();
    let records = store.load_sessions().unwrap();
    let kept = |id: u64| {
        records
            .iter()
            .find(|r| r.session_id == id)
            .unwrap()
            .plaintext
    };
    assert!(kept(plain), "a plaintext session is kept as one");
    assert!(!kept(encrypted));
    let mut h = Harness::new(Box::new(store), config());
    assert_eq!(h.broker.restore_sessions(h.now), 2);
}

#[test]
fn a_restored_session_repeats_plaintext_to_the_resuming_party() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let op = {
        let mut h = Harness::with_accounts_in(SqliteStore::open(&path).unwrap());
        let admin = h.admin_conn();
        h.allow_plaintext(admin, true);
        let aiko = h.login_v1("aiko", OP_PW);
        let code = h.issue_code(aiko);
        let customer = h.connect(Role::Customer);
        let op = paired(&h.join(customer, &code), aiko).unwrap();
        assert!(op.plaintext);
        op
    };
    let mut h = Harness::new(Box::new(SqliteStore::open(&path).unwrap()), config());
    assert_eq!(h.broker.restore_sessions(h.now), 1);
    let o = h.connect_v1(Role::Operator);
    h.broker.handle_message(
        o,
        RelayMessage::Resume {
            session_id: op.session_id,
            resume_token: op.resume_token.clone(),
        },
        h.now,
    );
    let back = paired(&h.drain(), o).unwrap();
    assert!(back.plaintext);
}

#[test]
fn a_failed_key_exchange_counts_a_wrong_code_for_the_customers_source() {
    let mut h = Harness::with_accounts();
    let (aiko, customer, op, _) = encrypted_session(&mut h, "198.51.100.7");
    // Wrong secret digits: the operator's program reports it and leaves.
    let out = h.leave(aiko, op.session_id, EndReason::KeyExchangeFailed);
    assert_eq!(ended(&out, customer), Some(EndReason::KeyExchangeFailed));
    assert_eq!(ended(&out, aiko), Some(EndReason::KeyExchangeFailed));
    let row = &h.audit_rows_of("key_exchange_failed")[0];
    assert_eq!(row.session_id, op.session_id);
    assert_eq!(
        row.source, "198.51.100.7",
        "charged to the customer's source"
    );
    assert!(
        row.detail.contains("reported by the operator"),
        "{}",
        row.detail
    );
    let ended_row = &h.audit_rows_of("session_ended")[0];
    assert_eq!(ended_row.end_reason, Some(EndReason::KeyExchangeFailed));

    // Like a wrong code: the source's next try waits out the slow-down.
    let aiko2 = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko2);
    let again = h.connect_from(Role::Customer, "198.51.100.7");
    assert_eq!(
        refused(&h.join(again, &code), again),
        Some(JoinRefusal::RateLimited)
    );
    // Other sources are not affected.
    let clean = h.connect_from(Role::Customer, "198.51.100.8");
    assert!(paired(&h.join(clean, &code), clean).is_some());

    // The customer's program may report it too; after the five a source
    // may have, it is refused for the window.
    for i in 0..4u64 {
        h.now += 60_000;
        let (_, customer, _, cu) = encrypted_session(&mut h, "203.0.113.1");
        let out = h.leave(customer, cu.session_id, EndReason::KeyExchangeFailed);
        assert_eq!(
            ended(&out, customer),
            Some(EndReason::KeyExchangeFailed),
            "{i}"
        );
    }
    assert!(h
        .audit_rows_of("key_exchange_failed")
        .iter()
        .skip(1)
        .all(|r| r.detail.contains("reported by the customer")));
    h.now += 60_000;
    let (_, customer, _, cu) = encrypted_session(&mut h, "203.0.113.1");
    h.leave(customer, cu.session_id, EndReason::KeyExchangeFailed);
    let last = h.audit_rows_of("key_exchange_failed").pop().unwrap();
    assert!(
        last.detail.contains("allowance is now spent"),
        "{}",
        last.detail
    );
    h.now += 10 * MIN;
    let aiko3 = h.login("aiko", OP_PW);
    let code = h.issue_code(aiko3);
    let spent = h.connect_from(Role::Customer, "203.0.113.1");
    assert_eq!(
        refused(&h.join(spent, &code), spent),
        Some(JoinRefusal::RateLimited)
    );
}

#[test]
fn a_failed_key_exchange_in_a_contact_session_counts_nothing() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let aiko_id = h.operator_id("aiko");
    let customer = h.connect_from(Role::Customer, "198.51.100.7");
    contact_accepted(&mut h, customer, aiko, aiko_id.clone(), "");
    let sid = paired(&h.drain(), aiko).unwrap().session_id;
    let out = h.leave(customer, sid, EndReason::KeyExchangeFailed);
    assert_eq!(ended(&out, aiko), Some(EndReason::KeyExchangeFailed));
    assert!(h.audit_rows_of("key_exchange_failed")[0]
        .detail
        .contains("not a session from a code"));
    let code = h.issue_code(aiko);
    let again = h.connect_from(Role::Customer, "198.51.100.7");
    assert!(paired(&h.join(again, &code), again).is_some());
}

#[test]
fn encrypted_sessions_are_not_handed_over_or_shared() {
    let mut h = Harness::with_accounts();
    let admin = h.admin_conn();
    h.create_operator(admin, "ken", "Ken");
    let ken = h.login("ken", OP_PW);
    let ken_id = h.operator_id("ken");
    let (aiko, customer, op, _) = encrypted_session(&mut h, "192.0.2.1");
    let handover = SessionHandover {
        session_id: op.session_id,
        operator_id: ken_id,
        note: String::new(),
    };
    for message in [
        RelayMessage::TransferSession(handover.clone()),
        RelayMessage::InviteOperator(handover),
    ] {
        h.broker.handle_message(aiko, message, h.now);
        let out = h.drain();
        let r = results(&out, aiko);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].error, Some(RequestError::InvalidArgument));
        assert_eq!(
            r[0].detail,
            "this session is end-to-end encrypted; handing it over needs the customer's \
             confirmation, which this relay version does not support yet"
        );
        assert!(
            !out.iter()
                .any(|o| matches!(o, Output::Send { conn, .. } if *conn == ken)),
            "ken hears nothing"
        );
    }
    // The session goes on with aiko.
    let out = h.leave(customer, op.session_id, EndReason::CustomerEnded);
    assert_eq!(ended(&out, aiko), Some(EndReason::CustomerEnded));
}
