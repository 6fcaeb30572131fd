//! The XTEST injector against a real X server (a private Xvfb per test):
//! wire messages go through the controller and the injector, and an X
//! client window asserts on what it received.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
#![cfg(feature = "x11")]

use std::time::{Duration, Instant};

use rsupport_input::inject::X11Injector;
use rsupport_input::{
    ControlGate, CoordinateMapper, GateConfig, InputController, Monitor, Outcome,
};
use rsupport_proto::control::RevokeCause;
use rsupport_proto::input::{InputMessage, KeyInput, MouseButton, SpecialKey, WheelDelta};
use rsupport_proto::{Point, Rect};
use rsupport_testkit::x11::{keysyms_of, typed, Observer, Seen};
use rsupport_testkit::Xvfb;

const XK_SHIFT_L: u32 = 0xffe1;
const XK_CONTROL_L: u32 = 0xffe3;
const XK_ALT_L: u32 = 0xffe9;
const XK_DELETE: u32 = 0xffff;
const XK_HENKAN: u32 = 0xff23;
const XK_MUHENKAN: u32 = 0xff22;
const XK_HIRAGANA_KATAKANA: u32 = 0xff27;
const XK_EISU_TOGGLE: u32 = 0xff30;
const XK_ZENKAKU_HANKAKU: u32 = 0xff2a;

struct Rig {
    observer: Observer,
    input: InputController,
    injector: X11Injector,
    // Last: the server outlives the clients.
    _xvfb: Xvfb,
}

impl Rig {
    /// Xvfb 1920×1080 shared as a half-size 960×540 frame, control granted.
    fn start() -> Rig {
        let xvfb = rsupport_testkit::x11::start_xvfb();
        let observer = Observer::open(&xvfb.display());
        let injector =
            X11Injector::connect(Some(&xvfb.display())).expect("XTEST injector connects");
        let monitors = vec![Monitor::new(Rect::new(0, 0, 1920, 1080), 1.0)];
        let mapper = CoordinateMapper::for_monitor(monitors, 0, 960, 540).unwrap();
        let mut input = InputController::new(ControlGate::new(GateConfig::default()), mapper);
        input.grant();
        Rig {
            observer,
            input,
            injector,
            _xvfb: xvfb,
        }
    }

    fn send(&mut self, msgs: &[InputMessage]) {
        for m in msgs {
            assert_eq!(
                self.input.handle_input(Instant::now(), m),
                Outcome::Accepted,
                "{m:?}"
            );
        }
        self.input.inject_pending(&mut self.injector).unwrap();
    }
}

fn key(code: &str, keysym: Option<u32>, pressed: bool) -> InputMessage {
    InputMessage::Key(KeyInput::new(code, keysym, pressed))
}

fn tap(code: &str, keysym: Option<u32>) -> [InputMessage; 2] {
    [key(code, keysym, true), key(code, keysym, false)]
}

#[test]
fn pointer_moves_land_on_mapped_desktop_coordinates() {
    let mut rig = Rig::start();
    rig.send(&[
        InputMessage::PointerMove {
            position: Point::new(100, 50),
        },
        InputMessage::PointerMove {
            position: Point::new(959, 539),
        },
        // Far outside the frame: clamped to the monitor's corner.
        InputMessage::PointerMove {
            position: Point::new(-4000, 10),
        },
    ]);
    assert_eq!(
        rig.observer.take(3),
        [
            Seen::Motion { x: 201, y: 101 },
            Seen::Motion { x: 1919, y: 1079 },
            Seen::Motion { x: 0, y: 21 }
        ]
    );
}

#[test]
fn every_button_clicks() {
    let mut rig = Rig::start();
    let at = Point::new(300, 200);
    let mut msgs = vec![InputMessage::PointerMove { position: at }];
    for button in [
        MouseButton::Left,
        MouseButton::Middle,
        MouseButton::Right,
        MouseButton::Back,
        MouseButton::Forward,
    ] {
        for pressed in [true, false] {
            msgs.push(InputMessage::PointerButton {
                button,
                pressed,
                position: at,
            });
        }
    }
    rig.send(&msgs);
    let clicks: Vec<Seen> = rig
        .observer
        .until(|s| *s == Seen::ButtonRelease(9))
        .into_iter()
        .filter(|s| !matches!(s, Seen::Motion { .. }))
        .collect();
    let expected: Vec<Seen> = [1, 2, 3, 8, 9]
        .into_iter()
        .flat_map(|b| [Seen::ButtonPress(b), Seen::ButtonRelease(b)])
        .collect();
    assert_eq!(clicks, expected);
}

