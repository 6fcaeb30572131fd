use std::time::Duration;

use rsupport_proto::input::WheelDelta;
use rsupport_proto::{Point, Rect};

use super::*;
use crate::coords::Monitor;
use crate::event::DesktopPoint;
use crate::gate::{GateConfig, LocalTakeback, StopReason};
use crate::inject::RecordingInjector;

fn controller(config: GateConfig) -> InputController {
    let monitors = vec![
        Monitor::new(Rect::new(0, 0, 1920, 1080), 1.0),
        Monitor::new(Rect::new(1920, 0, 1280, 1024), 1.0),
    ];
    // The second monitor is shared, as a half-size frame.
    let mapper = CoordinateMapper::for_monitor(monitors, 1, 640, 512).unwrap();
    InputController::new(ControlGate::new(config), mapper)
}

fn drain(c: &mut InputController) -> Vec<InputEvent> {
    let mut rec = RecordingInjector::new();
    c.inject_pending(&mut rec).unwrap();
    rec.take()
}

fn key(code: &str, keysym: Option<char>, pressed: bool) -> InputMessage {
    InputMessage::Key(KeyInput::new(code, keysym.map(u32::from), pressed))
}

fn sym(c: char) -> Keysym {
    Keysym(u32::from(c))
}

#[test]
fn view_only_injects_nothing() {
    let now = Instant::now();
    let mut c = controller(GateConfig::default());
    let msgs = [
        InputMessage::PointerMove {
            position: Point::new(1, 1),
        },
        key("KeyA", Some('a'), true),
        InputMessage::Text { text: "x".into() },
        InputMessage::Special(SpecialKey::CtrlAltDel),
    ];
    for m in &msgs {
        assert_eq!(c.handle_input(now, m), Outcome::Gated(GateState::ViewOnly));
    }
    assert!(drain(&mut c).is_empty());
}

#[test]
fn pointer_is_mapped_onto_the_shared_monitor() {
    let now = Instant::now();
    let mut c = controller(GateConfig::default());
    c.grant();
    c.handle_input(
        now,
        &InputMessage::PointerMove {
            position: Point::new(100, 50),
        },
    );
    c.handle_input(
        now,
        &InputMessage::PointerMove {
            position: Point::new(-10, 50),
        },
    );
    c.handle_input(now, &InputMessage::Wheel(WheelDelta { dx: 0, dy: 30 }));
    assert_eq!(
        drain(&mut c),
        [
            InputEvent::MoveTo(DesktopPoint::new(1920 + 201, 101)),
            InputEvent::MoveTo(DesktopPoint::new(1920, 101)),
            InputEvent::Scroll { dx: 0, dy: 30 },
        ]
    );
}

#[test]
fn clicks_outside_the_shared_area_are_refused_but_releases_go_through() {
    let now = Instant::now();
    let mut c = controller(GateConfig::default());
    c.grant();
    let press = |x| InputMessage::PointerButton {
        button: MouseButton::Left,
        pressed: true,
        position: Point::new(x, 10),
    };
    let release = |x| InputMessage::PointerButton {
        button: MouseButton::Left,
        pressed: false,
        position: Point::new(x, 10),
    };
    assert_eq!(c.handle_input(now, &press(-5)), Outcome::OutsideSharedArea);
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.handle_input(now, &press(5)), Outcome::Accepted);
    // Dragged off the shared monitor and released there: clamped, released.
    assert_eq!(c.handle_input(now, &release(-500)), Outcome::Accepted);
    assert_eq!(
        drain(&mut c),
        [
            InputEvent::MoveTo(DesktopPoint::new(1931, 21)),
            InputEvent::Button {
                button: MouseButton::Left,
                pressed: true
            },
            InputEvent::MoveTo(DesktopPoint::new(1920, 21)),
            InputEvent::Button {
                button: MouseButton::Left,
                pressed: false
            },
        ]
    );
    // A release of a button that is not down injects nothing.
    c.handle_input(now, &release(5));
    assert!(drain(&mut c).is_empty());
}

