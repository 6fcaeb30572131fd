//! Key maps: DOM physical key codes (including the JIS keys) to keysyms, and
//! named special sequences to key strokes.
//!
//! The wire carries both the physical key (`KeyboardEvent.code`) and the
//! keysym the operator's layout produced. The keysym wins when present —
//! it is what the operator meant, whatever the host's layout — and the code
//! is the fallback for keys the operator's browser or IME could not name
//! (an IME swallowing Henkan reports key `"Process"`, keysym 0).

use rsupport_proto::input::{KeyInput, SpecialKey};

use crate::keysym::Keysym;

/// The keysym to inject for a wire key: the sender's keysym when set,
/// otherwise the unshifted keysym of its physical code.
pub fn resolve_key(key: &KeyInput) -> Option<Keysym> {
    key.keysym
        .map(Keysym)
        .filter(|k| *k != Keysym::NO_SYMBOL)
        .or_else(|| keysym_for_code(&key.code))
}

/// The unshifted keysym of a DOM `KeyboardEvent.code` on a PC keyboard.
///
/// JIS keys follow the X11 `jp` layout: `IntlYen` and `IntlRo` type
/// backslash, `Convert`/`NonConvert` are Henkan/Muhenkan, `KanaMode` and
/// `Lang1` (the Mac かな key) are Hiragana_Katakana, `Lang2` (Mac 英数) is
/// Eisu_toggle. The Hankaku/Zenkaku key reports code `Backquote` in
/// browsers, so it arrives with its keysym rather than through this table.
pub fn keysym_for_code(code: &str) -> Option<Keysym> {
    if let Some(letter) = code.strip_prefix("Key") {
        return single_ascii(letter, |b| b.is_ascii_uppercase())
            .map(|b| Keysym(u32::from(b.to_ascii_lowercase())));
    }
    if let Some(digit) = code.strip_prefix("Digit") {
        return single_ascii(digit, |b| b.is_ascii_digit()).map(|b| Keysym(u32::from(b)));
    }
    if let Some(n) = code
        .strip_prefix("Numpad")
        .and_then(|d| single_ascii(d, |b| b.is_ascii_digit()))
    {
        return Some(Keysym(Keysym::KP_0.0 + u32::from(n - b'0')));
    }
    if let Some(n) = code.strip_prefix('F').and_then(|n| n.parse::<u32>().ok()) {
        return (1..=24).contains(&n).then(|| Keysym(Keysym::F1.0 + n - 1));
    }
    let ascii = |c: char| Some(Keysym(u32::from(c)));
    match code {
        "Backquote" => ascii('`'),
        "Minus" => ascii('-'),
        "Equal" => ascii('='),
        "BracketLeft" => ascii('['),
        "BracketRight" => ascii(']'),
        "Backslash" | "IntlYen" | "IntlRo" => ascii('\\'),
        "IntlBackslash" => ascii('<'),
        "Semicolon" => ascii(';'),
        "Quote" => ascii('\''),
        "Comma" => ascii(','),
        "Period" => ascii('.'),
        "Slash" => ascii('/'),
        "Space" => ascii(' '),
        "Enter" => Some(Keysym::RETURN),
        "Tab" => Some(Keysym::TAB),
        "Backspace" => Some(Keysym::BACKSPACE),
        "Escape" => Some(Keysym::ESCAPE),
        "CapsLock" => Some(Keysym::CAPS_LOCK),
        "ShiftLeft" => Some(Keysym::SHIFT_L),
        "ShiftRight" => Some(Keysym::SHIFT_R),
        "ControlLeft" => Some(Keysym::CONTROL_L),
        "ControlRight" => Some(Keysym::CONTROL_R),
        "AltLeft" => Some(Keysym::ALT_L),
        "AltRight" => Some(Keysym::ALT_R),
        // "OS*" is the pre-2017 Firefox name of the Meta keys.
        "MetaLeft" | "OSLeft" => Some(Keysym::SUPER_L),
        "MetaRight" | "OSRight" => Some(Keysym::SUPER_R),
        "ContextMenu" => Some(Keysym::MENU),
        "PrintScreen" => Some(Keysym::PRINT),
        "ScrollLock" => Some(Keysym::SCROLL_LOCK),
        "Pause" => Some(Keysym::PAUSE),
        "Insert" => Some(Keysym::INSERT),
        "Delete" => Some(Keysym::DELETE),
        "Home" => Some(Keysym::HOME),
        "End" => Some(Keysym::END),
        "PageUp" => Some(Keysym::PAGE_UP),
        "PageDown" => Some(Keysym::PAGE_DOWN),
        "ArrowLeft" => Some(Keysym::LEFT),
        "ArrowRight" => Some(Keysym::RIGHT),
        "ArrowUp" => Some(Keysym::UP),
        "ArrowDown" => Some(Keysym::DOWN),
        "NumLock" => Some(Keysym::NUM_LOCK),
        "NumpadDivide" => Some(Keysym::KP_DIVIDE),
        "NumpadMultiply" => Some(Keysym::KP_MULTIPLY),
        "NumpadSubtract" => Some(Keysym::KP_SUBTRACT),
        "NumpadAdd" => Some(Keysym::KP_ADD),
        "NumpadEnter" => Some(Keysym::KP_ENTER),
        "NumpadDecimal" => Some(Keysym::KP_DECIMAL),
        "NumpadEqual" => Some(Keysym::KP_EQUAL),
        "NumpadComma" => Some(Keysym::KP_SEPARATOR),
        // Japanese IME keys.
        "Convert" => Some(Keysym::HENKAN_MODE),
        "NonConvert" => Some(Keysym::MUHENKAN),
        "KanaMode" | "Lang1" => Some(Keysym::HIRAGANA_KATAKANA),
        "Lang2" => Some(Keysym::EISU_TOGGLE),
        "Lang3" => Some(Keysym::KATAKANA),
        "Lang4" => Some(Keysym::HIRAGANA),
        "Lang5" => Some(Keysym::ZENKAKU_HANKAKU),
        _ => None,
    }
}

