//! rsupport in the browser: the operator's side of a session, compiled to
//! WebAssembly for the web console.
//!
//! The session runs here, in the operator's browser, not on the relay: the
//! code's secret digits, the end-to-end keys and every decrypted frame stay
//! in the page (see `docs/E2E.md`). The relay serves the page and forwards
//! the same framed byte stream as for native programs, over a WebSocket.
//!
//! - [`Console`] is sans-IO: bytes and time in; bytes, events and a deadline
//!   out. It runs natively in the tests against a real relay.
//! - [`WebConsole`] (wasm-bindgen) is what the page's TypeScript layer
//!   (`web/console/operator/`) calls; events cross as JSON objects.

mod bindings;
mod console;
mod display;
mod drawing;
mod events;
mod files;
mod live;
mod print;
mod resume;

pub use bindings::WebConsole;
pub use console::{Console, ConsoleError};
pub use display::{depth_from_name, DisplayRequest};
pub use drawing::color_from_hex;
pub use events::{login_refusal, mode_from_name, mode_name, ConsoleEvent};
pub use files::{BrowserFiles, Download, PendingRead, MAX_HELD_BYTES};
pub use live::LiveSession;
pub use print::{PrintInbox, MAX_PRINT_BYTES};