#[test]
fn release_pairs_with_its_press_even_when_the_keysym_changed() {
    let now = Instant::now();
    let mut c = controller(GateConfig::default());
    c.grant();
    // Shift down, A down ('A'), Shift up, A up (now reported as 'a').
    c.handle_input(now, &key("ShiftLeft", None, true));
    c.handle_input(now, &key("KeyA", Some('A'), true));
    c.handle_input(now, &key("KeyA", Some('A'), true)); // auto-repeat
    c.handle_input(now, &key("ShiftLeft", None, false));
    c.handle_input(now, &key("KeyA", Some('a'), false));
    let k = |keysym, pressed| InputEvent::Key { keysym, pressed };
    assert_eq!(
        drain(&mut c),
        [
            k(Keysym::SHIFT_L, true),
            k(sym('A'), true),
            k(sym('A'), true),
            k(Keysym::SHIFT_L, false),
            k(sym('A'), false),
        ]
    );
    assert_eq!(c.held_keys().count(), 0);
}

#[test]
fn every_stop_releases_held_keys_and_buttons() {
    type Stop = fn(&mut InputController, Instant);
    let stops: [(&str, Stop); 6] = [
        ("revoke", |c, _| c.revoke(RevokeCause::User)),
        ("pause", |c, _| c.pause()),
        ("view only", |c, _| c.set_view_only()),
        ("connection lost", |c, _| c.connection_lost()),
        ("end", |c, _| c.end()),
        ("local input", |c, now| c.handle_local_activity(now)),
    ];
    for (name, stop) in stops {
        let now = Instant::now();
        let mut c = controller(GateConfig::default());
        c.grant();
        c.handle_input(now, &key("ControlLeft", None, true));
        c.handle_input(now, &key("AltLeft", None, true));
        c.handle_input(
            now,
            &InputMessage::PointerButton {
                button: MouseButton::Right,
                pressed: true,
                position: Point::new(1, 1),
            },
        );
        drain(&mut c);
        stop(&mut c, now);
        assert_eq!(
            drain(&mut c),
            [
                InputEvent::Key {
                    keysym: Keysym::ALT_L,
                    pressed: false
                },
                InputEvent::Key {
                    keysym: Keysym::CONTROL_L,
                    pressed: false
                },
                InputEvent::Button {
                    button: MouseButton::Right,
                    pressed: false
                },
            ],
            "{name}"
        );
        assert!(
            matches!(c.poll_gate_event(), Some(GateEvent::Resumed)),
            "{name}"
        );
        assert!(
            matches!(c.poll_gate_event(), Some(GateEvent::Stopped(_))),
            "{name}"
        );
        // Nothing more gets through, and the next stop has nothing to release.
        c.handle_input(now, &key("KeyQ", Some('q'), true));
        c.revoke(RevokeCause::Policy);
        assert!(drain(&mut c).is_empty(), "{name}");
    }
}

#[test]
fn a_stop_drops_queued_events_and_releases_only_what_is_down() {
    let now = Instant::now();
    let mut c = controller(GateConfig::default());
    c.grant();
    c.handle_input(now, &key("KeyB", Some('b'), true));
    c.handle_input(now, &key("KeyD", Some('d'), true));
    drain(&mut c);
    // Queued, not yet injected when the revoke comes.
    c.handle_input(now, &key("KeyB", Some('b'), false));
    c.handle_input(
        now,
        &InputMessage::Text {
            text: "rm -rf".into(),
        },
    );
    c.handle_input(now, &key("KeyC", Some('c'), true));
    c.revoke(RevokeCause::User);
    assert_eq!(
        drain(&mut c),
        [
            InputEvent::Key {
                keysym: sym('d'),
                pressed: false
            },
            InputEvent::Key {
                keysym: sym('b'),
                pressed: false
            },
        ],
        "b and d were down on the host; c never was"
    );
}

