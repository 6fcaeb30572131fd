//! Two whole sessions (operator and customer) wired back to back on a
//! virtual clock: the customer's consent decides what is shown and injected.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use rsupport_core::session::{ChatEvent, InputNotPermitted, SessionEvent};
use rsupport_input::inject::RecordingInjector;
use rsupport_proto::chat::ChatMessage;
use rsupport_proto::input::InputMessage;
use rsupport_proto::session::SessionMessage;
use rsupport_proto::{ConnectionMode, EndReason, Point};
use rsupport_testkit::pair::{SessionPair, SESSION_ID};

fn click() -> InputMessage {
    InputMessage::PointerMove {
        position: Point::new(10, 20),
    }
}

#[test]
fn consented_view_shows_the_customer_screen_pixel_for_pixel() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    assert!(
        h.capture_tick().is_none(),
        "nothing is captured before consent"
    );
    h.grant(ConnectionMode::ViewCustomer);
    for _ in 0..5 {
        let frame = h.capture_tick().expect("sharing sends frames");
        assert_eq!(h.operator.framebuffer(), Some(&frame));
    }
}

#[test]
fn input_reaches_the_injector_only_with_control() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ViewCustomer);
    assert_eq!(h.operator.send_input(click()), Err(InputNotPermitted));
    h.grant(ConnectionMode::ControlCustomer);
    h.operator.send_input(click()).unwrap();
    h.pump();
    assert!(
        !h.injector.events().is_empty(),
        "controlled input is injected"
    );
}

#[test]
fn forged_input_from_a_view_only_operator_is_never_injected() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ViewCustomer);
    // A modified operator program that skips its own check.
    let forged = h.from_operator(&SessionMessage::Input(click()));
    h.customer.handle_envelope(forged, h.now).unwrap();
    h.customer.inject_pending(&mut h.injector).unwrap();
    assert!(h.injector.events().is_empty());
    assert_eq!(h.customer.ignored_input(), 1);
}

#[test]
fn pause_stops_frames_and_input_until_resume() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ControlCustomer);
    assert!(h.capture_tick().is_some());
    h.customer.set_paused(true).unwrap();
    h.pump();
    for _ in 0..3 {
        assert!(
            h.capture_tick().is_none(),
            "paused: nothing captured or sent"
        );
    }
    assert_eq!(h.operator.send_input(click()), Err(InputNotPermitted));
    h.customer.set_paused(false).unwrap();
    h.pump();
    let frame = h.capture_tick().expect("resumed");
    assert_eq!(h.operator.framebuffer(), Some(&frame));
    h.operator.send_input(click()).unwrap();
    h.pump();
    assert!(!h.injector.events().is_empty());
}

#[test]
fn revoke_releases_held_keys_and_blocks_further_input() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ControlCustomer);
    let ctrl = InputMessage::Key(rsupport_proto::input::KeyInput {
        code: "ControlLeft".into(),
        keysym: Some(0xffe3),
        pressed: true,
        repeat: false,
    });
    h.operator.send_input(ctrl).unwrap();
    h.pump();
    assert_eq!(h.customer.input().held_keys().count(), 1);
    h.customer.revoke_control();
    h.pump();
    assert_eq!(h.customer.input().held_keys().count(), 0, "no stuck Ctrl");
    let injected = h.injector.events().len();
    assert_eq!(h.operator.send_input(click()), Err(InputNotPermitted));
    let forged = h.from_operator(&SessionMessage::Input(click()));
    h.customer.handle_envelope(forged, h.now).unwrap();
    h.pump();
    assert_eq!(h.injector.events().len(), injected);
}

#[test]
fn a_lost_connection_releases_keys_and_a_resume_restarts_the_screen() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ControlCustomer);
    h.capture_tick().expect("sharing sends frames");
    let ctrl = InputMessage::Key(rsupport_proto::input::KeyInput {
        code: "ControlLeft".into(),
        keysym: Some(0xffe3),
        pressed: true,
        repeat: false,
    });
    h.operator.send_input(ctrl).unwrap();
    h.pump();
    assert_eq!(h.customer.input().held_keys().count(), 1);

    // The path breaks: the viewer cannot let go of Ctrl, so the host does.
    h.operator.connection_lost();
    h.customer.connection_lost();
    h.customer.inject_pending(&mut h.injector).unwrap();
    assert_eq!(h.customer.input().held_keys().count(), 0, "no stuck Ctrl");
    // Frames encoded meanwhile never arrive.
    for _ in 0..20 {
        h.now += Duration::from_millis(50);
        let lost = h.screen.next_frame();
        h.customer.submit_frame(&lost, h.now, 0).unwrap();
        while h.customer.poll_transmit().is_some() {}
    }

    // Back: both halves restart, the next frame decodes on a fresh cache,
    // and the control granted before the drop holds again.
    h.operator.reconnected(h.now);
    h.customer.reconnected(h.now);
    h.pump();
    let frame = h.capture_tick().expect("frames flow again");
    assert_eq!(h.operator.framebuffer(), Some(&frame));
    let injected = h.injector.events().len();
    h.operator.send_input(click()).unwrap();
    h.pump();
    assert!(h.injector.events().len() > injected, "control flows again");
}

#[test]
fn chat_works_before_any_mode_and_both_ways() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.customer.chat().send("画面が固まりました", 1).unwrap();
    h.operator.chat().send("Let me look", 2).unwrap();
    h.pump();
    let got_op: Vec<_> = std::iter::from_fn(|| h.operator.poll_event()).collect();
    assert!(got_op.iter().any(|e| matches!(e,
        SessionEvent::Chat(ChatEvent::Received(l)) if l.text == "画面が固まりました")));
    let got_cu: Vec<_> = std::iter::from_fn(|| h.customer.poll_event()).collect();
    assert!(got_cu.iter().any(|e| matches!(e,
        SessionEvent::Chat(ChatEvent::Received(l)) if l.text == "Let me look")));
    let _ = ChatMessage::Typing { typing: true };
}

#[test]
fn end_stops_everything_on_both_sides() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ControlCustomer);
    h.operator.end(EndReason::OperatorEnded, "done");
    h.pump();
    assert!(h.customer.is_ended() && h.operator.is_ended());
    assert!(h.capture_tick().is_none());
    assert_eq!(h.operator.send_input(click()), Err(InputNotPermitted));
}

#[test]
fn share_operator_screen_reverses_the_roles() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ShareOperatorScreen);
    h.now += Duration::from_millis(50);
    let frame = h.screen.next_frame();
    assert!(!h.customer.wants_frame(h.now));
    assert!(h.operator.wants_frame(h.now));
    h.operator.submit_frame(&frame, h.now, 0).unwrap();
    h.pump();
    assert_eq!(h.customer.framebuffer(), Some(&frame));
    h.customer.send_input(click()).unwrap();
    let mut operator_injector = RecordingInjector::new();
    h.pump();
    h.operator.inject_pending(&mut operator_injector).unwrap();
    assert!(!operator_injector.events().is_empty());
}

#[test]
fn envelopes_of_other_sessions_are_dropped_and_counted() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ControlCustomer);
    let stray = SessionMessage::Input(click()).into_envelope(SESSION_ID + 1, 1);
    h.customer.handle_envelope(stray, h.now).unwrap();
    h.customer.inject_pending(&mut h.injector).unwrap();
    assert!(h.injector.events().is_empty());
    assert_eq!(h.customer.malformed_count(), 1);
    assert!(!h.customer.is_ended());
}
