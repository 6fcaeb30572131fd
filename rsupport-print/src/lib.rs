//! rsupport-print: the printing backends of remote printing.
//!
//! The customer prints from any application to a printer this crate
//! provides; the job travels through the session (the sans-IO sender and
//! receiver live in `rsupport_core::print`) and comes out of the operator's
//! printer, or is saved as a file.
//!
//! | side | piece | Linux reference implementation |
//! |---|---|---|
//! | customer | [`VirtualPrinterSource`]: where jobs come from | [`VirtualPrinter`], a small IPP printer on 127.0.0.1 |
//! | customer | [`PrinterRegistration`]: make it visible to applications | [`CupsRegistration`] (`lpadmin -m everywhere`) |
//! | operator | [`PrintSink`]: where jobs go | [`CupsQueueSink`] (`lp`), [`SaveToDirectory`] |
//!
//! `rsupport-client` wires these into sessions: give the customer's
//! platform a printer and the operator a sink, and jobs arrive as session
//! events.
//!
//! ```no_run
//! use rsupport_print::{CupsRegistration, VirtualPrinter, VirtualPrinterConfig};
//!
//! # async fn customer() -> std::io::Result<()> {
//! let printer = VirtualPrinter::start(VirtualPrinterConfig::new("Remote printer", "/var/tmp/rsupport-print")).await?;
//! let registration = CupsRegistration::install("rsupport-remote", printer.uri()).await?;
//! // … hand `printer` to the session (rsupport-client's HostPlatform::with_printer) …
//! drop(registration); // removes the CUPS queue
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

use std::future::Future;
use std::pin::Pin;

pub use rsupport_core::print::VirtualPrinterJob;

pub mod document;
pub mod ipp;
mod registration;
mod sink;
pub mod spool;

pub use ipp::{parse_ipp_request, VirtualPrinter, VirtualPrinterConfig};
pub use registration::{CupsRegistration, PrinterRegistration};
pub use rsupport_core::print::SinkOutcome;
pub use sink::{CupsQueueSink, PrintSink, SaveToDirectory, SinkJob, StageCallback};

/// A boxed, sendable future: what the platform traits return so they stay
/// usable as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where print jobs come from on the customer's machine. The Linux reference
/// is [`VirtualPrinter`]; other platforms plug in their own printer driver
/// or port monitor here.
pub trait VirtualPrinterSource: Send {
    /// The next job; `None` when the source has stopped. Must be
    /// cancel-safe: the client's print driver polls it inside `select!`.
    fn next_job(&mut self) -> BoxFuture<'_, Option<VirtualPrinterJob>>;
}
