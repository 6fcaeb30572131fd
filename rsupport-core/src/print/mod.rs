//! Remote printing: the customer prints from any application to a printer
//! the SDK provides; the job travels to the operator and comes out of the
//! operator's printer, or is saved as a file.
//!
//! # Pieces
//!
//! | side | piece | |
//! |---|---|---|
//! | customer | [`PrintSender`]: job → `Offer`, `Data`…, `DataEnd` | sans-IO |
//! | operator | [`PrintReceiver`]: accept/decline, verify, progress, result | sans-IO |
//! | both | [`PrintEvent`]: what the product is told | |
//!
//! Where jobs come from (a virtual IPP printer) and where they go (a CUPS
//! queue, a folder) is `rsupport-print`; `rsupport-client` wires both into
//! sessions. A driver for another runtime follows the same loop: feed
//! `handle_message`, drain `poll_transmit`, serve `poll_read` (customer) or
//! act on `poll_event` (operator: [`ReceiverEvent::Write`] appends to the
//! spool, [`ReceiverEvent::Received`] hands the file to a printer whose
//! stages and outcome go back through `sink_progress` / `sink_finished`).
//!
//! Printing is allowed only while the session is in a control or manage
//! mode and the administrator allows it ([`PrintPolicy`]); both sides check.

pub use rsupport_proto::print::{
    DocumentFormat, PrintJobOffer, PrintMessage, PrintOutcome, PrintStage,
};

mod events;
mod policy;
mod receiver;
mod sender;

pub use events::{
    CustomerPrintEvent, OperatorPrintEvent, PrintEvent, SinkOutcome, VirtualPrinterJob,
};
pub use policy::PrintPolicy;
pub use receiver::{PrintReceiver, ReceiverEvent};
pub use sender::DEFAULT_CHUNK;
pub use sender::{PrintSender, ReadRequest, SenderEvent};

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
