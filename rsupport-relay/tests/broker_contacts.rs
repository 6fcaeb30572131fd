//! Chat-first contact under abuse: per-source and per-operator rate limits,
//! no "is this operator online" oracle, and attacker text cleaned before an
//! operator sees it.

#![allow(clippy::unwrap_used)]

use rsupport_testkit::broker as common;

use rsupport_proto::relay::{ContactOperator, CustomerInfo, JoinRefusal, RelayMessage};
use rsupport_proto::Role;
use rsupport_relay::{ConnId, Output};

use common::*;

fn aiko_id(h: &Harness) -> String {
    h.broker
        .store()
        .find_account("aiko")
        .unwrap()
        .unwrap()
        .operator_id
}

fn contact(
    h: &mut Harness,
    from: &str,
    operator_id: &str,
    name: &str,
    msg: &str,
) -> (ConnId, Vec<Output>) {
    let c = h.connect_from(Role::Customer, from);
    h.broker.handle_message(
        c,
        RelayMessage::ContactOperator(ContactOperator {
            operator_id: operator_id.into(),
            customer: CustomerInfo {
                name: name.into(),
                ..Default::default()
            },
            first_message: msg.into(),
        }),
        h.now,
    );
    (c, h.drain())
}

fn requests_to(out: &[Output], to: ConnId) -> Vec<rsupport_proto::relay::ContactRequest> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                conn,
                message: RelayMessage::ContactRequest(r),
            } if *conn == to => Some(r.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn contacts_are_rate_limited_per_source_and_per_operator() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let id = aiko_id(&h);

    // One source: three contacts per ten minutes, whatever their outcome.
    for _ in 0..3 {
        let (c, out) = contact(&mut h, "203.0.113.7", &id, "Bob", "hi");
        assert_eq!(requests_to(&out, aiko).len(), 1);
        h.broker.handle_disconnect(c, h.now);
        h.drain();
    }
    let (c, out) = contact(&mut h, "203.0.113.7", &id, "Bob", "hi");
    assert!(requests_to(&out, aiko).is_empty());
    assert_eq!(refused(&out, c), Some(JoinRefusal::RateLimited));
    // The same holds for probes of unknown operator IDs.
    let (c, out) = contact(&mut h, "203.0.113.7", "000000000", "Bob", "hi");
    assert_eq!(refused(&out, c), Some(JoinRefusal::RateLimited));
    h.now += 10 * MIN;
    let (_, out) = contact(&mut h, "203.0.113.7", &id, "Bob", "hi");
    assert_eq!(requests_to(&out, aiko).len(), 1);

    // One operator: at most 20 contacts an hour reach the console, from
    // however many sources; beyond, the answer is the plain "offline".
    h.now += 60 * MIN;
    let mut delivered = 0;
    for i in 0..40 {
        let (c, out) = contact(&mut h, &format!("10.9.0.{i}"), &id, "Bob", "hi");
        delivered += requests_to(&out, aiko).len();
        if requests_to(&out, aiko).is_empty() {
            assert_eq!(refused(&out, c), Some(JoinRefusal::OperatorOffline));
        }
        h.broker.handle_disconnect(c, h.now);
        h.drain();
    }
    assert_eq!(delivered, 20);
    // Refusals are not written to the audit history one row each.
    let kinds = h.audit_kinds();
    let refusal_rows = kinds
        .iter()
        .filter(|k| k.starts_with("contact_") && *k != "contact_requested")
        .count();
    assert!(refusal_rows <= 4, "{kinds:?}");
}

#[test]
fn offline_and_unknown_operators_get_the_same_answer() {
    let mut h = Harness::with_accounts();
    let id = aiko_id(&h); // aiko exists but is not logged in
    let (c1, offline) = contact(&mut h, "203.0.113.8", &id, "Bob", "hi");
    let (c2, unknown) = contact(&mut h, "203.0.113.9", "123456789", "Bob", "hi");
    let reply = |out: &[Output], c: ConnId| -> Vec<RelayMessage> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send { conn, message } if *conn == c => Some(message.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(reply(&offline, c1), reply(&unknown, c2));
    assert_eq!(refused(&offline, c1), Some(JoinRefusal::OperatorOffline));
}

#[test]
fn contact_text_is_capped_and_cleaned_before_the_operator_sees_it() {
    let mut h = Harness::with_accounts();
    let aiko = h.login("aiko", OP_PW);
    let id = aiko_id(&h);
    let name = format!("IT\u{202e}ytiruceS\u{2066}\u{200b}\u{7}{}", "x".repeat(200));
    let msg = format!("click\u{feff} here\u{1b}[2J{}", "y".repeat(5000));
    let (_, out) = contact(&mut h, "203.0.113.10", &id, &name, &msg);
    let r = requests_to(&out, aiko).pop().expect("delivered");
    assert!(
        r.customer.name.starts_with("ITytiruceS"),
        "{:?}",
        r.customer.name
    );
    assert_eq!(r.customer.name.chars().count(), 64);
    assert!(
        r.first_message.starts_with("click here[2J"),
        "{:?}",
        &r.first_message[..20]
    );
    assert_eq!(r.first_message.chars().count(), 2048);
    for text in [&r.customer.name, &r.first_message] {
        assert!(!text.chars().any(|c| c.is_control()
            || ('\u{200b}'..='\u{200f}').contains(&c)
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
            || c == '\u{feff}'));
    }
}
