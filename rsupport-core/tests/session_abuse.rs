//! What a session does with what the peer should not have sent: malformed
//! messages are dropped and counted, a sustained stream ends the session
//! with the same reason on both sides, nothing of the peer's screen is
//! decoded or drawn before consent, and every valid key code is injected or
//! dropped — never a protocol error. Two sessions on a virtual clock.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use rsupport_capture::codec::{crafted, Encoder, EncoderConfig};
use rsupport_capture::BgraFrame;
use rsupport_core::session::screen::{HostScreenEvent, ViewerScreenEvent};
use rsupport_core::session::{ControlEvent, SessionEvent, MAX_MALFORMED};
use rsupport_input::keymap::key_chord;
use rsupport_input::{InputEvent, Keysym};
use rsupport_proto::annotate::{AnnotateMessage, Argb};
use rsupport_proto::control::ControlMessage;
use rsupport_proto::envelope::Envelope;
use rsupport_proto::input::{InputMessage, KeyInput};
use rsupport_proto::screen::{CursorPosition, MonitorList, ScreenMessage, TileCompression};
use rsupport_proto::session::SessionMessage;
use rsupport_proto::{ConnectionMode, EndReason, Point};
use rsupport_testkit::pair::{SessionPair, SESSION_ID};

/// Sealed by the operator (it holds the keys) but no session message.
fn garbage(h: &mut SessionPair) -> Envelope {
    h.garbage_from_operator(&[0xff, 0xff, 0xff, 0x07])
}

fn ended(events: &[SessionEvent]) -> Option<(EndReason, bool)> {
    events.iter().find_map(|e| match e {
        SessionEvent::Control(ControlEvent::Ended {
            reason, by_peer, ..
        }) => Some((*reason, *by_peer)),
        _ => None,
    })
}

#[test]
fn a_malformed_message_is_dropped_and_counted_and_the_session_goes_on() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ControlCustomer);
    h.customer_events();
    let env = garbage(&mut h);
    h.customer.handle_envelope(env, h.now).unwrap();
    let stray = SessionMessage::Input(InputMessage::PointerMove {
        position: Point::new(1, 1),
    })
    .into_envelope(SESSION_ID + 1, 901);
    h.customer.handle_envelope(stray, h.now).unwrap();
    assert_eq!(h.customer.malformed_count(), 2);
    assert!(!h.customer.is_ended());
    let told: Vec<_> = h
        .customer_events()
        .into_iter()
        .filter(|e| matches!(e, SessionEvent::PeerMessageDropped { .. }))
        .collect();
    assert_eq!(told.len(), 1, "the application is told once");
    // The session still works both ways.
    let frame = h.capture_tick().unwrap();
    assert_eq!(h.operator.framebuffer(), Some(&frame));
    assert!(
        h.injector.events().is_empty(),
        "the stray input was not injected"
    );
}

#[test]
fn sustained_abuse_ends_the_session_with_the_same_reason_on_both_sides() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ViewCustomer);
    h.customer_events();
    h.operator_events();
    // 100 within ten seconds are tolerated …
    for i in 0..MAX_MALFORMED as u64 {
        h.now += Duration::from_millis(50);
        let _ = i;
        let env = garbage(&mut h);
        h.customer.handle_envelope(env, h.now).unwrap();
    }
    assert!(!h.customer.is_ended());
    // … one more is not.
    let env = garbage(&mut h);
    h.customer.handle_envelope(env, h.now).unwrap();
    assert!(h.customer.is_ended());
    assert_eq!(h.customer.end_reason(), Some(EndReason::PeerMisbehaved));
    assert_eq!(
        ended(&h.customer_events()),
        Some((EndReason::PeerMisbehaved, false))
    );
    h.pump();
    assert!(h.operator.is_ended());
    assert_eq!(h.operator.end_reason(), Some(EndReason::PeerMisbehaved));
    assert_eq!(
        ended(&h.operator_events()),
        Some((EndReason::PeerMisbehaved, true))
    );
}

#[test]
fn a_non_host_claiming_the_pause_still_ends_the_session() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ViewCustomer);
    let forged = h.from_operator(&SessionMessage::Control(ControlMessage::PauseState {
        paused: true,
    }));
    let err = h.customer.handle_envelope(forged, h.now).unwrap_err();
    assert!(err.ends_session(), "{err}");
    assert_eq!(h.customer.malformed_count(), 0);
}

#[test]
fn every_valid_key_is_injected_or_dropped_never_a_protocol_error() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ControlCustomer);
    for chord in ["ctrl+c", "alt+shift+tab", "F5", "up", "Return", "super+l"] {
        for key in key_chord(chord).unwrap() {
            h.operator.send_input(InputMessage::Key(key)).unwrap();
        }
    }
    h.pump();
    let keys: Vec<_> = h
        .injector
        .events()
        .iter()
        .filter_map(|e| match e {
            InputEvent::Key { keysym, pressed } => Some((*keysym, *pressed)),
            _ => None,
        })
        .collect();
    let c = Keysym(u32::from('c'));
    assert_eq!(
        keys[..4],
        [
            (Keysym::CONTROL_L, true),
            (c, true),
            (c, false),
            (Keysym::CONTROL_L, false)
        ]
    );
    assert!(keys.contains(&(Keysym(Keysym::F1.0 + 4), true)), "F5");
    assert!(keys.contains(&(Keysym::UP, true)) && keys.contains(&(Keysym::RETURN, true)));
    assert_eq!(h.customer.ignored_input(), 0);
    // A well-formed code this host has no key for: dropped and counted.
    let media = KeyInput::new("MediaPlayPause", None, true);
    h.operator.send_input(InputMessage::Key(media)).unwrap();
    h.pump();
    assert_eq!(h.customer.ignored_input(), 1);
    // What `/key ctrl+c` used to send: a code the wire refuses. The
    // customer drops it and goes on.
    let raw = KeyInput::new("ctrl+c", None, true);
    let forged = h.from_operator(&SessionMessage::Input(InputMessage::Key(raw)));
    h.customer.handle_envelope(forged, h.now).unwrap();
    assert_eq!(h.customer.malformed_count(), 1);
    assert!(!h.customer.is_ended() && !h.operator.is_ended());
}