fn single_ascii(s: &str, ok: impl Fn(u8) -> bool) -> Option<u8> {
    match s.as_bytes() {
        [b] if ok(*b) => Some(*b),
        _ => None,
    }
}

/// One step of a key sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyStroke {
    /// The key.
    pub keysym: Keysym,
    /// Down (true) or up (false).
    pub pressed: bool,
}

/// The plain key strokes of a special sequence: modifiers down in order,
/// the key tapped, modifiers up in reverse order.
///
/// For [`SpecialKey::CtrlAltDel`] this is the plain combination; injectors
/// with a real secure-attention path (Windows SAS) use that instead.
pub fn special_sequence(key: SpecialKey) -> Vec<KeyStroke> {
    let (mods, tap): (&[Keysym], Keysym) = match key {
        SpecialKey::CtrlAltDel => (&[Keysym::CONTROL_L, Keysym::ALT_L], Keysym::DELETE),
        SpecialKey::AltHankakuZenkaku => (&[Keysym::ALT_L], Keysym::ZENKAKU_HANKAKU),
        SpecialKey::HankakuZenkaku => (&[], Keysym::ZENKAKU_HANKAKU),
        SpecialKey::Henkan => (&[], Keysym::HENKAN_MODE),
        SpecialKey::Muhenkan => (&[], Keysym::MUHENKAN),
        SpecialKey::KatakanaHiragana => (&[], Keysym::HIRAGANA_KATAKANA),
        SpecialKey::Eisu => (&[], Keysym::EISU_TOGGLE),
        SpecialKey::Super => (&[], Keysym::SUPER_L),
        SpecialKey::AltTab => (&[Keysym::ALT_L], Keysym::TAB),
        SpecialKey::PrintScreen => (&[], Keysym::PRINT),
        SpecialKey::LockScreen => (&[Keysym::SUPER_L], Keysym(u32::from('l'))),
        // A special key added to the schema later: nothing rather than a guess.
        _ => return Vec::new(),
    };
    let down = mods.iter().map(|&keysym| KeyStroke {
        keysym,
        pressed: true,
    });
    let tap_strokes = [true, false].map(|pressed| KeyStroke {
        keysym: tap,
        pressed,
    });
    let up = mods.iter().rev().map(|&keysym| KeyStroke {
        keysym,
        pressed: false,
    });
    down.chain(tap_strokes).chain(up).collect()
}

