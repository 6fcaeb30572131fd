//! The host-side event model: what an [`Injector`](crate::Injector) performs.
//!
//! Richer than the wire in one way and simpler in another: positions are
//! already mapped onto the host's desktop and clamped to the shared area,
//! keys are already resolved to keysyms and paired (every release matches
//! an earlier press), and special sequences are already expanded.

use rsupport_proto::input::MouseButton;

use crate::keysym::Keysym;

/// A point on the host's virtual desktop, in physical pixels (origin at the
/// top-left of the desktop's bounding box; may be negative for monitors left
/// of or above the primary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DesktopPoint {
    /// Horizontal position.
    pub x: i32,
    /// Vertical position.
    pub y: i32,
}

impl DesktopPoint {
    /// A point at `(x, y)`.
    pub const fn new(x: i32, y: i32) -> Self {
        DesktopPoint { x, y }
    }
}

/// One event for an injector.
///
/// `Debug` hides what was typed (text and character keys): keystrokes
/// never reach logs.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InputEvent {
    /// Move the pointer to an absolute desktop position.
    MoveTo(DesktopPoint),
    /// Press or release a mouse button where the pointer is.
    Button {
        /// Which button.
        button: MouseButton,
        /// Pressed (true) or released (false).
        pressed: bool,
    },
    /// Scroll by `dx`/`dy` in 1/120ths of a notch (positive: right/down).
    /// Backends that only know whole notches keep the remainder.
    Scroll {
        /// Horizontal amount.
        dx: i32,
        /// Vertical amount.
        dy: i32,
    },
    /// Press or release a key.
    Key {
        /// The key.
        keysym: Keysym,
        /// Pressed (true) or released (false).
        pressed: bool,
    },
    /// Type committed text (each character pressed and released).
    Text(String),
    /// Ctrl+Alt+Del. Backends with a secure-attention path use it; the
    /// others press the plain combination (see
    /// [`special_sequence`](crate::keymap::special_sequence)).
    SecureAttention,
}

impl std::fmt::Debug for InputEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputEvent::MoveTo(p) => f.debug_tuple("MoveTo").field(p).finish(),
            InputEvent::Button { button, pressed } => f
                .debug_struct("Button")
                .field("button", button)
                .field("pressed", pressed)
                .finish(),
            InputEvent::Scroll { dx, dy } => f
                .debug_struct("Scroll")
                .field("dx", dx)
                .field("dy", dy)
                .finish(),
            InputEvent::Key { keysym, pressed } => {
                let mut s = f.debug_struct("Key");
                if keysym.is_function_key() {
                    s.field("keysym", keysym);
                } else {
                    s.field("keysym", &"<character>");
                }
                s.field("pressed", pressed).finish()
            }
            InputEvent::Text(t) => write!(f, "Text(<{} chars>)", t.chars().count()),
            InputEvent::SecureAttention => f.write_str("SecureAttention"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_keystrokes() {
        let text = format!("{:?}", InputEvent::Text("hunter2".into()));
        assert!(!text.contains("hunter2"), "{text}");
        let key = format!(
            "{:?}",
            InputEvent::Key {
                keysym: Keysym(u32::from('h')),
                pressed: true
            }
        );
        assert!(!key.contains("104") && !key.contains("0x68"), "{key}");
        let enter = format!(
            "{:?}",
            InputEvent::Key {
                keysym: Keysym::RETURN,
                pressed: true
            }
        );
        assert!(
            enter.contains("65293"),
            "function keys stay visible: {enter}"
        );
    }
}
