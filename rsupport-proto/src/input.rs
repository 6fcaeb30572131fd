//! Input channel: pointer, buttons, wheel, keys, committed text and named
//! special sequences, sent by the viewer that holds control to the host.
//!
//! Positions are absolute, in the coordinates of the shared frame the viewer
//! sees (the host maps them onto its monitors and clamps them to the shared
//! area). Keys carry both the physical key (a DOM `KeyboardEvent.code`
//! string) and the keysym the sender's layout produced, so the host can pick
//! whichever its platform needs.

use crate::common::Point;
use crate::error::DecodeError;
use crate::limits::{MAX_INPUT_TEXT, MAX_KEY_CODE};
use crate::pb::{self, input_message::Body};
use crate::wire::{check_str, required, wire_enum, Wire};

/// Largest wheel delta in one message, per axis, in 1/120ths of a notch
/// (100 notches). Bounds how many wheel clicks one message can make a host
/// inject.
pub const MAX_WHEEL_DELTA: i32 = 120 * 100;

/// Wheel units per notch (the Windows `WHEEL_DELTA` convention).
pub const WHEEL_NOTCH: i32 = 120;

wire_enum! {
    /// A mouse button.
    pub enum MouseButton => MouseButton {
        /// Primary button.
        Left => Left,
        /// Middle button (wheel click).
        Middle => Middle,
        /// Secondary button.
        Right => Right,
        /// "Back" side button (X1).
        Back => Back,
        /// "Forward" side button (X2).
        Forward => Forward,
    }
}

wire_enum! {
    /// A named sequence the sender's own machine would intercept, so it
    /// travels by name and the host performs it.
    pub enum SpecialKey => SpecialKey {
        /// Ctrl+Alt+Del: secure attention where the platform has it, the plain
        /// combination otherwise.
        CtrlAltDel => CtrlAltDel,
        /// Alt+Hankaku/Zenkaku (IME on/off on Japanese Windows).
        AltHankakuZenkaku => AltHankakuZenkaku,
        /// The Hankaku/Zenkaku key alone.
        HankakuZenkaku => HankakuZenkaku,
        /// Henkan (convert).
        Henkan => Henkan,
        /// Muhenkan (no convert).
        Muhenkan => Muhenkan,
        /// Katakana/Hiragana (kana mode).
        KatakanaHiragana => KatakanaHiragana,
        /// Eisu (alphanumeric mode).
        Eisu => Eisu,
        /// The Windows / Super key alone.
        Super => Super,
        /// Alt+Tab.
        AltTab => AltTab,
        /// Print Screen.
        PrintScreen => PrintScreen,
        /// Lock the host's screen.
        LockScreen => LockScreen,
    }
}

/// One input message.
///
/// `Debug` hides keystrokes (key codes, keysyms, text): they never reach logs.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputMessage {
    /// Move the pointer to an absolute position in the shared frame.
    PointerMove {
        /// Target position.
        position: Point,
    },
    /// Press or release a button at a position.
    PointerButton {
        /// Which button.
        button: MouseButton,
        /// Pressed (true) or released (false).
        pressed: bool,
        /// Where, in the shared frame.
        position: Point,
    },
    /// Wheel movement.
    Wheel(WheelDelta),
    /// A key going down or up.
    Key(KeyInput),
    /// Text committed by the sender's input method (e.g. Japanese from an
    /// IME) or pasted; at most [`MAX_INPUT_TEXT`] bytes.
    Text {
        /// The committed text.
        text: String,
    },
    /// Press and release a named sequence.
    Special(SpecialKey),
    /// Release every key and button the sender holds.
    ReleaseAll,
}

/// Wheel movement in 1/120ths of a notch ([`WHEEL_NOTCH`] = one notch), so
/// touchpads can send fine-grained scrolling. Each axis is within
/// ±[`MAX_WHEEL_DELTA`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WheelDelta {
    /// Horizontal; positive scrolls right.
    pub dx: i32,
    /// Vertical; positive scrolls down.
    pub dy: i32,
}

/// A key going down or up.
///
/// At least one of `code` and `keysym` is set; a decoder refuses a key with
/// neither. `Debug` hides which key it is.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyInput {
    /// Physical key as a DOM `KeyboardEvent.code` string such as `"KeyA"`,
    /// `"IntlYen"` or `"Lang1"` (ASCII letters and digits, at most
    /// [`MAX_KEY_CODE`] bytes); empty when the sender could not tell.
    pub code: String,
    /// X11 keysym the sender's layout produced; `None` when unknown.
    pub keysym: Option<u32>,
    /// Pressed (true) or released (false).
    pub pressed: bool,
    /// An auto-repeat press.
    pub repeat: bool,
}

impl KeyInput {
    /// A fresh (non-repeat) key press or release.
    pub fn new(code: impl Into<String>, keysym: Option<u32>, pressed: bool) -> Self {
        KeyInput {
            code: code.into(),
            keysym,
            pressed,
            repeat: false,
        }
    }
}

impl std::fmt::Debug for KeyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyInput")
            .field("code", &"<redacted>")
            .field("keysym", &"<redacted>")
            .field("pressed", &self.pressed)
            .field("repeat", &self.repeat)
            .finish()
    }
}