/// A key name in [`key_chord`] that names no key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no key named {name:?}: use names like ctrl, alt, shift, super, enter, esc, tab, f5, up, a, 1, or DOM codes like ControlLeft, KeyC, ArrowUp")]
pub struct UnknownKeyName {
    /// The part of the chord that is not a key.
    pub name: String,
}

/// The DOM code of a key written as a person would type it: `ctrl`, `Alt`,
/// `shift`, `super`/`win`/`cmd`, `enter`/`return`, `esc`, `f5`, `up`,
/// `pgdn`, a single letter or digit, or a DOM code itself (`ControlLeft`,
/// `KeyC`, `ArrowUp`).
pub fn code_for_name(name: &str) -> Option<&'static str> {
    const NAMED: &[(&str, &str)] = &[
        ("ctrl", "ControlLeft"),
        ("control", "ControlLeft"),
        ("alt", "AltLeft"),
        ("option", "AltLeft"),
        ("altgr", "AltRight"),
        ("shift", "ShiftLeft"),
        ("super", "MetaLeft"),
        ("meta", "MetaLeft"),
        ("win", "MetaLeft"),
        ("windows", "MetaLeft"),
        ("cmd", "MetaLeft"),
        ("enter", "Enter"),
        ("return", "Enter"),
        ("esc", "Escape"),
        ("escape", "Escape"),
        ("tab", "Tab"),
        ("space", "Space"),
        ("backspace", "Backspace"),
        ("del", "Delete"),
        ("delete", "Delete"),
        ("ins", "Insert"),
        ("insert", "Insert"),
        ("home", "Home"),
        ("end", "End"),
        ("pgup", "PageUp"),
        ("pageup", "PageUp"),
        ("pgdn", "PageDown"),
        ("pagedown", "PageDown"),
        ("up", "ArrowUp"),
        ("down", "ArrowDown"),
        ("left", "ArrowLeft"),
        ("right", "ArrowRight"),
        ("menu", "ContextMenu"),
        ("capslock", "CapsLock"),
        ("printscreen", "PrintScreen"),
        ("print", "PrintScreen"),
        ("pause", "Pause"),
    ];
    const LETTERS: [&str; 26] = [
        "KeyA", "KeyB", "KeyC", "KeyD", "KeyE", "KeyF", "KeyG", "KeyH", "KeyI", "KeyJ", "KeyK",
        "KeyL", "KeyM", "KeyN", "KeyO", "KeyP", "KeyQ", "KeyR", "KeyS", "KeyT", "KeyU", "KeyV",
        "KeyW", "KeyX", "KeyY", "KeyZ",
    ];
    const DIGITS: [&str; 10] = [
        "Digit0", "Digit1", "Digit2", "Digit3", "Digit4", "Digit5", "Digit6", "Digit7", "Digit8",
        "Digit9",
    ];
    const FKEYS: [&str; 24] = [
        "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12", "F13", "F14",
        "F15", "F16", "F17", "F18", "F19", "F20", "F21", "F22", "F23", "F24",
    ];
    let lower = name.to_ascii_lowercase();
    if let Some((_, code)) = NAMED.iter().find(|(n, _)| *n == lower) {
        return Some(code);
    }
    if let [b] = lower.as_bytes() {
        if b.is_ascii_lowercase() {
            return LETTERS.get(usize::from(b - b'a')).copied();
        }
        if b.is_ascii_digit() {
            return DIGITS.get(usize::from(b - b'0')).copied();
        }
    }
    if let Some(n) = lower
        .strip_prefix('f')
        .and_then(|n| n.parse::<usize>().ok())
    {
        return n.checked_sub(1).and_then(|i| FKEYS.get(i)).copied();
    }
    // A DOM code given as is: any code this table knows.
    KNOWN_CODES.iter().find(|c| **c == name).copied()
}

