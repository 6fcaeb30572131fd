//! The rsupport input layer: turns the viewer's mouse and keyboard into
//! events on the host's desktop.
//!
//! - [`keysym`], [`keymap`]: keys as X11 keysyms; DOM physical codes
//!   (including the JIS keys) and named special sequences to keysyms.
//! - [`coords`]: viewer view ↔ shared frame ↔ host monitors (multi-monitor,
//!   offsets, DPI scale), clamped to the shared area.
//! - [`gate`]: the sans-IO control gate (view-only, control, pause, revoke,
//!   local takeback with a grace period).
//! - [`controller`]: the sans-IO pipeline joining the above; it pairs every
//!   press with a release and releases everything on every stop.
//! - [`inject`]: the [`Injector`] trait and its backends — enigo (default),
//!   X11 XTEST through pure-Rust x11rb, and a recorder for tests.
//!
//! See [`controller`] for the run loop.
//!
//! The same pipeline serves every connection mode: whichever party *hosts*
//! (the customer, or the operator in "share operator screen" mode) runs an
//! [`InputController`] in front of its injector and the viewer only sends
//! wire [`InputMessage`](rsupport_proto::input::InputMessage)s; the host's
//! gate, not the viewer, decides what is injected.
//!
//! # Platform notes
//!
//! - X11: [`X11Injector`](inject::X11Injector) (feature `x11`, default) or
//!   [`EnigoInjector`](inject::EnigoInjector) (feature `enigo`, default).
//!   Both are pure Rust; no system `-dev` package is needed to build.
//! - Ctrl+Alt+Del: no backend has a secure-attention path yet (Windows needs
//!   `SendSAS` from a service), so every backend presses the plain combination.
//! - Local-input takeback needs the product to call
//!   [`InputController::handle_local_activity`] for genuine local input (not
//!   the echo of injected events); no platform detector ships yet.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod controller;
pub mod coords;
pub mod event;
pub mod gate;
pub mod inject;
pub mod keymap;
pub mod keysym;

pub use controller::{InputController, Outcome};
pub use coords::{CoordinateMapper, MapError, Mapped, Monitor, ViewTransform};
pub use event::{DesktopPoint, InputEvent};
pub use gate::{
    Admission, ControlGate, GateConfig, GateEvent, GateState, LocalTakeback, StopReason,
};
pub use inject::{InjectError, Injector, RecordingInjector};
pub use keysym::Keysym;
