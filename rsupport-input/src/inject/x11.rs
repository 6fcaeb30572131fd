//! X11 injector: XTEST through x11rb's pure-Rust connection (no libxcb).
//!
//! Keys are injected by keysym. A keysym the keyboard map has at the level
//! the current Shift state selects is typed with its own keycode; anything
//! else — characters at the wrong level, Japanese, emoji — goes through a
//! small pool of spare keycodes (keycodes with no symbols) that are remapped
//! with `ChangeKeyboardMapping` to the needed keysym on both levels, pressed
//! and released. A remapped spare is reused least-recently-used first, never
//! while held, and not within [`SPARE_REUSE_AFTER`] of its last use: X
//! clients translate a key press with the keyboard map they fetch after the
//! `MappingNotify`, so remapping the same keycode again too soon would make
//! a slow client read the *next* character. Long runs of unusual characters
//! are therefore typed at up to 32 characters per 40 ms. Spares are restored
//! to empty when the injector is dropped.

use std::time::{Duration, Instant};

use x11rb::connection::{Connection, RequestConnection as _};
use x11rb::protocol::xproto::{
    ConnectionExt as _, Keycode, Window, BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, KEY_PRESS_EVENT,
    KEY_RELEASE_EVENT, MOTION_NOTIFY_EVENT,
};
use x11rb::protocol::xtest::{self, ConnectionExt as _};
use x11rb::rust_connection::RustConnection;

use rsupport_proto::input::{MouseButton, SpecialKey};

use super::{InjectError, Injector, NotchAccumulator};
use crate::event::{DesktopPoint, InputEvent};
use crate::keymap::special_sequence;
use crate::keysym::Keysym;

/// How many spare keycodes are used for remapping at most.
const MAX_SPARES: usize = 32;

/// How long a remapped spare keycode keeps its keysym before it may be
/// remapped again (time for clients to read the map after `MappingNotify`).
pub const SPARE_REUSE_AFTER: Duration = Duration::from_millis(40);

fn backend(e: impl std::fmt::Display) -> InjectError {
    InjectError::Backend(e.to_string())
}

#[derive(Debug, Clone, Copy)]
struct Spare {
    keycode: Keycode,
    last_used: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct HeldKey {
    keysym: Keysym,
    keycode: Keycode,
}

/// Injects input into an X server through the XTEST extension.
pub struct X11Injector {
    conn: RustConnection,
    root: Window,
    min_keycode: Keycode,
    per_keycode: usize,
    /// The core keyboard map as we last set or read it, `per_keycode`
    /// keysyms per keycode from `min_keycode`.
    mapping: Vec<u32>,
    spares: Vec<Spare>,
    /// Spares we changed (restored on drop).
    dirty_spares: Vec<Keycode>,
    held_keys: Vec<HeldKey>,
    held_buttons: Vec<u8>,
    scroll_x: NotchAccumulator,
    scroll_y: NotchAccumulator,
}

impl std::fmt::Debug for X11Injector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X11Injector")
            .field("root", &self.root)
            .field("spares", &self.spares.len())
            .field("held_keys", &self.held_keys.len())
            .finish_non_exhaustive()
    }
}