/// DOM codes [`keysym_for_code`] names besides letters, digits and F keys.
const KNOWN_CODES: &[&str] = &[
    "Backquote",
    "Minus",
    "Equal",
    "BracketLeft",
    "BracketRight",
    "Backslash",
    "IntlYen",
    "IntlRo",
    "IntlBackslash",
    "Semicolon",
    "Quote",
    "Comma",
    "Period",
    "Slash",
    "Space",
    "Enter",
    "Tab",
    "Backspace",
    "Escape",
    "CapsLock",
    "ShiftLeft",
    "ShiftRight",
    "ControlLeft",
    "ControlRight",
    "AltLeft",
    "AltRight",
    "MetaLeft",
    "MetaRight",
    "ContextMenu",
    "PrintScreen",
    "ScrollLock",
    "Pause",
    "Insert",
    "Delete",
    "Home",
    "End",
    "PageUp",
    "PageDown",
    "ArrowLeft",
    "ArrowRight",
    "ArrowUp",
    "ArrowDown",
    "NumLock",
    "NumpadDivide",
    "NumpadMultiply",
    "NumpadSubtract",
    "NumpadAdd",
    "NumpadEnter",
    "NumpadDecimal",
    "NumpadEqual",
    "NumpadComma",
    "Convert",
    "NonConvert",
    "KanaMode",
    "Lang1",
    "Lang2",
    "Lang3",
    "Lang4",
    "Lang5",
    "KeyA",
    "KeyB",
    "KeyC",
    "KeyD",
    "KeyE",
    "KeyF",
    "KeyG",
    "KeyH",
    "KeyI",
    "KeyJ",
    "KeyK",
    "KeyL",
    "KeyM",
    "KeyN",
    "KeyO",
    "KeyP",
    "KeyQ",
    "KeyR",
    "KeyS",
    "KeyT",
    "KeyU",
    "KeyV",
    "KeyW",
    "KeyX",
    "KeyY",
    "KeyZ",
];

