//! Who may drop files on the other side, and how much a peer can make the
//! other side hold: auto-accept only under granted control, a per-session
//! limit and a free-space check before any byte, bounded waiting offers
//! (SECURITY M6, M7). Two sessions on a virtual clock.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::PathBuf;
use std::time::Duration;

use rsupport_core::files::{FileEvent, FileIo, IoDone, OutgoingEntry};
use rsupport_core::session::SessionEvent;
use rsupport_proto::ConnectionMode;
use rsupport_testkit::pair::SessionPair;

fn file_events(events: Vec<SessionEvent>) -> Vec<FileEvent> {
    events
        .into_iter()
        .filter_map(|e| match e {
            SessionEvent::File(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// The operator offers `entries`; returns what the customer's side did.
fn offer(h: &mut SessionPair, entries: Vec<OutgoingEntry>) -> Vec<FileEvent> {
    h.operator.files().offer(entries, h.now);
    h.pump();
    file_events(h.customer_events())
}

fn one_file(name: &str, size: u64) -> Vec<OutgoingEntry> {
    vec![OutgoingEntry::file(name, size, "/nonexistent/source")]
}

fn auto_accepted(events: &[FileEvent]) -> bool {
    let auto = events
        .iter()
        .any(|e| matches!(e, FileEvent::OfferAutoAccepted { .. }));
    let asked = events
        .iter()
        .any(|e| matches!(e, FileEvent::OfferReceived { .. }));
    assert!(auto != asked, "{events:?}");
    auto
}

fn control_pair() -> SessionPair {
    let mut h = SessionPair::with_file_control(ConnectionMode::ALL, PathBuf::from("/downloads"));
    h.grant(ConnectionMode::ControlCustomer);
    h.customer_events();
    h.operator_events();
    h
}

#[test]
fn auto_accept_only_while_control_is_granted_and_not_paused() {
    let mut h = control_pair();
    assert!(auto_accepted(&offer(&mut h, one_file("a.txt", 1))));

    h.customer.set_paused(true).unwrap();
    h.pump();
    assert!(
        !auto_accepted(&offer(&mut h, one_file("b.txt", 1))),
        "paused: the customer is asked"
    );
    h.customer.set_paused(false).unwrap();
    h.pump();
    assert!(
        auto_accepted(&offer(&mut h, one_file("c.txt", 1))),
        "resumed"
    );

    h.customer.revoke_control();
    h.pump();
    assert!(
        !auto_accepted(&offer(&mut h, one_file("d.txt", 1))),
        "control revoked: the customer is asked"
    );
    h.grant(ConnectionMode::ControlCustomer);
    h.customer_events();
    assert!(
        auto_accepted(&offer(&mut h, one_file("e.txt", 1))),
        "control given again"
    );
}

#[test]
fn an_offer_over_the_session_limit_is_refused_with_the_reason() {
    let mut h = control_pair();
    // Over the default 4 GiB per session.
    let events = offer(&mut h, one_file("huge.iso", 5 * 1024 * 1024 * 1024));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, FileEvent::OfferRefused { .. })),
        "{events:?}"
    );
    let declined = file_events(h.operator_events());
    assert!(
        declined
            .iter()
            .any(|e| matches!(e, FileEvent::Declined { reason, .. }
            if reason.contains("more than this session may still receive"))),
        "{declined:?}"
    );
}

/// Answers the customer's free-space checks with `free`; returns the other
/// IO requests the customer asked for.
fn answer_free_space(h: &mut SessionPair, free: u64) -> Vec<FileIo> {
    let mut other = Vec::new();
    while let Some(request) = h.customer.poll_io() {
        match request.io {
            FileIo::FreeSpace { .. } => {
                h.customer
                    .handle_io(request.id, Ok(IoDone::Len(free)), h.now)
            }
            io => other.push(io),
        }
    }
    h.pump();
    other
}

#[test]
fn the_session_limit_and_free_space_are_checked_before_any_byte() {
    let mut h = control_pair();
    h.customer.files().set_max_received_bytes(1000);
    assert!(auto_accepted(&offer(&mut h, one_file("a.bin", 600))));
    let started = answer_free_space(&mut h, 1 << 40);
    assert!(
        started
            .iter()
            .any(|io| matches!(io, FileIo::OpenPartial { .. })),
        "enough room: the transfer starts"
    );

    // 600 + 600 > 1000: refused without any IO.
    let events = offer(&mut h, one_file("b.bin", 600));
    assert!(events.iter().any(
        |e| matches!(e, FileEvent::OfferRefused { reason, .. } if reason.contains("1000 bytes"))
    ));
    assert!(answer_free_space(&mut h, 1 << 40).is_empty());

    // Within the limit, but the disk is nearly full.
    auto_accepted(&offer(&mut h, one_file("c.bin", 300)));
    let after = answer_free_space(&mut h, 100);
    assert!(after.is_empty(), "nothing written: {after:?}");
    let events = file_events(h.customer_events());
    assert!(events.iter().any(
        |e| matches!(e, FileEvent::OfferRefused { reason, .. } if reason.contains("not enough free space"))
    ));
    let declined = file_events(h.operator_events());
    assert!(declined.iter().any(
        |e| matches!(e, FileEvent::Declined { reason, .. } if reason.contains("not enough free space"))
    ));
}

#[test]
fn waiting_offers_are_bounded_in_number_and_size_and_expire() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    let mut asked = 0;
    for i in 0..40 {
        let events = offer(&mut h, one_file(&format!("f{i}.txt"), 1));
        asked += events
            .iter()
            .filter(|e| matches!(e, FileEvent::OfferReceived { .. }))
            .count();
    }
    assert_eq!(asked, 16, "at most 16 offers wait for the user");
    assert_eq!(h.customer.files().refused_offers(), 24);
    let declined = file_events(h.operator_events())
        .into_iter()
        .filter(|e| matches!(e, FileEvent::Declined { reason, .. } if reason.contains("too many offers")))
        .count();
    assert_eq!(declined, 24, "the peer learns why");

    // Nobody answers for 10 minutes: the waiting offers are declined.
    h.advance(Duration::from_secs(10 * 60));
    let expired = file_events(h.customer_events())
        .into_iter()
        .filter(|e| matches!(e, FileEvent::OfferRefused { .. }))
        .count();
    assert_eq!(expired, 16);
    let events = offer(&mut h, one_file("later.txt", 1));
    assert!(events
        .iter()
        .any(|e| matches!(e, FileEvent::OfferReceived { .. })));

    // A few offers with many long names fill the metadata budget (1 MiB).
    let big = |tag: usize| -> Vec<OutgoingEntry> {
        (0..2000)
            .map(|i| OutgoingEntry::file(format!("d{tag}/{:0>100}", i), 1, "/nonexistent"))
            .collect()
    };
    let mut asked = 0;
    for tag in 0..6 {
        asked += offer(&mut h, big(tag))
            .iter()
            .filter(|e| matches!(e, FileEvent::OfferReceived { .. }))
            .count();
    }
    assert!(asked < 6, "the metadata budget held ({asked} of 6 shown)");
}
