//! Remote printing: the customer prints from any application to a printer
//! the SDK provides; the job travels to the operator and comes out of the
//! operator's printer, or is saved as a file.
//!
//! # Pieces
//!
//! | side | piece | Linux reference implementation |
//! |---|---|---|
//! | customer | [`VirtualPrinterSource`]: where jobs come from | [`VirtualPrinter`], a small IPP printer on 127.0.0.1 |
//! | customer | [`PrinterRegistration`]: make it visible to applications | [`CupsRegistration`] (`lpadmin -m everywhere`) |
//! | customer | [`PrintSender`]: job → `Offer`, `Data`…, `DataEnd` | sans-IO |
//! | operator | [`PrintReceiver`]: accept/decline, verify, progress, result | sans-IO |
//! | operator | [`PrintSink`]: where jobs go | [`CupsQueueSink`] (`lp`), [`SaveToDirectory`] |
//!
//! # In a session
//!
//! The [`endpoint`](crate::endpoint) wires all of this in: give the
//! customer's platform a printer with
//! [`HostPlatform::with_printer`](crate::endpoint::HostPlatform::with_printer)
//! and the operator a sink with
//! [`OperatorOptions::with_print_sink`](crate::endpoint::OperatorOptions::with_print_sink);
//! offers, progress and results arrive as
//! [`SessionEvent::Print`](crate::session::SessionEvent::Print), and the
//! operator answers with
//! [`SessionHandle::accept_print`](crate::endpoint::SessionHandle::accept_print).
//!
//! # The drivers underneath
//!
//! The state machines do no IO. [`run_customer`] and [`run_operator`] are the
//! tokio drivers: they exchange [`PrintMessage`]s with the peer through two
//! channels (the endpoint wraps them as `SessionMessage::Print` on the
//! connection, bulk priority), move document bytes between spool files and
//! the state machines, and report to the product through an event channel.
//!
//! ```no_run
//! use std::sync::Arc;
//! use rsupport_core::print::*;
//! use rsupport_proto::ConnectionMode;
//! use tokio::sync::mpsc;
//!
//! # async fn customer() -> std::io::Result<()> {
//! // Customer: a printer applications can print to.
//! let printer = VirtualPrinter::start(VirtualPrinterConfig::new("Remote printer", "/var/tmp/rsupport-print")).await?;
//! let registration = CupsRegistration::install("rsupport-remote", printer.uri()).await?;
//! let policy = PrintPolicy::new(true, ConnectionMode::ControlCustomer);
//! let (to_operator, _outgoing) = mpsc::channel(16);       // → session connection
//! let (_incoming, from_operator) = mpsc::channel(16);     // ← session connection
//! let (_commands, commands) = mpsc::channel(16);          // SetPolicy / Cancel
//! let (events, _product_events) = mpsc::unbounded_channel();
//! run_customer(printer, PrintSender::new(policy), from_operator, to_operator, commands, events).await;
//! drop(registration); // removes the CUPS queue
//! # Ok(()) }
//!
//! # async fn operator() {
//! // Operator: print on the default office printer (or SaveToDirectory).
//! let sink: Arc<dyn PrintSink> = Arc::new(CupsQueueSink::new("office").unwrap());
//! let policy = PrintPolicy::new(true, ConnectionMode::ControlCustomer);
//! let (to_customer, _outgoing) = mpsc::channel(16);
//! let (_incoming, from_customer) = mpsc::channel(16);
//! let (_commands, commands) = mpsc::channel(16);          // Accept / Decline / Cancel / SetPolicy
//! let (events, _product_events) = mpsc::unbounded_channel(); // Offered → ask the operator
//! run_operator(PrintReceiver::new(policy), sink, "/var/tmp/rsupport-received".into(),
//!              from_customer, to_customer, commands, events).await;
//! # }
//! ```
//!
//! Drivers for other runtimes follow the same loop: feed `handle_message`,
//! drain `poll_transmit`, serve `poll_read` (customer) or act on
//! `poll_event` (operator: [`ReceiverEvent::Write`] appends to the spool,
//! [`ReceiverEvent::Received`] hands the file to a [`PrintSink`] whose
//! stages and outcome go back through `sink_progress` / `sink_finished`).
//!
//! Printing is allowed only while the session is in a control or manage
//! mode and the administrator allows it ([`PrintPolicy`]); both sides check.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

pub use rsupport_proto::print::{
    DocumentFormat, PrintJobOffer, PrintMessage, PrintOutcome, PrintStage,
};

pub mod document;
pub mod driver;
pub mod ipp;
mod policy;
mod receiver;
mod registration;
mod sender;
mod sink;

pub use driver::{
    run_customer, run_operator, CustomerCommand, CustomerPrintEvent, OperatorCommand,
    OperatorPrintEvent, PrintEvent,
};
pub use ipp::{parse_ipp_request, VirtualPrinter, VirtualPrinterConfig};
pub use policy::PrintPolicy;
pub use receiver::{PrintReceiver, ReceiverEvent};
pub use registration::{CupsRegistration, PrinterRegistration};
pub use sender::DEFAULT_CHUNK;
pub use sender::{PrintSender, ReadRequest, SenderEvent};
pub use sink::{CupsQueueSink, PrintSink, SaveToDirectory, SinkJob, SinkOutcome, StageCallback};

/// A boxed, sendable future: what the platform traits return so they stay
/// usable as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A job printed to the customer's virtual printer, spooled to a file.
///
/// The spool file belongs to whoever receives the job: delete it once the
/// job has been sent (or refused).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VirtualPrinterJob {
    /// Id given by the virtual printer.
    pub id: u64,
    /// Document title from the application.
    pub name: String,
    /// PDF or PostScript.
    pub format: DocumentFormat,
    /// Size of the spooled document in bytes.
    pub size: u64,
    /// Pages, when they could be counted.
    pub pages: Option<u32>,
    /// Copies asked for.
    pub copies: u32,
    /// The spooled document.
    pub path: PathBuf,
}

impl VirtualPrinterJob {
    /// A job as a platform [`VirtualPrinterSource`] reports it.
    pub fn new(
        id: u64,
        name: impl Into<String>,
        format: DocumentFormat,
        size: u64,
        pages: Option<u32>,
        copies: u32,
        path: impl Into<PathBuf>,
    ) -> Self {
        Self {
            id,
            name: name.into(),
            format,
            size,
            pages,
            copies: copies.max(1),
            path: path.into(),
        }
    }
}

/// Where print jobs come from on the customer's machine. The Linux reference
/// is [`VirtualPrinter`]; other platforms plug in their own printer driver
/// or port monitor here.
pub trait VirtualPrinterSource: Send {
    /// The next job; `None` when the source has stopped. Must be
    /// cancel-safe: [`run_customer`] polls it inside `select!`.
    fn next_job(&mut self) -> BoxFuture<'_, Option<VirtualPrinterJob>>;
}

/// Errors of the print channel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrintError {
    /// Printing is not allowed in this session (mode or administrator policy).
    #[error("printing is not allowed in this session")]
    NotAllowed,
    /// The job id is not known (API misuse).
    #[error("unknown print job {0}")]
    UnknownJob(u64),
    /// The call does not fit the job's state (API misuse).
    #[error("print job {0} is not in a state for this")]
    WrongState(u64),
    /// The peer broke the protocol; the job was cancelled.
    #[error("peer violated the print protocol: {0}")]
    Protocol(&'static str),
}
