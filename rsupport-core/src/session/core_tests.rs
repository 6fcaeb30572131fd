//! Two whole sessions (operator and customer) wired back to back on a
//! virtual clock: the customer's consent decides what is shown and injected.

use std::time::{Duration, Instant};

use rsupport_capture::codec::synthetic::{Scenario, Sequence};
use rsupport_input::inject::RecordingInjector;
use rsupport_input::{CoordinateMapper, GateConfig, Monitor};
use rsupport_proto::chat::ChatMessage;
use rsupport_proto::input::InputMessage;
use rsupport_proto::{ConnectionMode, EndReason, Point, Rect};

use super::*;
use crate::session::chat::ChatEvent;

const W: u32 = 320;
const H: u32 = 200;

struct Harness {
    operator: Session,
    customer: Session,
    now: Instant,
    screen: Sequence,
    injector: RecordingInjector,
}

fn mapper() -> CoordinateMapper {
    CoordinateMapper::for_monitor(vec![Monitor::new(Rect::new(0, 0, W, H), 1.0)], 0, W, H)
        .expect("valid monitor")
}

fn session(side: Side, allowed: &[ConnectionMode]) -> Session {
    Session::new(
        SessionConfig {
            side,
            session_id: 77,
            display_name: format!("{side:?}"),
            policy: SessionPolicy::allowing(allowed.iter().copied()),
            gate: GateConfig::default(),
            full_file_control: false,
            download_dir: None,
        },
        mapper(),
    )
}

impl Harness {
    fn new(allowed: &[ConnectionMode]) -> Harness {
        Harness {
            operator: session(Side::Operator, allowed),
            customer: session(Side::Customer, allowed),
            now: Instant::now(),
            screen: Sequence::new(Scenario::Typing, W, H, 3),
            injector: RecordingInjector::new(),
        }
    }

    /// Moves every envelope both ways (through encode/decode) until quiet.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(env) = self.operator.poll_transmit() {
                let env = rsupport_proto::envelope::Envelope::decode(env.encode()).unwrap();
                self.customer.handle_envelope(env, self.now).unwrap();
                moved = true;
            }
            while let Some(env) = self.customer.poll_transmit() {
                let env = rsupport_proto::envelope::Envelope::decode(env.encode()).unwrap();
                self.operator.handle_envelope(env, self.now).unwrap();
                moved = true;
            }
            self.customer.inject_pending(&mut self.injector).unwrap();
            if !moved {
                break;
            }
        }
    }

    /// One tick of the customer's capture loop; returns the frame if the
    /// session wanted one (an unchanged frame is captured but sends nothing).
    fn capture_tick(&mut self) -> Option<rsupport_capture::BgraFrame> {
        self.now += Duration::from_millis(50);
        let frame = self.screen.next_frame();
        if !self.customer.wants_frame(self.now) {
            // A paused or idle host must not encode even if asked.
            assert!(!self.customer.submit_frame(&frame, self.now, 0).unwrap());
            self.pump();
            return None;
        }
        self.customer.submit_frame(&frame, self.now, 0).unwrap();
        self.pump();
        Some(frame)
    }

    fn grant(&mut self, mode: ConnectionMode) {
        self.operator.control().request_mode(mode, "help").unwrap();
        self.pump();
        let id = std::iter::from_fn(|| self.customer.poll_event())
            .find_map(|e| match e {
                SessionEvent::Control(ControlEvent::ConsentRequested { request_id, .. }) => {
                    Some(request_id)
                }
                _ => None,
            })
            .expect("the customer is asked");
        self.customer.control().decide(id, true).unwrap();
        self.pump();
    }
}

fn click() -> InputMessage {
    InputMessage::PointerMove {
        position: Point::new(10, 20),
    }
}

#[test]
fn consented_view_shows_the_customer_screen_pixel_for_pixel() {
    let mut h = Harness::new(ConnectionMode::ALL);
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
    let mut h = Harness::new(ConnectionMode::ALL);
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
    let mut h = Harness::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ViewCustomer);
    // A modified operator program that skips its own check.
    let forged = SessionMessage::Input(click()).into_envelope(77, 999);
    h.customer.handle_envelope(forged, h.now).unwrap();
    h.customer.inject_pending(&mut h.injector).unwrap();
    assert!(h.injector.events().is_empty());
    assert_eq!(h.customer.ignored_input(), 1);
}