impl X11Injector {
    /// Connects to `display` (e.g. `":0"`; `None` reads `DISPLAY`), checks
    /// for XTEST and reads the keyboard map.
    pub fn connect(display: Option<&str>) -> Result<Self, InjectError> {
        let (conn, screen) =
            x11rb::connect(display).map_err(|e| InjectError::Connect(e.to_string()))?;
        if conn
            .extension_information(xtest::X11_EXTENSION_NAME)
            .map_err(backend)?
            .is_none()
        {
            return Err(InjectError::Unsupported(
                "the X server has no XTEST extension",
            ));
        }
        let setup = conn.setup();
        let root = setup
            .roots
            .get(screen)
            .ok_or(InjectError::Connect(format!("no screen {screen}")))?
            .root;
        let (min_keycode, max_keycode) = (setup.min_keycode, setup.max_keycode);
        let count = max_keycode.saturating_sub(min_keycode).saturating_add(1);
        let reply = conn
            .get_keyboard_mapping(min_keycode, count)
            .map_err(backend)?
            .reply()
            .map_err(backend)?;
        let per_keycode = usize::from(reply.keysyms_per_keycode).max(2);
        let mut mapping = reply.keysyms;
        if usize::from(reply.keysyms_per_keycode) < per_keycode {
            // Pad a one-column map to two columns so every spare has both levels.
            mapping = mapping.into_iter().flat_map(|k| [k, 0]).collect();
        }
        let spares = (0..usize::from(count))
            .rev()
            .filter(|&i| {
                mapping
                    .get(i * per_keycode..(i + 1) * per_keycode)
                    .is_some_and(|syms| syms.iter().all(|&s| s == 0))
            })
            .filter_map(|i| u8::try_from(i).ok())
            .map(|i| Spare {
                keycode: min_keycode.saturating_add(i),
                last_used: None,
            })
            .take(MAX_SPARES)
            .collect();
        Ok(X11Injector {
            conn,
            root,
            min_keycode,
            per_keycode,
            mapping,
            spares,
            dirty_spares: Vec::new(),
            held_keys: Vec::new(),
            held_buttons: Vec::new(),
            scroll_x: NotchAccumulator::default(),
            scroll_y: NotchAccumulator::default(),
        })
    }

    /// Waits until the server has processed everything sent so far.
    pub fn sync(&mut self) -> Result<(), InjectError> {
        self.conn
            .get_input_focus()
            .map_err(backend)?
            .reply()
            .map_err(backend)?;
        Ok(())
    }

    fn fake(&self, kind: u8, detail: u8, x: i16, y: i16) -> Result<(), InjectError> {
        self.conn
            .xtest_fake_input(kind, detail, x11rb::CURRENT_TIME, self.root, x, y, 0)
            .map_err(backend)?;
        Ok(())
    }

    /// The keycode and level (0 or 1) that types `keysym` without a spare.
    fn lookup(&self, keysym: Keysym) -> Option<(Keycode, usize)> {
        let mut level1 = None;
        for (i, syms) in self.mapping.chunks(self.per_keycode).enumerate() {
            let keycode = self.min_keycode.saturating_add(u8::try_from(i).ok()?);
            let (l0, l1) = (
                syms.first().copied().unwrap_or(0),
                syms.get(1).copied().unwrap_or(0),
            );
            if l0 == keysym.0 {
                return Some((keycode, 0));
            }
            // X11 implies the capital when only the lowercase letter is listed.
            let implied = (l1 == 0).then(|| Keysym(l0).upper_latin()).flatten();
            if level1.is_none() && (l1 == keysym.0 || implied == Some(keysym)) {
                level1 = Some((keycode, 1));
            }
        }
        level1
    }

    fn shift_held(&self) -> bool {
        self.held_keys.iter().any(|k| k.keysym.is_shift())
    }