#[test]
fn local_takeover_then_resume_on_a_virtual_clock() {
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let grace = Duration::from_millis(800);
    let mut c = controller(GateConfig {
        local_takeback: LocalTakeback::Suspend { grace },
    });
    c.grant();
    c.handle_input(at(0), &key("ShiftLeft", None, true));
    assert_eq!(
        drain(&mut c),
        [InputEvent::Key {
            keysym: Keysym::SHIFT_L,
            pressed: true
        }]
    );
    c.handle_local_activity(at(10));
    let gated = c.handle_input(at(500), &InputMessage::Text { text: "x".into() });
    assert_eq!(
        gated,
        Outcome::Gated(GateState::LocalOverride { until: at(810) })
    );
    assert_eq!(c.poll_timeout(), Some(at(810)));
    assert_eq!(
        drain(&mut c),
        [InputEvent::Key {
            keysym: Keysym::SHIFT_L,
            pressed: false
        }]
    );
    // No timer run, but input after the deadline resumes anyway.
    assert_eq!(
        c.handle_input(at(810), &InputMessage::Text { text: "y".into() }),
        Outcome::Accepted
    );
    assert_eq!(drain(&mut c), [InputEvent::Text("y".into())]);
    let events: Vec<_> = std::iter::from_fn(|| c.poll_gate_event()).collect();
    assert_eq!(
        events,
        [
            GateEvent::Resumed,
            GateEvent::Stopped(StopReason::LocalInput),
            GateEvent::Resumed
        ]
    );
}

#[test]
fn special_sequences_expand_and_ctrl_alt_del_asks_for_secure_attention() {
    let now = Instant::now();
    let mut c = controller(GateConfig::default());
    c.grant();
    c.handle_input(now, &InputMessage::Special(SpecialKey::CtrlAltDel));
    c.handle_input(now, &InputMessage::Special(SpecialKey::Henkan));
    assert_eq!(
        drain(&mut c),
        [
            InputEvent::SecureAttention,
            InputEvent::Key {
                keysym: Keysym::HENKAN_MODE,
                pressed: true
            },
            InputEvent::Key {
                keysym: Keysym::HENKAN_MODE,
                pressed: false
            },
        ]
    );
    assert_eq!(c.held_keys().count(), 0);
}