#[test]
fn pause_stops_frames_and_input_until_resume() {
    let mut h = Harness::new(ConnectionMode::ALL);
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
    let mut h = Harness::new(ConnectionMode::ALL);
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
    let forged = SessionMessage::Input(click()).into_envelope(77, 999);
    h.customer.handle_envelope(forged, h.now).unwrap();
    h.pump();
    assert_eq!(h.injector.events().len(), injected);
}

#[test]
fn a_lost_connection_releases_keys_and_a_resume_restarts_the_screen() {
    let mut h = Harness::new(ConnectionMode::ALL);
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
    let mut h = Harness::new(ConnectionMode::ALL);
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
    let mut h = Harness::new(ConnectionMode::ALL);
    h.grant(ConnectionMode::ControlCustomer);
    h.operator.end(EndReason::OperatorEnded, "done");
    h.pump();
    assert!(h.customer.is_ended() && h.operator.is_ended());
    assert!(h.capture_tick().is_none());
    assert_eq!(h.operator.send_input(click()), Err(InputNotPermitted));
}

#[test]
fn share_operator_screen_reverses_the_roles() {
    let mut h = Harness::new(ConnectionMode::ALL);
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
fn envelopes_of_other_sessions_are_refused() {
    let mut h = Harness::new(ConnectionMode::ALL);
    let stray = SessionMessage::Input(click()).into_envelope(78, 1);
    assert!(matches!(
        h.customer.handle_envelope(stray, h.now),
        Err(SessionError::WrongSession { .. })
    ));
}

#[test]
fn a_failed_file_write_fails_that_transfer_and_the_session_goes_on() {
    use crate::files::{storage, FileEvent, FileIo, StoreError};
    let mut h = Harness::new(&[ConnectionMode::ViewCustomer]);
    let src = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let file = src.path().join("f.bin");
    std::fs::write(&file, vec![7u8; 100_000]).unwrap();
    let entries = storage::entries_from_path(&file).unwrap();
    let id = h.operator.files().offer(entries, h.now);
    let mut customer_events = Vec::new();
    for _ in 0..200 {
        h.pump();
        while let Some(req) = h.operator.poll_io() {
            let result = storage::execute(&req.io);
            h.operator.handle_io(req.id, result, h.now);
        }
        while let Some(req) = h.customer.poll_io() {
            let result = match req.io {
                FileIo::Write { .. } => Err(StoreError::io("write", std::io::ErrorKind::Other)),
                ref other => storage::execute(other),
            };
            h.customer.handle_io(req.id, result, h.now);
        }
        while let Some(e) = h.customer.poll_event() {
            if let SessionEvent::File(FileEvent::OfferReceived { transfer_id, .. }) = &e {
                assert!(h
                    .customer
                    .files()
                    .accept_into(*transfer_id, dest.path(), h.now));
            }
            customer_events.push(e);
        }
    }
    customer_events.extend(std::iter::from_fn(|| h.customer.poll_event()));
    assert!(
        customer_events.iter().any(|e| matches!(
            e,
            SessionEvent::File(FileEvent::Cancelled { transfer_id, reason, .. })
                if *transfer_id == id && reason.starts_with("writing the file failed")
        )),
        "{customer_events:?}"
    );
    assert!(
        std::iter::from_fn(|| h.operator.poll_event()).any(|e| matches!(
            e,
            SessionEvent::File(FileEvent::Cancelled { by_peer: true, .. })
        ))
    );
    // The session is untouched: not ended, and chat still flows.
    assert_eq!(h.customer.end_reason(), None);
    assert_eq!(h.operator.end_reason(), None);
    h.customer.chat().send("still here", 1).unwrap();
    h.pump();
    assert!(std::iter::from_fn(|| h.operator.poll_event())
        .any(|e| matches!(e, SessionEvent::Chat(ChatEvent::Received(_)))));
}