/// Every kind of thing an operator could show on the customer's screen.
fn operator_screen_messages() -> Vec<SessionMessage> {
    let mut encoder = Encoder::new(EncoderConfig::default());
    let update = encoder
        .encode(&BgraFrame::filled(64, 48, [1, 2, 3, 255]), 0)
        .unwrap();
    vec![
        SessionMessage::Screen(ScreenMessage::Frame(update)),
        SessionMessage::Screen(ScreenMessage::CursorPosition(CursorPosition {
            position: Point::new(5, 5),
            visible: true,
            shape_id: 0,
        })),
        SessionMessage::Screen(ScreenMessage::Monitors(MonitorList::default())),
        SessionMessage::Annotate(AnnotateMessage::TextLabel {
            label_id: 1,
            position: Point::new(10, 10),
            text: "Your PC is infected, call us".into(),
            color: Argb::new(255, 255, 0, 0),
            size_px: 48,
            monitor_id: 0,
        }),
    ]
}

#[test]
fn nothing_of_the_operator_is_decoded_or_drawn_before_consent() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.customer_events();
    let sent = operator_screen_messages();
    let n = sent.len() as u64;
    for m in sent {
        let env = h.from_operator(&m);
        h.customer.handle_envelope(env, h.now).unwrap();
    }
    assert!(h.customer.framebuffer().is_none());
    assert!(h.customer.annotator().layer().items().is_empty());
    assert_eq!(h.customer.screen_viewer().frames_applied(), 0);
    assert!(h.customer_events().iter().all(|e| !matches!(
        e,
        SessionEvent::ViewerScreen(_) | SessionEvent::AnnotationsChanged
    )));
    assert_eq!(h.customer.dropped().ignored, n);
    assert_eq!(
        h.customer.malformed_count(),
        0,
        "not abuse: may cross a stop"
    );
    // Once the customer lets the operator show its screen, they are shown.
    h.grant(ConnectionMode::ShowOperatorScreen);
    for m in operator_screen_messages() {
        let env = h.from_operator(&m);
        h.customer.handle_envelope(env, h.now).unwrap();
    }
    assert!(h.customer.framebuffer().is_some());
    assert_eq!(h.customer.annotator().layer().items().len(), 1);
}

#[test]
fn frames_of_a_customer_who_granted_nothing_are_not_decoded() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    let bomb = SessionMessage::Screen(ScreenMessage::Frame(crafted::solid_bomb(
        4096,
        64,
        TileCompression::None,
    )));
    let env = h.from_customer(&bomb);
    h.operator.handle_envelope(env, h.now).unwrap();
    assert!(h.operator.framebuffer().is_none());
    assert_eq!(
        h.operator.screen_viewer().decoder_stats().refused,
        0,
        "never decoded"
    );
    assert_eq!(h.operator.dropped().ignored, 1);
}

#[test]
fn a_hostile_frame_after_consent_is_refused_and_the_picture_stays() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ViewCustomer);
    let frame = h.capture_tick().unwrap();
    let bomb = SessionMessage::Screen(ScreenMessage::Frame(crafted::solid_bomb(
        rsupport_testkit::pair::WIDTH,
        64,
        TileCompression::None,
    )));
    let env = h.from_customer(&bomb);
    h.operator.handle_envelope(env, h.now).unwrap();
    assert!(!h.operator.is_ended());
    assert_eq!(h.operator.malformed_count(), 1);
    assert_eq!(h.operator.framebuffer(), Some(&frame), "refused whole");
    let stats = h.operator.screen_viewer().decoder_stats();
    assert_eq!(stats.last_pixels_written, 0);
    // The operator asked for a key frame, and the stream goes on.
    h.pump();
    let next = h.capture_tick().unwrap();
    assert_eq!(h.operator.framebuffer(), Some(&next));
}

#[test]
fn screenshots_are_refused_while_sharing_is_paused() {
    let mut h = SessionPair::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ViewCustomer);
    let asked = |events: Vec<SessionEvent>| {
        events.iter().any(|e| {
            matches!(
                e,
                SessionEvent::HostScreen(HostScreenEvent::ScreenshotRequested { .. })
            )
        })
    };
    h.customer.set_paused(true).unwrap();
    h.pump();
    h.customer_events();
    h.operator.viewer().request_screenshot(1);
    h.pump();
    assert!(!asked(h.customer_events()), "no capture while paused");
    h.customer.set_paused(false).unwrap();
    h.pump();
    h.operator.viewer().request_screenshot(2);
    h.pump();
    assert!(asked(h.customer_events()));
    // The viewer never saw a screenshot event for the paused request.
    assert!(!h.operator_events().iter().any(|e| matches!(
        e,
        SessionEvent::ViewerScreen(ViewerScreenEvent::Screenshot(_))
    )));
}
