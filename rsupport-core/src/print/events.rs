//! The jobs and what they report to the product during a session, on either
//! side.

use std::path::PathBuf;

use rsupport_proto::print::{DocumentFormat, PrintOutcome, PrintStage};

use super::{PrintError, ReceiverEvent, SenderEvent};

/// What the customer's product sees from the customer's print driver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CustomerPrintEvent {
    /// A job printed to the virtual printer was offered to the operator.
    Offered {
        /// Channel job id (used by the events that follow).
        job_id: u64,
        /// Document title.
        name: String,
        /// Pages, if known.
        pages: Option<u32>,
    },
    /// A job could not be offered (printing not allowed, too large, too many).
    NotSent {
        /// Document title.
        name: String,
        /// Why.
        reason: PrintError,
    },
    /// Progress or result from the operator's side.
    Channel(SenderEvent),
}

/// What the operator's product sees from the operator's print driver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperatorPrintEvent {
    /// From the state machine (offers to decide on, received, ended).
    Channel(ReceiverEvent),
    /// The sink reached a stage.
    Stage {
        /// Job.
        job_id: u64,
        /// Stage.
        stage: PrintStage,
    },
    /// The sink finished the job.
    Done {
        /// Job.
        job_id: u64,
        /// Outcome reported to the customer too.
        outcome: SinkOutcome,
    },
}

/// A print event of a live session, as
/// [`SessionEvent::Print`](crate::session::SessionEvent::Print) delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrintEvent {
    /// The customer's side: jobs offered, not sent, progress and results.
    Customer(CustomerPrintEvent),
    /// The operator's side: offers to accept, stages at the printer, results.
    Operator(OperatorPrintEvent),
}

/// How a sink finished; goes to the customer as `PrintMessage::Result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkOutcome {
    /// Printed, saved or failed.
    pub outcome: PrintOutcome,
    /// Queue name or saved file.
    pub destination: String,
    /// Human-readable detail.
    pub detail: String,
}

impl SinkOutcome {
    /// A failed delivery to `destination`, with a reason for people.
    pub fn failed(destination: &str, detail: impl Into<String>) -> Self {
        Self {
            outcome: PrintOutcome::Failed,
            destination: destination.to_owned(),
            detail: detail.into(),
        }
    }
}

/// A job printed to the customer's virtual printer (`rsupport-print`),
/// spooled to a file.
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
    /// A job as a platform's printer source reports it.
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
