//! The host's input pipeline, sans-IO: wire [`InputMessage`]s in, gated,
//! mapped and paired [`InputEvent`]s out.
//!
//! [`InputController`] joins the [`ControlGate`] (may we inject?), the
//! [`CoordinateMapper`] (where does it land?), the key map (which keysym?)
//! and a record of what is held down, so that every stop — revoke, pause,
//! view-only, local takeover, lost connection, end — releases every key and
//! button the viewer left down.
//!
//! # Run loop
//!
//! ```
//! use std::time::Instant;
//! use rsupport_input::{ControlGate, CoordinateMapper, GateConfig, InputController, Monitor};
//! use rsupport_input::inject::{Injector, RecordingInjector};
//! use rsupport_proto::{input::InputMessage, Point, Rect};
//!
//! let monitors = vec![Monitor::new(Rect::new(0, 0, 1920, 1080), 1.0)];
//! let mapper = CoordinateMapper::for_monitor(monitors, 0, 1920, 1080)?;
//! let mut input = InputController::new(ControlGate::new(GateConfig::default()), mapper);
//! let mut injector = RecordingInjector::new(); // or X11Injector / EnigoInjector
//!
//! input.grant(); // the customer allowed control
//! // For each message from the viewer:
//! input.handle_input(Instant::now(), &InputMessage::PointerMove { position: Point::new(10, 20) });
//! input.inject_pending(&mut injector)?;
//! // Also: handle_local_activity(now) on local input, handle_timeout(now)
//! // at poll_timeout(), and forward poll_gate_event() to the session.
//! assert_eq!(injector.events().len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::VecDeque;
use web_time::Instant;

use rsupport_proto::control::RevokeCause;
use rsupport_proto::input::{InputMessage, KeyInput, MouseButton, SpecialKey};

use crate::coords::{CoordinateMapper, Mapped};
use crate::event::InputEvent;
use crate::gate::{Admission, ControlGate, GateEvent, GateState};
use crate::inject::{InjectError, Injector};
use crate::keymap::{resolve_key, special_sequence};
use crate::keysym::Keysym;

/// Most keys one viewer may hold down at once; further presses are dropped
/// (a hostile viewer cannot grow the held set without bound).
pub const MAX_HELD_KEYS: usize = 32;

/// What happened to one remote input message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Turned into events for the injector (possibly none, e.g. a release of
    /// a key that was not down).
    Accepted,
    /// Dropped: the gate is closed in this state.
    Gated(GateState),
    /// Dropped: a button press outside the shared area.
    OutsideSharedArea,
    /// Dropped: a key with no keysym and an unknown code.
    UnknownKey,
    /// Dropped: already [`MAX_HELD_KEYS`] keys down.
    TooManyKeysHeld,
}

/// A key identity for pairing presses with releases: the physical code when
/// known (the keysym of a release may differ from its press after Shift
/// went up), otherwise the keysym.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HeldKeyId {
    Code(String),
    Sym(Keysym),
}

/// The sans-IO input pipeline of a host. See the [module docs](self).
#[derive(Debug)]
pub struct InputController {
    gate: ControlGate,
    mapper: CoordinateMapper,
    /// What the viewer holds, as far as queued events go (for pairing).
    held_keys: Vec<(HeldKeyId, Keysym)>,
    held_buttons: Vec<MouseButton>,
    /// What is down on the host: presses that left the queue and were not
    /// released yet. A stop releases exactly these.
    down_keys: Vec<Keysym>,
    down_buttons: Vec<MouseButton>,
    out: VecDeque<InputEvent>,
    gate_events: VecDeque<GateEvent>,
}

impl InputController {
    /// A controller with this gate and mapper.
    pub fn new(gate: ControlGate, mapper: CoordinateMapper) -> Self {
        InputController {
            gate,
            mapper,
            held_keys: Vec::new(),
            held_buttons: Vec::new(),
            down_keys: Vec::new(),
            down_buttons: Vec::new(),
            out: VecDeque::new(),
            gate_events: VecDeque::new(),
        }
    }

    // ---- getters ----

    /// The gate's state.
    pub fn state(&self) -> GateState {
        self.gate.state()
    }

    /// The mapper in use.
    pub fn mapper(&self) -> &CoordinateMapper {
        &self.mapper
    }