#[test]
fn held_keys_are_bounded_and_unknown_keys_dropped() {
    let now = Instant::now();
    let mut c = controller(GateConfig::default());
    c.grant();
    assert_eq!(
        c.handle_input(now, &key("Unidentified", None, true)),
        Outcome::UnknownKey
    );
    for i in 0..MAX_HELD_KEYS {
        let code = format!("Fake{i}");
        let m = InputMessage::Key(KeyInput::new(code, Some(0x1000 + i as u32), true));
        assert_eq!(c.handle_input(now, &m), Outcome::Accepted);
    }
    let one_more = InputMessage::Key(KeyInput::new("Another", Some(0x61), true));
    assert_eq!(c.handle_input(now, &one_more), Outcome::TooManyKeysHeld);
    c.handle_input(now, &InputMessage::ReleaseAll);
    let events = drain(&mut c);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, InputEvent::Key { pressed: false, .. }))
            .count(),
        MAX_HELD_KEYS
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Input(InputMessage),
        Inject,
        Grant,
        Revoke,
        Pause,
        Resume,
        ViewOnly,
        Local,
        Lost,
        Wait(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let codes = prop::sample::select(vec!["ShiftLeft", "ControlLeft", "KeyA", "KeyB", ""]);
        let syms = prop::sample::select(vec![None, Some('a'), Some('A'), Some('b')]);
        let buttons = prop::sample::select(MouseButton::ALL.to_vec());
        prop_oneof![
            4 => (codes, syms, any::<bool>()).prop_map(|(c, s, p)| Op::Input(key(c, s, p))),
            2 => (buttons, any::<bool>(), -50i32..700).prop_map(|(button, pressed, x)| {
                Op::Input(InputMessage::PointerButton { button, pressed, position: Point::new(x, 10) })
            }),
            1 => prop::sample::select(SpecialKey::ALL.to_vec()).prop_map(|k| Op::Input(InputMessage::Special(k))),
            1 => Just(Op::Input(InputMessage::ReleaseAll)),
            3 => Just(Op::Inject),
            1 => Just(Op::Grant),
            1 => Just(Op::Revoke),
            1 => Just(Op::Pause),
            1 => Just(Op::Resume),
            1 => Just(Op::ViewOnly),
            1 => Just(Op::Local),
            1 => Just(Op::Lost),
            1 => (0u64..3000).prop_map(Op::Wait),
        ]
    }

    /// What a real keyboard and mouse would be left in.
    #[derive(Default)]
    struct Host {
        keys: Vec<Keysym>,
        buttons: Vec<MouseButton>,
    }

    impl Host {
        fn apply(&mut self, e: &InputEvent) -> Result<(), TestCaseError> {
            match e {
                InputEvent::Key {
                    keysym,
                    pressed: true,
                } if !self.keys.contains(keysym) => self.keys.push(*keysym),
                InputEvent::Key {
                    keysym,
                    pressed: false,
                } => {
                    prop_assert!(
                        self.keys.contains(keysym),
                        "release of {keysym:?}, which is not down"
                    );
                    self.keys.retain(|k| k != keysym);
                }
                InputEvent::Button {
                    button,
                    pressed: true,
                } => {
                    prop_assert!(!self.buttons.contains(button), "double press of {button:?}");
                    self.buttons.push(*button);
                }
                InputEvent::Button {
                    button,
                    pressed: false,
                } => {
                    prop_assert!(
                        self.buttons.contains(button),
                        "release of {button:?}, which is not down"
                    );
                    self.buttons.retain(|b| b != button);
                }
                _ => {}
            }
            Ok(())
        }
    }

    proptest! {
        /// Whatever the viewer sends and whatever the host's user does, the
        /// host never sees an unpaired release, only releases come out while
        /// control is stopped, and after the session ends nothing is down.
        #[test]
        fn nothing_stays_stuck(ops in prop::collection::vec(op(), 0..80)) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut c = controller(GateConfig { local_takeback: LocalTakeback::Suspend { grace: Duration::from_millis(1000) } });
            let mut host = Host::default();
            for op in ops {
                let inject = matches!(op, Op::Inject);
                match op {
                    Op::Input(m) => { c.handle_input(now, &m); }
                    Op::Inject => {}
                    Op::Grant => c.grant(),
                    Op::Revoke => c.revoke(RevokeCause::User),
                    Op::Pause => c.pause(),
                    Op::Resume => c.resume(),
                    Op::ViewOnly => c.set_view_only(),
                    Op::Local => c.handle_local_activity(now),
                    Op::Lost => c.connection_lost(),
                    Op::Wait(ms) => { now += Duration::from_millis(ms); c.handle_timeout(now); }
                }
                let stopped = c.state() != GateState::Controlling;
                if inject || stopped {
                    for e in drain(&mut c) {
                        if stopped {
                            prop_assert!(
                                matches!(e, InputEvent::Key { pressed: false, .. } | InputEvent::Button { pressed: false, .. }),
                                "{e:?} injected while {:?}", c.state()
                            );
                        }
                        host.apply(&e)?;
                    }
                }
            }
            c.end();
            for e in drain(&mut c) {
                host.apply(&e)?;
            }
            prop_assert!(host.keys.is_empty(), "stuck keys {:?}", host.keys);
            prop_assert!(host.buttons.is_empty(), "stuck buttons {:?}", host.buttons);
        }
    }
}

#[test]
fn two_codes_with_one_keysym_release_once() {
    // Two physical keys that produce the same keysym are one key down on the
    // host: releasing both (or ReleaseAll) must release it exactly once.
    let mut c = controller(GateConfig::default());
    c.grant();
    let now = Instant::now();
    for code in ["KeyA", "Digit1"] {
        c.handle_input(
            now,
            &InputMessage::Key(KeyInput {
                code: code.into(),
                keysym: Some(u32::from('a')),
                pressed: true,
                repeat: false,
            }),
        );
    }
    c.handle_input(now, &InputMessage::ReleaseAll);
    let releases = std::iter::from_fn(|| c.poll_event())
        .filter(|e| matches!(e, InputEvent::Key { pressed: false, .. }))
        .count();
    assert_eq!(releases, 1);
}
