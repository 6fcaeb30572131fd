//! The admin's list of live sessions comes from the broker's own table, on
//! a virtual clock: who, since when, which modes, whether a party is away
//! (and until when it may resume), paging, and only for admins.

#![allow(clippy::unwrap_used)]

use rsupport_testkit::broker as common;

use rsupport_proto::relay::admin::{
    AdminCommand, AdminReply, LiveSession, LiveSessionPage, PartyLink,
};
use rsupport_proto::relay::{Paired, RelayMessage, RequestError};
use rsupport_proto::{ConnectionMode, EndReason, Role};

use common::*;

const GRACE: u64 = 120_000;

fn list(h: &mut Harness, admin: u64, after_id: u64, limit: u32) -> LiveSessionPage {
    match h.admin(admin, AdminCommand::ListSessions { after_id, limit }) {
        AdminReply::Sessions(page) => page,
        other => panic!("expected live sessions, got {other:?}"),
    }
}

/// `operator` issues a code and a new customer joins with it.
fn pair(h: &mut Harness, operator: u64) -> (u64, Paired) {
    let code = h.issue_code(operator);
    let customer = h.connect(Role::Customer);
    let out = h.join(customer, &code);
    (customer, paired(&out, customer).expect("paired"))
}

#[test]
fn live_sessions_come_from_the_broker_with_their_parties_states() {
    let mut h = Harness::with_accounts();
    let admin = h.admin_conn();
    h.admin_ok(
        admin,
        AdminCommand::SetAllowedModes {
            username: "aiko".into(),
            modes: vec![ConnectionMode::ViewCustomer],
        },
    );
    assert_eq!(list(&mut h, admin, 0, 0), LiveSessionPage::default());

    let aiko = h.login("aiko", OP_PW);
    let started = h.now;
    let (customer, cu) = pair(&mut h, aiko);
    let id = cu.session_id;
    h.now += 5 * MIN;
    let page = list(&mut h, admin, 0, 0);
    assert!(!page.truncated);
    assert_eq!(
        page.sessions,
        vec![LiveSession {
            session_id: id,
            operator_username: "aiko".into(),
            customer_name: "Bob".into(),
            customer_description: String::new(),
            started_ms: started,
            allowed_modes: vec![ConnectionMode::ViewCustomer],
            end_to_end: true,
            operator: PartyLink::Connected,
            customer: PartyLink::Connected,
            time_limit_ms: None,
        }]
    );

    // The customer's connection drops: the session waits for it.
    h.broker.handle_disconnect(customer, h.now);
    h.drain();
    let away = list(&mut h, admin, 0, 0).sessions;
    assert_eq!(away.len(), 1);
    assert_eq!(away[0].operator, PartyLink::Connected);
    assert_eq!(
        away[0].customer,
        PartyLink::Suspended {
            until_ms: h.now + GRACE
        }
    );

    // It comes back and is connected again.
    h.now += 10_000;
    let back = h.connect(Role::Customer);
    h.broker.handle_message(
        back,
        RelayMessage::Resume {
            session_id: id,
            resume_token: cu.resume_token.clone(),
        },
        h.now,
    );
    h.drain();
    let again = list(&mut h, admin, 0, 0).sessions;
    assert_eq!(again[0].customer, PartyLink::Connected);
    assert_eq!(
        again[0].started_ms, started,
        "a resume is not a new session"
    );

    // Ended by the operator: gone from the list.
    h.leave(aiko, id, EndReason::OperatorEnded);
    assert!(list(&mut h, admin, 0, 0).sessions.is_empty());
}

#[test]
fn live_sessions_page_in_id_order_and_expire_with_the_grace_period() {
    let mut h = Harness::with_accounts();
    let admin = h.admin_conn();
    h.create_operator(admin, "ken", "Ken");
    let aiko = h.login("aiko", OP_PW);
    let ken = h.login("ken", OP_PW);
    let (_, first) = pair(&mut h, aiko);
    let (ken_customer, second) = pair(&mut h, ken);
    let mut ids = [first.session_id, second.session_id];
    ids.sort_unstable();

    let one = list(&mut h, admin, 0, 1);
    assert!(one.truncated);
    assert_eq!(one.sessions.len(), 1);
    assert_eq!(one.sessions[0].session_id, ids[0]);
    let rest = list(&mut h, admin, ids[0], 1);
    assert_eq!(rest.sessions.len(), 1);
    assert_eq!(rest.sessions[0].session_id, ids[1]);
    assert!(!list(&mut h, admin, ids[0], 1).truncated);
    let all = list(&mut h, admin, 0, 0);
    let operators: Vec<&str> = all
        .sessions
        .iter()
        .map(|s| s.operator_username.as_str())
        .collect();
    assert_eq!(all.sessions.len(), 2);
    assert!(operators.contains(&"aiko") && operators.contains(&"ken"));

    // Ken's customer never comes back: after the grace period the session
    // has ended and is no longer listed.
    h.broker.handle_disconnect(ken_customer, h.now);
    h.drain();
    h.now += GRACE;
    h.broker.handle_timeout(h.now);
    h.drain();
    let left = list(&mut h, admin, 0, 0).sessions;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].session_id, first.session_id);

    // The admin ends the other one; the list is empty.
    h.admin_ok(
        admin,
        AdminCommand::EndSession {
            session_id: first.session_id,
        },
    );
    assert!(list(&mut h, admin, 0, 0).sessions.is_empty());
}

#[test]
fn operators_cannot_list_live_sessions() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let _ = pair(&mut h, aiko);
    match h.admin(
        aiko,
        AdminCommand::ListSessions {
            after_id: 0,
            limit: 0,
        },
    ) {
        AdminReply::Result(r) => assert_eq!(r.error, Some(RequestError::NotAuthorized)),
        other => panic!("an operator got {other:?}"),
    }
}