    /// Remaps a spare keycode (least recently used, not held) to `keysym`.
    fn spare_for(&mut self, keysym: Keysym) -> Result<Keycode, InjectError> {
        const NO_SPARE: InjectError =
            InjectError::Unsupported("no spare keycode to type this character");
        let first_column =
            |this: &Self, kc: Keycode| this.mapping.get(this.index(kc) * this.per_keycode).copied();
        if let Some(i) = self
            .spares
            .iter()
            .position(|s| first_column(self, s.keycode) == Some(keysym.0))
        {
            let spare = self.spares.get_mut(i).ok_or(NO_SPARE)?;
            spare.last_used = Some(Instant::now());
            return Ok(spare.keycode);
        }
        let held: Vec<Keycode> = self.held_keys.iter().map(|k| k.keycode).collect();
        let slot = self
            .spares
            .iter()
            .enumerate()
            .filter(|(_, s)| !held.contains(&s.keycode))
            .min_by_key(|(_, s)| s.last_used)
            .map(|(i, _)| i)
            .ok_or(NO_SPARE)?;
        let (keycode, last_used) = self
            .spares
            .get(slot)
            .map(|s| (s.keycode, s.last_used))
            .ok_or(NO_SPARE)?;
        if let Some(wait) =
            last_used.and_then(|t| (t + SPARE_REUSE_AFTER).checked_duration_since(Instant::now()))
        {
            // Every spare was used moments ago: let clients catch up first.
            self.conn.flush().map_err(backend)?;
            std::thread::sleep(wait);
        }
        // The server drops queued fake key events when the keymap changes
        // under them: make sure earlier keys went through before remapping.
        self.sync()?;
        self.set_keysyms(keycode, keysym)?;
        self.sync()?;
        if let Some(spare) = self.spares.get_mut(slot) {
            spare.last_used = Some(Instant::now());
        }
        if !self.dirty_spares.contains(&keycode) {
            self.dirty_spares.push(keycode);
        }
        Ok(keycode)
    }

    fn index(&self, keycode: Keycode) -> usize {
        usize::from(keycode.saturating_sub(self.min_keycode))
    }

    /// Maps `keycode` to `keysym` on both levels (NoSymbol clears it).
    fn set_keysyms(&mut self, keycode: Keycode, keysym: Keysym) -> Result<(), InjectError> {
        let mut syms = vec![0u32; self.per_keycode];
        syms.iter_mut().take(2).for_each(|s| *s = keysym.0);
        let per = u8::try_from(self.per_keycode).unwrap_or(u8::MAX);
        self.conn
            .change_keyboard_mapping(1, keycode, per, &syms)
            .map_err(backend)?;
        let start = self.index(keycode) * self.per_keycode;
        if let Some(slot) = self.mapping.get_mut(start..start + self.per_keycode) {
            slot.copy_from_slice(&syms);
        }
        Ok(())
    }

    fn key_down(&mut self, keysym: Keysym) -> Result<(), InjectError> {
        if let Some(held) = self.held_keys.iter().find(|k| k.keysym == keysym).copied() {
            // Auto-repeat: the same keycode again.
            return self.fake(KEY_PRESS_EVENT, held.keycode, 0, 0);
        }
        let want_level = usize::from(self.shift_held());
        let keycode = match self.lookup(keysym) {
            Some((kc, level)) if level == want_level || keysym.is_function_key() => kc,
            _ => self.spare_for(keysym)?,
        };
        self.held_keys.push(HeldKey { keysym, keycode });
        self.fake(KEY_PRESS_EVENT, keycode, 0, 0)
    }

    fn key_up(&mut self, keysym: Keysym) -> Result<(), InjectError> {
        let keycode = match self.held_keys.iter().position(|k| k.keysym == keysym) {
            Some(i) => self.held_keys.remove(i).keycode,
            None => match self.lookup(keysym) {
                Some((kc, _)) => kc,
                None => return Ok(()), // never pressed through us
            },
        };
        self.fake(KEY_RELEASE_EVENT, keycode, 0, 0)
    }

    fn tap(&mut self, keycode: Keycode) -> Result<(), InjectError> {
        self.fake(KEY_PRESS_EVENT, keycode, 0, 0)?;
        self.fake(KEY_RELEASE_EVENT, keycode, 0, 0)
    }

    fn type_char(&mut self, keysym: Keysym) -> Result<(), InjectError> {
        let shift = self.shift_held();
        match self.lookup(keysym) {
            Some((kc, level)) if level == usize::from(shift) => self.tap(kc),
            Some((kc, 1)) if !shift => match self.lookup(Keysym::SHIFT_L) {
                Some((shift_kc, _)) => {
                    self.fake(KEY_PRESS_EVENT, shift_kc, 0, 0)?;
                    self.tap(kc)?;
                    self.fake(KEY_RELEASE_EVENT, shift_kc, 0, 0)
                }
                None => {
                    let kc = self.spare_for(keysym)?;
                    self.tap(kc)
                }
            },
            _ => {
                let kc = self.spare_for(keysym)?;
                self.tap(kc)
            }
        }
    }

