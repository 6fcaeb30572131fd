//! Injectors: platform backends that perform [`InputEvent`]s.
//!
//! - [`RecordingInjector`]: keeps every event, for tests of everything above
//!   the platform.
//! - [`X11Injector`] (feature `x11`, Linux/BSD): XTEST over x11rb's pure-Rust
//!   connection; exact keysyms, committed Unicode text by remapping spare
//!   keycodes, fine-grained wheel.
//! - [`EnigoInjector`] (feature `enigo`): the portable default (Windows,
//!   macOS, and X11 through enigo's x11rb backend).

use crate::event::InputEvent;

#[cfg(feature = "enigo")]
mod enigo_backend;
#[cfg(all(feature = "x11", unix, not(target_os = "macos")))]
mod x11;

/// enigo's settings, for [`EnigoInjector::with_settings`].
#[cfg(feature = "enigo")]
pub use enigo::Settings as EnigoSettings;
#[cfg(feature = "enigo")]
pub use enigo_backend::EnigoInjector;
#[cfg(all(feature = "x11", unix, not(target_os = "macos")))]
pub use x11::X11Injector;

/// Why an injector could not perform an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InjectError {
    /// Could not reach the display server (or input API).
    #[error("cannot connect to the display: {0}")]
    Connect(String),
    /// The display server refused or failed a request.
    #[error("display server error: {0}")]
    Backend(String),
    /// The backend has no way to perform this event (e.g. no spare keycode
    /// for a character the keyboard map lacks).
    #[error("not supported by this injector: {0}")]
    Unsupported(&'static str),
}

/// A backend that performs input events on the local machine.
///
/// Implementations keep whatever platform state they need (connections,
/// remapped keycodes, scroll remainders) and must leave the machine clean
/// when dropped: remapped keys restored, nothing they pressed left down.
pub trait Injector {
    /// Performs one event. May buffer; [`flush`](Self::flush) sends.
    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError>;

    /// Sends buffered events to the display server.
    fn flush(&mut self) -> Result<(), InjectError> {
        Ok(())
    }

    /// A short name for logs ("x11-xtest", "enigo", "recording").
    fn name(&self) -> &'static str;
}

impl<I: Injector + ?Sized> Injector for Box<I> {
    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError> {
        (**self).inject(event)
    }
    fn flush(&mut self) -> Result<(), InjectError> {
        (**self).flush()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
}

/// An injector that records events instead of performing them.
#[derive(Debug, Default, Clone)]
pub struct RecordingInjector {
    events: Vec<InputEvent>,
    flushes: usize,
}

impl RecordingInjector {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything injected so far, in order.
    pub fn events(&self) -> &[InputEvent] {
        &self.events
    }

    /// Takes the recorded events, leaving the recorder empty.
    pub fn take(&mut self) -> Vec<InputEvent> {
        std::mem::take(&mut self.events)
    }

    /// How many times [`Injector::flush`] was called.
    pub fn flushes(&self) -> usize {
        self.flushes
    }
}

impl Injector for RecordingInjector {
    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError> {
        self.events.push(event.clone());
        Ok(())
    }
    fn flush(&mut self) -> Result<(), InjectError> {
        self.flushes += 1;
        Ok(())
    }
    fn name(&self) -> &'static str {
        "recording"
    }
}

/// Splits a fine-grained scroll amount into whole notches, keeping the
/// remainder for the next event (for backends that only know notches).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NotchAccumulator {
    remainder: i32,
}

impl NotchAccumulator {
    /// Adds `delta` (1/120ths of a notch) and returns the whole notches to
    /// perform now (signed).
    pub fn add(&mut self, delta: i32) -> i32 {
        let total = self.remainder.saturating_add(delta);
        let notches = total / rsupport_proto::input::WHEEL_NOTCH;
        self.remainder = total - notches * rsupport_proto::input::WHEEL_NOTCH;
        notches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fine_scrolling_adds_up_to_notches() {
        let mut acc = NotchAccumulator::default();
        assert_eq!(acc.add(40), 0);
        assert_eq!(acc.add(40), 0);
        assert_eq!(acc.add(40), 1);
        assert_eq!(acc.add(360), 3);
        assert_eq!(acc.add(-60), 0);
        assert_eq!(acc.add(-60), -1);
        assert_eq!(acc.add(-130), -1);
        assert_eq!(acc.add(-10), 0);
        assert_eq!(acc.add(140), 1, "the -20 left over counts");
    }
}
