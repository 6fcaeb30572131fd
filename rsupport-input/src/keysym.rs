//! X11 keysyms: the key identity every backend understands.
//!
//! The keysym space is the common currency of the input layer: the wire
//! carries the sender's keysym, key maps turn physical codes into keysyms,
//! and each injector turns keysyms into whatever its platform needs.

/// An X11 keysym (see `X11/keysymdef.h`).
///
/// Printable characters follow the X11 rule: Latin-1 characters are their
/// own code point, every other Unicode character is `0x0100_0000 + code
/// point`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Keysym(pub u32);

#[allow(missing_docs)] // The names are the X11 names; see keysymdef.h.
impl Keysym {
    pub const NO_SYMBOL: Keysym = Keysym(0);
    pub const BACKSPACE: Keysym = Keysym(0xff08);
    pub const TAB: Keysym = Keysym(0xff09);
    pub const RETURN: Keysym = Keysym(0xff0d);
    pub const PAUSE: Keysym = Keysym(0xff13);
    pub const SCROLL_LOCK: Keysym = Keysym(0xff14);
    pub const ESCAPE: Keysym = Keysym(0xff1b);
    pub const KANJI: Keysym = Keysym(0xff21);
    pub const MUHENKAN: Keysym = Keysym(0xff22);
    pub const HENKAN_MODE: Keysym = Keysym(0xff23);
    pub const HIRAGANA: Keysym = Keysym(0xff25);
    pub const KATAKANA: Keysym = Keysym(0xff26);
    pub const HIRAGANA_KATAKANA: Keysym = Keysym(0xff27);
    pub const ZENKAKU_HANKAKU: Keysym = Keysym(0xff2a);
    pub const EISU_TOGGLE: Keysym = Keysym(0xff30);
    pub const HOME: Keysym = Keysym(0xff50);
    pub const LEFT: Keysym = Keysym(0xff51);
    pub const UP: Keysym = Keysym(0xff52);
    pub const RIGHT: Keysym = Keysym(0xff53);
    pub const DOWN: Keysym = Keysym(0xff54);
    pub const PAGE_UP: Keysym = Keysym(0xff55);
    pub const PAGE_DOWN: Keysym = Keysym(0xff56);
    pub const END: Keysym = Keysym(0xff57);
    pub const PRINT: Keysym = Keysym(0xff61);
    pub const INSERT: Keysym = Keysym(0xff63);
    pub const MENU: Keysym = Keysym(0xff67);
    pub const NUM_LOCK: Keysym = Keysym(0xff7f);
    pub const KP_ENTER: Keysym = Keysym(0xff8d);
    pub const KP_MULTIPLY: Keysym = Keysym(0xffaa);
    pub const KP_ADD: Keysym = Keysym(0xffab);
    pub const KP_SEPARATOR: Keysym = Keysym(0xffac);
    pub const KP_SUBTRACT: Keysym = Keysym(0xffad);
    pub const KP_DECIMAL: Keysym = Keysym(0xffae);
    pub const KP_DIVIDE: Keysym = Keysym(0xffaf);
    pub const KP_0: Keysym = Keysym(0xffb0);
    pub const KP_EQUAL: Keysym = Keysym(0xffbd);
    pub const F1: Keysym = Keysym(0xffbe);
    pub const SHIFT_L: Keysym = Keysym(0xffe1);
    pub const SHIFT_R: Keysym = Keysym(0xffe2);
    pub const CONTROL_L: Keysym = Keysym(0xffe3);
    pub const CONTROL_R: Keysym = Keysym(0xffe4);
    pub const CAPS_LOCK: Keysym = Keysym(0xffe5);
    pub const META_L: Keysym = Keysym(0xffe7);
    pub const META_R: Keysym = Keysym(0xffe8);
    pub const ALT_L: Keysym = Keysym(0xffe9);
    pub const ALT_R: Keysym = Keysym(0xffea);
    pub const SUPER_L: Keysym = Keysym(0xffeb);
    pub const SUPER_R: Keysym = Keysym(0xffec);
    pub const DELETE: Keysym = Keysym(0xffff);
    pub const ISO_LEVEL3_SHIFT: Keysym = Keysym(0xfe03);
}