impl std::fmt::Debug for InputMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputMessage::PointerMove { position } => f
                .debug_struct("PointerMove")
                .field("position", position)
                .finish(),
            InputMessage::PointerButton {
                button,
                pressed,
                position,
            } => f
                .debug_struct("PointerButton")
                .field("button", button)
                .field("pressed", pressed)
                .field("position", position)
                .finish(),
            InputMessage::Wheel(w) => f.debug_tuple("Wheel").field(w).finish(),
            InputMessage::Key(k) => f.debug_tuple("Key").field(k).finish(),
            InputMessage::Text { text } => write!(f, "Text {{ <{} bytes> }}", text.len()),
            InputMessage::Special(k) => f.debug_tuple("Special").field(k).finish(),
            InputMessage::ReleaseAll => f.write_str("ReleaseAll"),
        }
    }
}

fn check_point(field: &'static str, p: Option<pb::Point>) -> Result<Point, DecodeError> {
    Point::from_pb(required(field, p)?)
}

fn check_wheel(field: &'static str, delta: i32) -> Result<i32, DecodeError> {
    if (-MAX_WHEEL_DELTA..=MAX_WHEEL_DELTA).contains(&delta) {
        Ok(delta)
    } else {
        Err(DecodeError::Invalid {
            field,
            reason: "wheel delta over 100 notches",
        })
    }
}

fn check_key(k: pb::Key) -> Result<KeyInput, DecodeError> {
    check_str("key.code", &k.code, MAX_KEY_CODE)?;
    if !k.code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(DecodeError::Invalid {
            field: "key.code",
            reason: "not a DOM key code (ASCII letters and digits)",
        });
    }
    let keysym = (k.keysym != 0).then_some(k.keysym);
    if k.code.is_empty() && keysym.is_none() {
        return Err(DecodeError::Invalid {
            field: "key",
            reason: "neither a key code nor a keysym",
        });
    }
    Ok(KeyInput {
        code: k.code,
        keysym,
        pressed: k.pressed,
        repeat: k.repeat,
    })
}

impl Wire for InputMessage {
    type Pb = pb::InputMessage;

    fn to_pb(&self) -> pb::InputMessage {
        let body = match self {
            InputMessage::PointerMove { position } => Body::PointerMove(pb::PointerMove {
                position: Some(position.to_pb()),
            }),
            InputMessage::PointerButton {
                button,
                pressed,
                position,
            } => Body::PointerButton(pb::PointerButton {
                button: button.to_wire(),
                pressed: *pressed,
                position: Some(position.to_pb()),
            }),
            InputMessage::Wheel(w) => Body::Wheel(pb::Wheel {
                delta_y: w.dy,
                delta_x: w.dx,
            }),
            InputMessage::Key(k) => Body::Key(pb::Key {
                code: k.code.clone(),
                keysym: k.keysym.unwrap_or(0),
                pressed: k.pressed,
                repeat: k.repeat,
            }),
            InputMessage::Text { text } => Body::Text(pb::Text { text: text.clone() }),
            InputMessage::Special(key) => Body::Special(pb::SpecialSequence { key: key.to_wire() }),
            InputMessage::ReleaseAll => Body::ReleaseAll(pb::ReleaseAll {}),
        };
        pb::InputMessage { body: Some(body) }
    }