/// The key presses and releases of a chord written like `ctrl+c`,
/// `ctrl+alt+delete`, `shift+F5` or `Enter`: every key down in order, then
/// up in reverse order. Each part is a name [`code_for_name`] knows; the
/// result carries DOM codes only (the host maps them with its own layout).
pub fn key_chord(chord: &str) -> Result<Vec<KeyInput>, UnknownKeyName> {
    let codes = chord
        .split('+')
        .map(str::trim)
        .map(|part| {
            code_for_name(part).ok_or_else(|| UnknownKeyName {
                name: part.to_owned(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let down = codes.iter().map(|c| KeyInput::new(*c, None, true));
    let up = codes.iter().rev().map(|c| KeyInput::new(*c, None, false));
    Ok(down.chain(up).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chords_press_in_order_and_release_in_reverse() {
        let keys = key_chord("ctrl+c").unwrap();
        let seen: Vec<_> = keys.iter().map(|k| (k.code.as_str(), k.pressed)).collect();
        assert_eq!(
            seen,
            [
                ("ControlLeft", true),
                ("KeyC", true),
                ("KeyC", false),
                ("ControlLeft", false)
            ]
        );
        for chord in [
            "ctrl+alt+delete",
            "Shift+F5",
            "alt+tab",
            "Return",
            "up",
            "super+l",
            "ControlLeft+KeyC",
            "f24",
            "9",
        ] {
            let keys = key_chord(chord).unwrap();
            for k in &keys {
                assert!(resolve_key(k).is_some(), "{chord}: {} unmapped", k.code);
            }
        }
        assert_eq!(
            key_chord("ctrl+nope"),
            Err(UnknownKeyName {
                name: "nope".into()
            })
        );
        assert!(key_chord("f25").is_err() && key_chord("f0").is_err() && key_chord("").is_err());
    }

    #[test]
    fn jis_keys_map_to_ime_keysyms() {
        assert_eq!(keysym_for_code("Convert"), Some(Keysym::HENKAN_MODE));
        assert_eq!(keysym_for_code("NonConvert"), Some(Keysym::MUHENKAN));
        assert_eq!(keysym_for_code("KanaMode"), Some(Keysym::HIRAGANA_KATAKANA));
        assert_eq!(keysym_for_code("Lang1"), Some(Keysym::HIRAGANA_KATAKANA));
        assert_eq!(keysym_for_code("Lang2"), Some(Keysym::EISU_TOGGLE));
        assert_eq!(keysym_for_code("IntlYen"), Some(Keysym(0x5c)));
        assert_eq!(keysym_for_code("IntlRo"), Some(Keysym(0x5c)));
    }

    #[test]
    fn pc_keys_map_to_unshifted_keysyms() {
        assert_eq!(keysym_for_code("KeyA"), Some(Keysym(u32::from('a'))));
        assert_eq!(keysym_for_code("KeyZ"), Some(Keysym(u32::from('z'))));
        assert_eq!(keysym_for_code("Digit7"), Some(Keysym(u32::from('7'))));
        assert_eq!(keysym_for_code("Numpad7"), Some(Keysym(0xffb7)));
        assert_eq!(keysym_for_code("F1"), Some(Keysym::F1));
        assert_eq!(keysym_for_code("F12"), Some(Keysym(0xffc9)));
        assert_eq!(keysym_for_code("F25"), None);
        assert_eq!(keysym_for_code("ControlLeft"), Some(Keysym::CONTROL_L));
        assert_eq!(keysym_for_code("MetaLeft"), Some(Keysym::SUPER_L));
        assert_eq!(keysym_for_code("Keya"), None);
        assert_eq!(keysym_for_code("KeyAB"), None);
        assert_eq!(keysym_for_code("Unidentified"), None);
    }

    #[test]
    fn sender_keysym_wins_over_code() {
        // A JIS operator pressing Shift+2 gets '"'; the host must type '"'
        // whatever its own layout, not the '@' a US layout puts there.
        let key = KeyInput::new("Digit2", Some(u32::from('"')), true);
        assert_eq!(resolve_key(&key), Some(Keysym(u32::from('"'))));
        // An IME that swallowed the key leaves only the code.
        let key = KeyInput::new("Convert", None, true);
        assert_eq!(resolve_key(&key), Some(Keysym::HENKAN_MODE));
    }

    #[test]
    fn special_sequences_release_everything_they_press() {
        for &key in SpecialKey::ALL {
            let strokes = special_sequence(key);
            assert!(!strokes.is_empty(), "{key:?}");
            let downs: Vec<_> = strokes
                .iter()
                .filter(|s| s.pressed)
                .map(|s| s.keysym)
                .collect();
            let mut ups: Vec<_> = strokes
                .iter()
                .filter(|s| !s.pressed)
                .map(|s| s.keysym)
                .collect();
            ups.reverse();
            assert_eq!(downs, ups, "{key:?} must release in reverse order");
        }
        let cad = special_sequence(SpecialKey::CtrlAltDel);
        assert_eq!(cad.first().map(|s| s.keysym), Some(Keysym::CONTROL_L));
        assert!(cad.contains(&KeyStroke {
            keysym: Keysym::DELETE,
            pressed: true
        }));
        let alt_zh = special_sequence(SpecialKey::AltHankakuZenkaku);
        assert_eq!(
            alt_zh.iter().map(|s| s.keysym).collect::<Vec<_>>(),
            [
                Keysym::ALT_L,
                Keysym::ZENKAKU_HANKAKU,
                Keysym::ZENKAKU_HANKAKU,
                Keysym::ALT_L
            ]
        );
    }
}