    fn button(&mut self, button: MouseButton, pressed: bool) -> Result<(), InjectError> {
        let detail = match button {
            MouseButton::Left => 1,
            MouseButton::Middle => 2,
            MouseButton::Right => 3,
            MouseButton::Back => 8,
            MouseButton::Forward => 9,
            _ => return Err(InjectError::Unsupported("mouse button")),
        };
        if pressed {
            if !self.held_buttons.contains(&detail) {
                self.held_buttons.push(detail);
            }
            self.fake(BUTTON_PRESS_EVENT, detail, 0, 0)
        } else {
            self.held_buttons.retain(|b| *b != detail);
            self.fake(BUTTON_RELEASE_EVENT, detail, 0, 0)
        }
    }

    fn scroll(&mut self, dx: i32, dy: i32) -> Result<(), InjectError> {
        // X11 wheel buttons: 4 up, 5 down, 6 left, 7 right.
        let steps = [
            (self.scroll_y.add(dy), 4u8, 5u8),
            (self.scroll_x.add(dx), 6, 7),
        ];
        for (notches, negative, positive) in steps {
            let detail = if notches < 0 { negative } else { positive };
            for _ in 0..notches.unsigned_abs() {
                self.fake(BUTTON_PRESS_EVENT, detail, 0, 0)?;
                self.fake(BUTTON_RELEASE_EVENT, detail, 0, 0)?;
            }
        }
        Ok(())
    }

    fn move_to(&self, p: DesktopPoint) -> Result<(), InjectError> {
        let clamp =
            |v: i32| i16::try_from(v.clamp(i32::from(i16::MIN), i32::from(i16::MAX))).unwrap_or(0);
        // detail 0 = absolute motion.
        self.fake(MOTION_NOTIFY_EVENT, 0, clamp(p.x), clamp(p.y))
    }

    /// Releases everything pressed through this injector.
    fn release_everything(&mut self) -> Result<(), InjectError> {
        while let Some(k) = self.held_keys.pop() {
            self.fake(KEY_RELEASE_EVENT, k.keycode, 0, 0)?;
        }
        for b in std::mem::take(&mut self.held_buttons) {
            self.fake(BUTTON_RELEASE_EVENT, b, 0, 0)?;
        }
        Ok(())
    }
}

impl Injector for X11Injector {
    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError> {
        match event {
            InputEvent::MoveTo(p) => self.move_to(*p),
            InputEvent::Button { button, pressed } => self.button(*button, *pressed),
            InputEvent::Scroll { dx, dy } => self.scroll(*dx, *dy),
            InputEvent::Key {
                keysym,
                pressed: true,
            } => self.key_down(*keysym),
            InputEvent::Key {
                keysym,
                pressed: false,
            } => self.key_up(*keysym),
            InputEvent::Text(text) => {
                for keysym in text.chars().filter_map(Keysym::from_char) {
                    self.type_char(keysym)?;
                }
                Ok(())
            }
            // X11 has no secure attention sequence: the plain combination.
            InputEvent::SecureAttention => {
                for stroke in special_sequence(SpecialKey::CtrlAltDel) {
                    if stroke.pressed {
                        self.key_down(stroke.keysym)?;
                    } else {
                        self.key_up(stroke.keysym)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> Result<(), InjectError> {
        self.conn.flush().map_err(backend)
    }

    fn name(&self) -> &'static str {
        "x11-xtest"
    }
}

impl Drop for X11Injector {
    fn drop(&mut self) {
        // Best effort: the connection may already be gone.
        let _ = self.release_everything();
        for keycode in std::mem::take(&mut self.dirty_spares) {
            let _ = self.set_keysyms(keycode, Keysym::NO_SYMBOL);
        }
        let _ = self.sync();
    }
}