#[test]
fn wheel_scrolls_in_whole_notches_and_keeps_fine_remainders() {
    let mut rig = Rig::start();
    rig.send(&[
        InputMessage::PointerMove {
            position: Point::new(10, 10),
        },
        InputMessage::Wheel(WheelDelta { dx: 0, dy: 240 }), // 2 notches down
        InputMessage::Wheel(WheelDelta { dx: 0, dy: 60 }),  // half a notch: nothing yet
        InputMessage::Wheel(WheelDelta { dx: 0, dy: 60 }),  // the other half: 1 down
        InputMessage::Wheel(WheelDelta { dx: -120, dy: -120 }), // 1 up, 1 left
    ]);
    let buttons: Vec<u8> = rig
        .observer
        .until(|s| *s == Seen::ButtonRelease(6))
        .into_iter()
        .filter_map(|s| match s {
            Seen::ButtonPress(b) => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(buttons, [5, 5, 5, 4, 6]);
}

#[test]
fn keys_arrive_as_the_operators_keysyms() {
    let mut rig = Rig::start();
    let mut msgs = Vec::new();
    msgs.extend(tap("KeyA", Some(u32::from('a'))));
    // Shift+A: the observer must see 'A' with Shift held.
    msgs.push(key("ShiftLeft", Some(XK_SHIFT_L), true));
    msgs.extend(tap("KeyA", Some(u32::from('A'))));
    msgs.push(key("ShiftLeft", Some(XK_SHIFT_L), false));
    // A JIS operator's Shift+2 is '"' — typed exactly, not the US '@'.
    msgs.push(key("ShiftLeft", Some(XK_SHIFT_L), true));
    msgs.extend(tap("Digit2", Some(u32::from('"'))));
    msgs.push(key("ShiftLeft", Some(XK_SHIFT_L), false));
    rig.send(&msgs);
    let seen = rig
        .observer
        .until(|s| *s == Seen::KeyRelease { keysym: XK_SHIFT_L });
    let seen2 = rig
        .observer
        .until(|s| *s == Seen::KeyRelease { keysym: XK_SHIFT_L });
    assert_eq!(typed(&seen), [u32::from('a'), u32::from('A')]);
    assert!(seen.contains(&Seen::KeyPress {
        keysym: u32::from('A'),
        shift: true
    }));
    assert_eq!(typed(&seen2), [u32::from('"')]);
}

#[test]
fn jis_ime_keys_map_from_physical_codes() {
    let mut rig = Rig::start();
    let mut msgs = Vec::new();
    // No keysym (the operator's own IME swallowed the key): the code decides.
    for code in ["Convert", "NonConvert", "KanaMode", "Lang2"] {
        msgs.extend(tap(code, None));
    }
    rig.send(&msgs);
    let seen = rig.observer.until(|s| {
        *s == Seen::KeyRelease {
            keysym: XK_EISU_TOGGLE,
        }
    });
    assert_eq!(
        typed(&seen),
        [XK_HENKAN, XK_MUHENKAN, XK_HIRAGANA_KATAKANA, XK_EISU_TOGGLE]
    );
}

#[test]
fn special_sequences_press_and_release_in_order() {
    let mut rig = Rig::start();
    rig.send(&[
        InputMessage::Special(SpecialKey::CtrlAltDel),
        InputMessage::Special(SpecialKey::AltHankakuZenkaku),
    ]);
    let seen = rig.observer.take(10);
    let expected = [
        Seen::KeyPress {
            keysym: XK_CONTROL_L,
            shift: false,
        },
        Seen::KeyPress {
            keysym: XK_ALT_L,
            shift: false,
        },
        Seen::KeyPress {
            keysym: XK_DELETE,
            shift: false,
        },
        Seen::KeyRelease { keysym: XK_DELETE },
        Seen::KeyRelease { keysym: XK_ALT_L },
        Seen::KeyRelease {
            keysym: XK_CONTROL_L,
        },
        Seen::KeyPress {
            keysym: XK_ALT_L,
            shift: false,
        },
        Seen::KeyPress {
            keysym: XK_ZENKAKU_HANKAKU,
            shift: false,
        },
        Seen::KeyRelease {
            keysym: XK_ZENKAKU_HANKAKU,
        },
        Seen::KeyRelease { keysym: XK_ALT_L },
    ];
    assert_eq!(seen, expected);
    assert!(rig.observer.keys_down().is_empty());
}

#[test]
fn committed_text_types_japanese_emoji_and_ascii() {
    let mut rig = Rig::start();
    let before = rig.observer.keyboard_mapping();
    let text = "日本語😀 Hello, World! ¥ 🎌";
    rig.send(&[InputMessage::Text { text: text.into() }]);
    let last = *keysyms_of(text).last().unwrap();
    let seen = rig
        .observer
        .until(|s| *s == Seen::KeyRelease { keysym: last });
    assert_eq!(typed(&seen), keysyms_of(text));
    // Dropping the injector restores the spare keycodes it remapped.
    drop(rig.injector);
    assert_eq!(rig.observer.keyboard_mapping(), before);
    assert!(rig.observer.keys_down().is_empty());
}

#[test]
fn long_text_reuses_spare_keycodes_without_mixing_up_characters() {
    let mut rig = Rig::start();
    // More distinct non-keyboard characters than there are spares.
    let text: String = ('あ'..='ん').collect();
    rig.send(&[InputMessage::Text { text: text.clone() }]);
    let last = *keysyms_of(&text).last().unwrap();
    let seen = rig
        .observer
        .until(|s| *s == Seen::KeyRelease { keysym: last });
    assert_eq!(typed(&seen), keysyms_of(&text));
}

#[test]
fn revoking_control_releases_held_keys_and_buttons_on_the_server() {
    let mut rig = Rig::start();
    rig.send(&[
        key("ControlLeft", Some(XK_CONTROL_L), true),
        key("ShiftLeft", Some(XK_SHIFT_L), true),
        InputMessage::PointerButton {
            button: MouseButton::Left,
            pressed: true,
            position: Point::new(5, 5),
        },
    ]);
    rig.observer.until(|s| *s == Seen::ButtonPress(1));
    assert_eq!(rig.observer.keys_down().len(), 2, "Ctrl and Shift are down");
    rig.input.revoke(RevokeCause::User);
    rig.input.inject_pending(&mut rig.injector).unwrap();
    let seen = rig.observer.take(3);
    assert_eq!(
        seen,
        [
            Seen::KeyRelease { keysym: XK_SHIFT_L },
            Seen::KeyRelease {
                keysym: XK_CONTROL_L
            },
            Seen::ButtonRelease(1)
        ]
    );
    assert!(rig.observer.keys_down().is_empty(), "no stuck Ctrl");
}

#[test]
fn view_only_and_paused_sessions_inject_nothing() {
    let mut rig = Rig::start();
    rig.input.set_view_only();
    let attempts = [
        InputMessage::PointerMove {
            position: Point::new(400, 400),
        },
        key("KeyX", Some(u32::from('x')), true),
        InputMessage::Text {
            text: "secret".into(),
        },
        InputMessage::Special(SpecialKey::CtrlAltDel),
    ];
    for m in &attempts {
        assert!(matches!(
            rig.input.handle_input(Instant::now(), m),
            Outcome::Gated(_)
        ));
    }
    rig.input.grant();
    rig.input.pause();
    for m in &attempts {
        assert!(matches!(
            rig.input.handle_input(Instant::now(), m),
            Outcome::Gated(_)
        ));
    }
    rig.input.inject_pending(&mut rig.injector).unwrap();
    // A sentinel after resuming must be the first thing the window sees.
    rig.input.resume();
    rig.send(&[InputMessage::PointerMove {
        position: Point::new(3, 3),
    }]);
    assert_eq!(
        rig.observer.next(Duration::from_secs(10)),
        Some(Seen::Motion { x: 7, y: 7 })
    );
    assert!(rig.observer.keys_down().is_empty());
}