    /// Keysyms currently held down by the viewer, in press order.
    pub fn held_keys(&self) -> impl Iterator<Item = Keysym> + '_ {
        self.held_keys.iter().map(|(_, k)| *k)
    }

    /// Buttons currently held down by the viewer.
    pub fn held_buttons(&self) -> &[MouseButton] {
        &self.held_buttons
    }

    // ---- inputs ----

    /// One message from the viewer that holds control, arriving at `now`.
    pub fn handle_input(&mut self, now: Instant, msg: &InputMessage) -> Outcome {
        let admission = self.gate.admit(now);
        self.drain_gate();
        if let Admission::Refuse(state) = admission {
            return Outcome::Gated(state);
        }
        match msg {
            InputMessage::PointerMove { position } => {
                self.out
                    .push_back(InputEvent::MoveTo(self.mapper.map(*position).point()));
                Outcome::Accepted
            }
            InputMessage::PointerButton {
                button,
                pressed,
                position,
            } => self.button(*button, *pressed, self.mapper.map(*position)),
            InputMessage::Wheel(w) => {
                if w.dx != 0 || w.dy != 0 {
                    self.out
                        .push_back(InputEvent::Scroll { dx: w.dx, dy: w.dy });
                }
                Outcome::Accepted
            }
            InputMessage::Key(key) => self.key(key),
            InputMessage::Text { text } => {
                if !text.is_empty() {
                    self.out.push_back(InputEvent::Text(text.clone()));
                }
                Outcome::Accepted
            }
            InputMessage::Special(SpecialKey::CtrlAltDel) => {
                self.out.push_back(InputEvent::SecureAttention);
                Outcome::Accepted
            }
            InputMessage::Special(key) => {
                let strokes = special_sequence(*key);
                self.out
                    .extend(strokes.into_iter().map(|s| InputEvent::Key {
                        keysym: s.keysym,
                        pressed: s.pressed,
                    }));
                Outcome::Accepted
            }
            InputMessage::ReleaseAll => {
                self.release_all();
                Outcome::Accepted
            }
            // A message kind added to the schema later: not ours to guess.
            _ => Outcome::Accepted,
        }
    }

    /// The host's own user moved the mouse or typed at `now`.
    pub fn handle_local_activity(&mut self, now: Instant) {
        self.gate.handle_local_activity(now);
        self.drain_gate();
    }

    /// Runs timers due at `now` (see [`poll_timeout`](Self::poll_timeout)).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.gate.handle_timeout(now);
        self.drain_gate();
    }

    /// Replaces the mapper (monitor layout, frame size or window selection
    /// changed).
    pub fn set_mapper(&mut self, mapper: CoordinateMapper) {
        self.mapper = mapper;
    }

    // ---- commands (each stop releases everything held) ----

    /// Control granted (or granted again after a revoke or reconnect).
    pub fn grant(&mut self) {
        self.gate.grant();
        self.drain_gate();
    }

    /// Watch only from now on.
    pub fn set_view_only(&mut self) {
        self.gate.set_view_only();
        self.drain_gate();
    }

    /// Withdraw control now.
    pub fn revoke(&mut self, cause: RevokeCause) {
        self.gate.revoke(cause);
        self.drain_gate();
    }

    /// The host's user paused sharing.
    pub fn pause(&mut self) {
        self.gate.pause();
        self.drain_gate();
    }

    /// The host's user resumed sharing.
    pub fn resume(&mut self) {
        self.gate.resume();
        self.drain_gate();
    }

    /// The viewer's connection dropped.
    pub fn connection_lost(&mut self) {
        self.gate.connection_lost();
        self.drain_gate();
    }

    /// The session ended.
    pub fn end(&mut self) {
        self.gate.end();
        self.drain_gate();
    }

    // ---- outputs ----

    /// The next event for the injector. The controller assumes every event
    /// it hands out is performed (that is what a later stop releases).
    pub fn poll_event(&mut self) -> Option<InputEvent> {
        let event = self.out.pop_front()?;
        match &event {
            InputEvent::Key {
                keysym,
                pressed: true,
            } if !self.down_keys.contains(keysym) => {
                self.down_keys.push(*keysym);
            }
            InputEvent::Key {
                keysym,
                pressed: false,
            } => self.down_keys.retain(|k| k != keysym),
            InputEvent::Button {
                button,
                pressed: true,
            } if !self.down_buttons.contains(button) => {
                self.down_buttons.push(*button);
            }
            InputEvent::Button {
                button,
                pressed: false,
            } => self.down_buttons.retain(|b| b != button),
            _ => {}
        }
        Some(event)
    }

    /// The next gate event for the session (e.g. send `ControlRevoked`).
    pub fn poll_gate_event(&mut self) -> Option<GateEvent> {
        self.gate_events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.gate.poll_timeout()
    }

    /// Hands every pending event to `injector` and flushes it. Returns how
    /// many events were injected. On error the failed event is dropped and
    /// the rest stay queued.
    pub fn inject_pending<I: Injector + ?Sized>(
        &mut self,
        injector: &mut I,
    ) -> Result<usize, InjectError> {
        let mut n = 0;
        while let Some(event) = self.poll_event() {
            injector.inject(&event)?;
            n += 1;
        }
        injector.flush()?;
        Ok(n)
    }

    // ---- internals ----

    fn button(&mut self, button: MouseButton, pressed: bool, at: Mapped) -> Outcome {
        let held = self.held_buttons.contains(&button);
        if pressed {
            // A click must land on what is shared; a clamped press could hit
            // the edge of something else.
            if let Mapped::Clamped(_) = at {
                return Outcome::OutsideSharedArea;
            }
            self.out.push_back(InputEvent::MoveTo(at.point()));
            if !held {
                self.held_buttons.push(button);
                self.out.push_back(InputEvent::Button {
                    button,
                    pressed: true,
                });
            }
        } else if held {
            // Releases always go through (clamped), or the button would stick.
            self.held_buttons.retain(|b| *b != button);
            self.out.push_back(InputEvent::MoveTo(at.point()));
            self.out.push_back(InputEvent::Button {
                button,
                pressed: false,
            });
        }
        Outcome::Accepted
    }

    fn key(&mut self, key: &KeyInput) -> Outcome {
        let resolved = resolve_key(key);
        let id = match (key.code.is_empty(), resolved) {
            (false, _) => HeldKeyId::Code(key.code.clone()),
            (true, Some(sym)) => HeldKeyId::Sym(sym),
            (true, None) => return Outcome::UnknownKey,
        };
        let held = self.held_keys.iter().position(|(h, _)| *h == id);
        match (key.pressed, held) {
            // Auto-repeat (or a lost release): press the same keysym again.
            (true, Some(i)) => {
                if let Some((_, keysym)) = self.held_keys.get(i) {
                    self.out.push_back(InputEvent::Key {
                        keysym: *keysym,
                        pressed: true,
                    });
                }
            }
            (true, None) => {
                let Some(keysym) = resolved else {
                    return Outcome::UnknownKey;
                };
                if self.held_keys.len() >= MAX_HELD_KEYS {
                    return Outcome::TooManyKeysHeld;
                }
                self.held_keys.push((id, keysym));
                self.out.push_back(InputEvent::Key {
                    keysym,
                    pressed: true,
                });
            }
            // Release what was pressed, whatever keysym the release carries —
            // unless another held key produced the same keysym: the host has
            // one key down for both, and it stays down until the last goes up.
            (false, Some(i)) => {
                let (_, keysym) = self.held_keys.remove(i);
                if !self.held_keys.iter().any(|(_, k)| *k == keysym) {
                    self.out.push_back(InputEvent::Key {
                        keysym,
                        pressed: false,
                    });
                }
            }
            (false, None) => {}
        }
        Outcome::Accepted
    }

    /// Releases every held key (last pressed first) and button.
    fn release_all(&mut self) {
        while let Some((_, keysym)) = self.held_keys.pop() {
            // Two held keys with one keysym are one key down on the host.
            if self.held_keys.iter().any(|(_, k)| *k == keysym) {
                continue;
            }
            self.out.push_back(InputEvent::Key {
                keysym,
                pressed: false,
            });
        }
        for button in std::mem::take(&mut self.held_buttons) {
            self.out.push_back(InputEvent::Button {
                button,
                pressed: false,
            });
        }
    }

    /// A stop means now: drop whatever is still queued and release exactly
    /// what is down on the host, last pressed first.
    fn stop_now(&mut self) {
        self.out.clear();
        self.held_keys.clear();
        self.held_buttons.clear();
        for keysym in self.down_keys.iter().rev() {
            self.out.push_back(InputEvent::Key {
                keysym: *keysym,
                pressed: false,
            });
        }
        for button in &self.down_buttons {
            self.out.push_back(InputEvent::Button {
                button: *button,
                pressed: false,
            });
        }
    }

    fn drain_gate(&mut self) {
        while let Some(event) = self.gate.poll_event() {
            if let GateEvent::Stopped(_) = event {
                self.stop_now();
            }
            self.gate_events.push_back(event);
        }
    }
}

#[cfg(test)]
#[path = "controller_tests.rs"]
mod tests;
