//! The operator's print inbox in the browser: print jobs the customer sends
//! from any application arrive here instead of at a printer. The page shows
//! each offer, and once accepted and verified (SHA-256, by the receiver) the
//! document can be downloaded or opened to print on the operator's own
//! printer. Printing is allowed only in control and manage modes and when
//! the administrator allows it; the customer's side checks the same.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use rsupport_core::print::{
    DocumentFormat, PrintError, PrintJobOffer, PrintMessage, PrintOutcome, PrintPolicy,
    PrintReceiver, ReceiverEvent,
};
use rsupport_proto::ConnectionMode;

use crate::events::ConsoleEvent;

/// Most bytes of print documents a page holds (every job together).
pub const MAX_PRINT_BYTES: u64 = 256 * 1024 * 1024;

/// Where the customer's side is told its job went.
const DESTINATION: &str = "the operator's browser";

/// A job in the inbox.
#[derive(Debug)]
struct Job {
    offer: PrintJobOffer,
    data: Vec<u8>,
    ready: bool,
}

/// One session's print inbox (see the module docs).
#[derive(Debug)]
pub struct PrintInbox {
    receiver: PrintReceiver,
    admin_allows: bool,
    jobs: BTreeMap<u64, Job>,
}

impl PrintInbox {
    /// An inbox for a session whose administrator allows remote printing
    /// (`admin_allows`, from the pairing) or not.
    pub fn new(admin_allows: bool) -> Self {
        PrintInbox {
            receiver: PrintReceiver::new(
                PrintPolicy::default().with_max_job_bytes(MAX_PRINT_BYTES),
            ),
            admin_allows,
            jobs: BTreeMap::new(),
        }
    }

    /// The agreed mode changed (printing only in control and manage modes).
    pub fn set_mode(&mut self, mode: Option<ConnectionMode>) {
        let policy = match mode {
            Some(mode) => PrintPolicy::new(self.admin_allows, mode),
            None => PrintPolicy::default(),
        };
        self.receiver
            .set_policy(policy.with_max_job_bytes(MAX_PRINT_BYTES));
    }

    /// A print message from the customer.
    pub fn handle(&mut self, message: PrintMessage) -> Result<(), PrintError> {
        self.receiver.handle_message(message)
    }

    /// Accepts an offered job.
    pub fn accept(&mut self, job: u64) -> Result<(), PrintError> {
        self.receiver.accept(job)
    }

    /// Declines an offered job.
    pub fn decline(&mut self, job: u64) -> Result<(), PrintError> {
        self.jobs.remove(&job);
        self.receiver.decline(job, "the operator declined")
    }

    /// The next message for the customer.
    pub fn poll_transmit(&mut self) -> Option<PrintMessage> {
        self.receiver.poll_transmit()
    }

    /// Moves the receiver's events into the page's queue.
    pub fn drain(&mut self, session: u64, out: &mut VecDeque<ConsoleEvent>) {
        while let Some(event) = self.receiver.poll_event() {
            match event {
                ReceiverEvent::Offered(offer) => {
                    out.push_back(ConsoleEvent::PrintOffered {
                        session,
                        job: offer.job_id,
                        name: offer.name.clone(),
                        size: offer.size,
                        pages: offer.pages,
                    });
                    self.jobs.insert(
                        offer.job_id,
                        Job {
                            offer,
                            data: Vec::new(),
                            ready: false,
                        },
                    );
                }
                ReceiverEvent::Write { job_id, data, .. } => {
                    // The receiver bounds each job by the policy's size.
                    if let Some(job) = self.jobs.get_mut(&job_id) {
                        job.data.extend_from_slice(&data);
                    }
                }
                ReceiverEvent::Received(offer) => {
                    if let Some(job) = self.jobs.get_mut(&offer.job_id) {
                        job.ready = true;
                    }
                    // Kept for the operator: the customer hears "saved".
                    let _ = self.receiver.sink_finished(
                        offer.job_id,
                        PrintOutcome::Saved,
                        DESTINATION,
                        "",
                    );
                    out.push_back(ConsoleEvent::PrintReady {
                        session,
                        job: offer.job_id,
                    });
                }
                ReceiverEvent::Ended { job_id, detail, .. } => {
                    self.jobs.remove(&job_id);
                    out.push_back(ConsoleEvent::PrintEnded {
                        session,
                        job: job_id,
                        detail,
                    });
                }
                _ => {}
            }
        }
    }

    /// A verified document: (file name, MIME type, bytes). The inbox keeps
    /// it, so it can be downloaded and printed more than once.
    pub fn document(&self, job: u64) -> Option<(String, &'static str, Bytes)> {
        let job = self.jobs.get(&job).filter(|j| j.ready)?;
        let (mime, ext) = match job.offer.format {
            DocumentFormat::Pdf => ("application/pdf", "pdf"),
            DocumentFormat::PostScript => ("application/postscript", "ps"),
            _ => ("application/octet-stream", "bin"),
        };
        let base = if job.offer.name.trim().is_empty() {
            "print-job"
        } else {
            job.offer.name.trim()
        };
        let name = if base.to_ascii_lowercase().ends_with(&format!(".{ext}")) {
            base.to_owned()
        } else {
            format!("{base}.{ext}")
        };
        Some((name, mime, Bytes::copy_from_slice(&job.data)))
    }

    /// Removes a job the operator is done with.
    pub fn discard(&mut self, job: u64) {
        self.jobs.remove(&job);
    }
}