    fn from_pb(pb: pb::InputMessage) -> Result<Self, DecodeError> {
        Ok(match required("input.body", pb.body)? {
            Body::PointerMove(m) => InputMessage::PointerMove {
                position: check_point("pointer_move.position", m.position)?,
            },
            Body::PointerButton(b) => InputMessage::PointerButton {
                button: MouseButton::from_wire("pointer_button.button", b.button)?,
                pressed: b.pressed,
                position: check_point("pointer_button.position", b.position)?,
            },
            Body::Wheel(w) => InputMessage::Wheel(WheelDelta {
                dx: check_wheel("wheel.delta_x", w.delta_x)?,
                dy: check_wheel("wheel.delta_y", w.delta_y)?,
            }),
            Body::Key(k) => InputMessage::Key(check_key(k)?),
            Body::Text(t) => {
                check_str("text.text", &t.text, MAX_INPUT_TEXT)?;
                InputMessage::Text { text: t.text }
            }
            Body::Special(s) => InputMessage::Special(SpecialKey::from_wire("special.key", s.key)?),
            Body::ReleaseAll(pb::ReleaseAll {}) => InputMessage::ReleaseAll,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::common::tests::point;
    use crate::wire::strategies::*;
    use proptest::prelude::*;

    fn key_code() -> impl Strategy<Value = String> {
        "[A-Za-z0-9]{0,32}"
    }

    fn key_input() -> impl Strategy<Value = KeyInput> {
        (key_code(), any::<u32>(), any::<bool>(), any::<bool>())
            .prop_filter("a key needs a code or a keysym", |(code, sym, _, _)| {
                !code.is_empty() || *sym != 0
            })
            .prop_map(|(code, sym, pressed, repeat)| KeyInput {
                code,
                keysym: (sym != 0).then_some(sym),
                pressed,
                repeat,
            })
    }

    fn wheel() -> impl Strategy<Value = WheelDelta> {
        let axis = -MAX_WHEEL_DELTA..=MAX_WHEEL_DELTA;
        (axis.clone(), axis).prop_map(|(dx, dy)| WheelDelta { dx, dy })
    }

    pub(crate) fn input_message() -> impl Strategy<Value = InputMessage> {
        prop_oneof![
            point().prop_map(|position| InputMessage::PointerMove { position }),
            (one_of(MouseButton::ALL), any::<bool>(), point()).prop_map(
                |(button, pressed, position)| InputMessage::PointerButton {
                    button,
                    pressed,
                    position
                }
            ),
            wheel().prop_map(InputMessage::Wheel),
            key_input().prop_map(InputMessage::Key),
            text(64).prop_map(|text| InputMessage::Text { text }),
            one_of(SpecialKey::ALL).prop_map(InputMessage::Special),
            Just(InputMessage::ReleaseAll),
        ]
    }

    proptest! {
        #[test]
        fn input_round_trips(m in input_message()) {
            assert_round_trip(&m);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(b in bytes(256)) {
            let _ = crate::wire::decode::<InputMessage>(b);
        }
    }

    #[test]
    fn japanese_and_emoji_text_round_trips() {
        assert_round_trip(&InputMessage::Text {
            text: "日本語😀".into(),
        });
    }

    #[test]
    fn over_long_text_is_refused() {
        let m = InputMessage::Text {
            text: "語".repeat(MAX_INPUT_TEXT / 3 + 1),
        };
        assert!(matches!(
            InputMessage::from_pb(m.to_pb()),
            Err(DecodeError::TooLong {
                field: "text.text",
                ..
            })
        ));
    }

    #[test]
    fn key_code_rules() {
        let key = |code: &str, keysym: u32| pb::InputMessage {
            body: Some(Body::Key(pb::Key {
                code: code.into(),
                keysym,
                pressed: true,
                repeat: false,
            })),
        };
        assert!(matches!(
            InputMessage::from_pb(key(&"K".repeat(MAX_KEY_CODE + 1), 0x61)),
            Err(DecodeError::TooLong {
                field: "key.code",
                ..
            })
        ));
        assert!(matches!(
            InputMessage::from_pb(key("Key A", 0x61)),
            Err(DecodeError::Invalid {
                field: "key.code",
                ..
            })
        ));
        assert!(matches!(
            InputMessage::from_pb(key("", 0)),
            Err(DecodeError::Invalid { field: "key", .. })
        ));
        // A keysym alone (e.g. from a virtual keyboard) is enough.
        assert_eq!(
            InputMessage::from_pb(key("", 0x61)),
            Ok(InputMessage::Key(KeyInput::new("", Some(0x61), true)))
        );
    }

    #[test]
    fn wheel_is_bounded() {
        let wheel = |delta_y: i32| pb::InputMessage {
            body: Some(Body::Wheel(pb::Wheel {
                delta_y,
                delta_x: 0,
            })),
        };
        assert!(InputMessage::from_pb(wheel(MAX_WHEEL_DELTA)).is_ok());
        assert!(InputMessage::from_pb(wheel(-MAX_WHEEL_DELTA)).is_ok());
        assert!(matches!(
            InputMessage::from_pb(wheel(i32::MIN)),
            Err(DecodeError::Invalid {
                field: "wheel.delta_y",
                ..
            })
        ));
    }

    #[test]
    fn missing_position_and_button_are_refused() {
        assert_eq!(
            InputMessage::from_pb(pb::InputMessage {
                body: Some(Body::PointerMove(pb::PointerMove { position: None })),
            }),
            Err(DecodeError::MissingField("pointer_move.position"))
        );
        assert_eq!(
            InputMessage::from_pb(pb::InputMessage {
                body: Some(Body::PointerButton(pb::PointerButton {
                    button: 0,
                    pressed: true,
                    position: Some(pb::Point { x: 1, y: 2 }),
                })),
            }),
            Err(DecodeError::MissingField("pointer_button.button"))
        );
        assert_eq!(
            InputMessage::from_pb(pb::InputMessage {
                body: Some(Body::Special(pb::SpecialSequence { key: 77 })),
            }),
            Err(DecodeError::InvalidEnum {
                field: "special.key",
                value: 77
            })
        );
    }

    #[test]
    fn debug_hides_keystrokes() {
        let text = format!(
            "{:?}",
            InputMessage::Text {
                text: "hunter2".into()
            }
        );
        assert!(!text.contains("hunter2"), "{text}");
        let key = format!(
            "{:?}",
            InputMessage::Key(KeyInput::new("KeyH", Some(0x68), true))
        );
        assert!(!key.contains("KeyH") && !key.contains("104"), "{key}");
    }

    #[test]
    fn empty_body_is_refused() {
        assert_eq!(
            InputMessage::from_pb(pb::InputMessage { body: None }),
            Err(DecodeError::MissingField("input.body"))
        );
    }
}
