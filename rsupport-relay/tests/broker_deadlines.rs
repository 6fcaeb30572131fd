//! The deadline to log in, join, contact or resume after `Hello` (H3), on
//! the broker's virtual clock: a connection that says `Hello` and then only
//! `Ping`s no longer holds its slot forever.

#![allow(clippy::unwrap_used)]

use common::*;
use rsupport_proto::relay::CustomerInfo;
use rsupport_proto::relay::RelayMessage;
use rsupport_proto::{CloseReason, Role};
use rsupport_relay::{ConnId, Output};
use rsupport_testkit::broker as common;

const SEC: u64 = 1000;

fn closed(out: &[Output], id: ConnId) -> Option<(CloseReason, String)> {
    out.iter().find_map(|o| match o {
        Output::Close {
            conn,
            reason,
            detail,
        } if *conn == id => Some((*reason, detail.clone())),
        _ => None,
    })
}

/// Pings every 10 s until `until`, running the broker's timers when they
/// are due, as the driver does; returns every output.
fn ping_until(h: &mut Harness, conns: &[ConnId], until: u64) -> Vec<Output> {
    let mut out = Vec::new();
    let mut next_ping = h.now + 10 * SEC;
    let mut rounds = 0;
    while h.now < until {
        rounds += 1;
        assert!(rounds < 100_000, "a deadline that never clears");
        let timer = h.broker.poll_timeout().unwrap_or(u64::MAX).max(h.now);
        h.now = next_ping.min(timer).min(until);
        if h.now == next_ping {
            for &c in conns {
                h.broker
                    .handle_message(c, RelayMessage::Ping { nonce: 1 }, h.now);
            }
            next_ping += 10 * SEC;
        }
        if h.broker.poll_timeout().is_some_and(|t| t <= h.now) {
            h.broker.handle_timeout(h.now);
        }
        out.extend(h.drain());
    }
    out
}

#[test]
fn hello_then_pings_is_closed_at_the_deadline() {
    let mut h = Harness::with_accounts();
    let start = h.now;
    let anon = h.connect(Role::Operator);
    let customer = h.connect(Role::Customer);
    // The deadline is scheduled: the driver wakes up for it.
    assert!(h
        .broker
        .poll_timeout()
        .is_some_and(|t| t <= start + 30 * SEC));
    let out = ping_until(&mut h, &[anon, customer], start + 29 * SEC);
    assert!(closed(&out, anon).is_none() && closed(&out, customer).is_none());
    let out = ping_until(&mut h, &[anon, customer], start + 31 * SEC);
    for c in [anon, customer] {
        let (reason, detail) = closed(&out, c).expect("closed at the deadline despite pings");
        assert_eq!(reason, CloseReason::Timeout);
        assert!(detail.contains("log in"), "{detail}");
    }
}

#[test]
fn logged_in_and_joined_connections_stay() {
    let mut h = Harness::with_accounts();
    let start = h.now;
    let aiko = h.login("aiko", OP_PW);
    let customer = h.connect(Role::Customer);
    let code = h.issue_code(aiko);
    h.broker.handle_message(
        customer,
        RelayMessage::JoinByCode {
            code: rsupport_proto::relay::Secret::new(code),
            customer: CustomerInfo::default(),
        },
        h.now,
    );
    h.drain();
    let out = ping_until(&mut h, &[aiko, customer], start + 10 * 60 * SEC);
    assert!(closed(&out, aiko).is_none());
    assert!(closed(&out, customer).is_none());
    assert_eq!(h.broker.session_count(), 1);
}

#[test]
fn the_deadline_is_a_setting() {
    let mut config = config();
    config.auth_timeout_ms = 5 * SEC;
    let mut h = Harness::new(
        Box::new(with_admin(
            rsupport_relay::store::SqliteStore::in_memory().unwrap(),
        )),
        config,
    );
    let start = h.now;
    let anon = h.connect(Role::Operator);
    let out = ping_until(&mut h, &[anon], start + 6 * SEC);
    assert!(closed(&out, anon).is_some());
}

#[test]
fn a_customer_left_idle_after_its_session_is_closed_within_two_periods() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let customer = h.connect(Role::Customer);
    let code = h.issue_code(aiko);
    let session = paired(&h.join(customer, &code), customer).unwrap();
    // In the session well past the first check.
    let later = h.now + 5 * 60 * SEC;
    let out = ping_until(&mut h, &[aiko, customer], later);
    assert!(closed(&out, customer).is_none());
    h.broker.handle_message(
        aiko,
        RelayMessage::LeaveSession {
            session_id: session.session_id,
            reason: rsupport_proto::EndReason::OperatorEnded,
        },
        h.now,
    );
    h.drain();
    let ended = h.now;
    // Not before one whole period of idleness...
    let out = ping_until(&mut h, &[aiko, customer], ended + 30 * SEC - 1);
    assert!(closed(&out, customer).is_none());
    // ...and no later than two.
    let out = ping_until(&mut h, &[aiko, customer], ended + 60 * SEC);
    assert!(closed(&out, customer).is_some());
    assert!(closed(&out, aiko).is_none(), "logged-in operators stay");
}
