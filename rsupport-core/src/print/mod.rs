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
//! # Run loop (customer side)
//!
//! ```text
//! let mut printer = VirtualPrinter::start(VirtualPrinterConfig::new("rsupport", spool)).await?;
//! let registration = CupsRegistration::install("rsupport-remote", printer.uri()).await?;
//! loop {
//!     select! {
//!         job = printer.next_job() => { sender.offer(&job?, now)?; }
//!         msg = from_operator      => { sender.handle_message(msg?)?; }
//!     }
//!     while let Some(m) = sender.poll_transmit() { to_operator.send(m) }
//!     while let Some(r) = sender.poll_read() { sender.handle_read(r.job_id, read(r))? }
//!     while let Some(e) = sender.poll_event() { show(e) }
//! }
//! ```
//!
//! The operator side mirrors it with [`PrintReceiver`]: `handle_message`,
//! then `poll_transmit`, and `poll_event` yields [`ReceiverEvent::Write`]
//! (append to the spool file) and [`ReceiverEvent::Received`] (hand the file
//! to a [`PrintSink`] and report its stages and outcome back with
//! `sink_progress` / `sink_finished`).
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
    run_customer, run_operator, CustomerPrintEvent, OperatorCommand, OperatorPrintEvent,
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
    /// The next job; `None` when the source has stopped.
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
