//! The portable injector through enigo (Windows SendInput, macOS CGEvent,
//! X11 through enigo's pure-Rust x11rb backend).
//!
//! enigo's default features on Linux are its x11rb backend only, so a plain
//! `cargo build` needs no system `-dev` package. (enigo names `xkbcommon` as
//! a dependency, but only its Wayland and libei backends call it, so nothing
//! links against libxkbcommon.)

use enigo::{Axis, Button, Coordinate, Direction, Enigo, Key, Keyboard, Mouse, Settings};
use rsupport_proto::input::{MouseButton, SpecialKey};

use super::{InjectError, Injector, NotchAccumulator};
use crate::coords::CoordinateMapper;
use crate::event::InputEvent;
use crate::keymap::special_sequence;
use crate::keysym::Keysym;

fn backend(e: impl std::fmt::Display) -> InjectError {
    InjectError::Backend(e.to_string())
}

/// Injects input through enigo.
pub struct EnigoInjector {
    enigo: Enigo,
    logical: Option<CoordinateMapper>,
    scroll_x: NotchAccumulator,
    scroll_y: NotchAccumulator,
}

impl std::fmt::Debug for EnigoInjector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnigoInjector").finish_non_exhaustive()
    }
}

impl EnigoInjector {
    /// An injector with enigo's default settings (on X11: the `DISPLAY`
    /// display).
    pub fn new() -> Result<Self, InjectError> {
        Self::with_settings(&Settings::default())
    }

    /// An injector on a chosen X11 display (e.g. `":0"`), leaving the rest
    /// of enigo's settings at their defaults.
    pub fn for_x11_display(display: &str) -> Result<Self, InjectError> {
        let settings = Settings {
            x11_display: Some(display.to_owned()),
            ..Settings::default()
        };
        Self::with_settings(&settings)
    }

    /// An injector with explicit enigo settings.
    pub fn with_settings(settings: &Settings) -> Result<Self, InjectError> {
        let enigo = Enigo::new(settings).map_err(|e| InjectError::Connect(e.to_string()))?;
        Ok(EnigoInjector {
            enigo,
            logical: None,
            scroll_x: NotchAccumulator::default(),
            scroll_y: NotchAccumulator::default(),
        })
    }

    /// Moves the pointer in logical (DPI-scaled) units, converting each
    /// desktop point with `mapper`'s monitor layout — for platforms whose
    /// pointer API works in logical points (macOS; DPI-unaware processes on
    /// Windows). `None` (the default) passes physical pixels through.
    pub fn set_logical_coordinates(&mut self, mapper: Option<CoordinateMapper>) {
        self.logical = mapper;
    }

    fn key(&mut self, keysym: Keysym, pressed: bool) -> Result<(), InjectError> {
        let direction = if pressed {
            Direction::Press
        } else {
            Direction::Release
        };
        let key = enigo_key(keysym).ok_or(InjectError::Unsupported(
            "key has no equivalent on this platform",
        ))?;
        self.enigo.key(key, direction).map_err(backend)
    }
}

/// The enigo key for a keysym. On X11 every keysym passes through as is.
#[cfg(all(unix, not(target_os = "macos")))]
fn enigo_key(keysym: Keysym) -> Option<Key> {
    Some(Key::Other(keysym.0))
}

/// The enigo key for a keysym: characters as Unicode, and the function keys
/// every platform has.
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn enigo_key(keysym: Keysym) -> Option<Key> {
    if let Some(c) = keysym.to_char() {
        return Some(if c == ' ' {
            Key::Space
        } else {
            Key::Unicode(c)
        });
    }
    if (Keysym::F1.0..Keysym::F1.0 + 12).contains(&keysym.0) {
        const F: [Key; 12] = [
            Key::F1,
            Key::F2,
            Key::F3,
            Key::F4,
            Key::F5,
            Key::F6,
            Key::F7,
            Key::F8,
            Key::F9,
            Key::F10,
            Key::F11,
            Key::F12,
        ];
        return F
            .get(usize::try_from(keysym.0 - Keysym::F1.0).ok()?)
            .copied();
    }
    Some(match keysym {
        Keysym::SHIFT_L => Key::LShift,
        Keysym::SHIFT_R => Key::RShift,
        Keysym::CONTROL_L => Key::LControl,
        Keysym::CONTROL_R => Key::RControl,
        Keysym::ALT_L | Keysym::ALT_R => Key::Alt,
        Keysym::SUPER_L | Keysym::SUPER_R | Keysym::META_L | Keysym::META_R => Key::Meta,
        Keysym::RETURN | Keysym::KP_ENTER => Key::Return,
        Keysym::TAB => Key::Tab,
        Keysym::BACKSPACE => Key::Backspace,
        Keysym::ESCAPE => Key::Escape,
        Keysym::DELETE => Key::Delete,
        Keysym::HOME => Key::Home,
        Keysym::END => Key::End,
        Keysym::PAGE_UP => Key::PageUp,
        Keysym::PAGE_DOWN => Key::PageDown,
        Keysym::LEFT => Key::LeftArrow,
        Keysym::RIGHT => Key::RightArrow,
        Keysym::UP => Key::UpArrow,
        Keysym::DOWN => Key::DownArrow,
        Keysym::CAPS_LOCK => Key::CapsLock,
        _ => return None,
    })
}

impl Injector for EnigoInjector {
    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError> {
        match event {
            InputEvent::MoveTo(p) => {
                let (x, y) = match &self.logical {
                    // Logical points of a sane desktop fit an i32 after rounding.
                    #[allow(clippy::cast_possible_truncation)]
                    Some(mapper) => {
                        let (x, y) = mapper.to_logical(*p);
                        (x.round() as i32, y.round() as i32)
                    }
                    None => (p.x, p.y),
                };
                self.enigo
                    .move_mouse(x, y, Coordinate::Abs)
                    .map_err(backend)
            }
            InputEvent::Button { button, pressed } => {
                let button = match button {
                    MouseButton::Left => Button::Left,
                    MouseButton::Middle => Button::Middle,
                    MouseButton::Right => Button::Right,
                    MouseButton::Back => Button::Back,
                    MouseButton::Forward => Button::Forward,
                    _ => return Err(InjectError::Unsupported("mouse button")),
                };
                let direction = if *pressed {
                    Direction::Press
                } else {
                    Direction::Release
                };
                self.enigo.button(button, direction).map_err(backend)
            }
            InputEvent::Scroll { dx, dy } => {
                let (nx, ny) = (self.scroll_x.add(*dx), self.scroll_y.add(*dy));
                if ny != 0 {
                    self.enigo.scroll(ny, Axis::Vertical).map_err(backend)?;
                }
                if nx != 0 {
                    self.enigo.scroll(nx, Axis::Horizontal).map_err(backend)?;
                }
                Ok(())
            }
            InputEvent::Key { keysym, pressed } => self.key(*keysym, *pressed),
            InputEvent::Text(text) => self.enigo.text(text).map_err(backend),
            // No secure-attention path without a system service: the plain combination.
            InputEvent::SecureAttention => {
                for stroke in special_sequence(SpecialKey::CtrlAltDel) {
                    self.key(stroke.keysym, stroke.pressed)?;
                }
                Ok(())
            }
        }
    }

    fn name(&self) -> &'static str {
        "enigo"
    }
}