impl Keysym {
    /// The keysym that types `c`.
    ///
    /// Control characters map to the keys that type them (`'\n'` → Return,
    /// `'\t'` → Tab, `'\u{8}'` → BackSpace); other control characters have
    /// no keysym.
    pub fn from_char(c: char) -> Option<Keysym> {
        let cp = u32::from(c);
        Some(match c {
            '\n' | '\r' => Keysym::RETURN,
            '\t' => Keysym::TAB,
            '\u{8}' => Keysym::BACKSPACE,
            '\u{1b}' => Keysym::ESCAPE,
            '\u{7f}' => Keysym::DELETE,
            c if c.is_control() => return None,
            _ if (0x20..=0x7e).contains(&cp) || (0xa0..=0xff).contains(&cp) => Keysym(cp),
            _ => Keysym(0x0100_0000 + cp),
        })
    }

    /// The character this keysym types, for Latin-1 and Unicode keysyms
    /// (`None` for function keys, modifiers and legacy non-Latin-1 keysyms).
    pub fn to_char(self) -> Option<char> {
        let k = self.0;
        if (0x20..=0x7e).contains(&k) || (0xa0..=0xff).contains(&k) {
            char::from_u32(k)
        } else if (0x0100_0100..=0x0110_ffff).contains(&k) {
            char::from_u32(k - 0x0100_0000)
        } else {
            None
        }
    }

    /// Whether this keysym is a modifier (Shift, Control, Alt, Meta, Super,
    /// Hyper, Caps/Shift lock, AltGr). Modifiers are what must never stay
    /// stuck.
    pub fn is_modifier(self) -> bool {
        (0xffe1..=0xffee).contains(&self.0) || (0xfe01..=0xfe13).contains(&self.0)
    }

    /// Whether this keysym is a Shift key.
    pub fn is_shift(self) -> bool {
        self == Keysym::SHIFT_L || self == Keysym::SHIFT_R
    }

    /// Whether this is a function/editing key (the `0xff00` page: arrows,
    /// F-keys, keypad, IME keys, modifiers) rather than a character.
    pub fn is_function_key(self) -> bool {
        (0xfd00..=0xffff).contains(&self.0)
    }

    /// For a lowercase Latin letter keysym, its uppercase twin: X11 lets a
    /// keyboard map list only the lowercase letter and implies the capital.
    pub fn upper_latin(self) -> Option<Keysym> {
        let c = char::from_u32(self.0).filter(|_| self.0 < 0x100)?;
        let upper = c.to_uppercase().next()?;
        (upper != c && u32::from(upper) < 0x100).then(|| Keysym(u32::from(upper)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_round_trip_through_keysyms() {
        for c in ['a', 'Z', '~', ' ', 'é', '¥', '日', '本', '語', '😀', 'ア'] {
            let k = Keysym::from_char(c).unwrap();
            assert_eq!(k.to_char(), Some(c), "{c:?} → {k:?}");
        }
        assert_eq!(Keysym::from_char('日'), Some(Keysym(0x0100_65e5)));
        assert_eq!(Keysym::from_char('😀'), Some(Keysym(0x0101_f600)));
        assert_eq!(Keysym::from_char('a'), Some(Keysym(0x61)));
    }

    #[test]
    fn control_characters_map_to_keys_or_nothing() {
        assert_eq!(Keysym::from_char('\n'), Some(Keysym::RETURN));
        assert_eq!(Keysym::from_char('\t'), Some(Keysym::TAB));
        assert_eq!(Keysym::from_char('\u{1}'), None);
        assert_eq!(Keysym::RETURN.to_char(), None);
    }

    #[test]
    fn classification() {
        assert!(Keysym::CONTROL_L.is_modifier());
        assert!(Keysym::ISO_LEVEL3_SHIFT.is_modifier());
        assert!(!Keysym(0x61).is_modifier());
        assert!(Keysym::HENKAN_MODE.is_function_key());
        assert!(!Keysym(0x61).is_function_key());
        assert_eq!(Keysym(0x61).upper_latin(), Some(Keysym(0x41)));
        assert_eq!(Keysym(0xe9).upper_latin(), Some(Keysym(0xc9)));
        assert_eq!(Keysym(0x31).upper_latin(), None);
    }
}
