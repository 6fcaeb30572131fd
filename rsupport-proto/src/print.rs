//! Print channel: a job printed on the customer's machine travels to the
//! operator and comes out of the operator's printer (or is saved).

use bytes::Bytes;

use crate::error::DecodeError;
use crate::files::{digest, Sha256Digest};
use crate::limits::{MAX_CHUNK, MAX_NAME, MAX_NOTE};
use crate::pb::{self, print_message::Body};
use crate::wire::{check_bytes, check_str, required, wire_enum, Wire};

wire_enum! {
    /// Document formats a job can carry.
    pub enum DocumentFormat => DocumentFormat {
        /// PDF.
        Pdf => Pdf,
        /// PostScript.
        PostScript => Postscript,
    }
}

wire_enum! {
    /// Where a job is on the operator's side.
    pub enum PrintStage => PrintStage {
        /// Data still arriving.
        Receiving => Receiving,
        /// Handed to the print queue.
        Queued => Queued,
        /// The printer is printing it.
        Printing => Printing,
    }
}

wire_enum! {
    /// How a job ended.
    pub enum PrintOutcome => PrintOutcome {
        /// Printed on the operator's printer.
        Printed => Printed,
        /// Saved as a file (no printer chosen).
        Saved => Saved,
        /// Something went wrong; see the detail.
        Failed => Failed,
        /// Cancelled by either side.
        Cancelled => Cancelled,
        /// The operator side declined it.
        Declined => Declined,
    }
}

/// One print message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrintMessage {
    /// Customer → operator: a new job.
    Offer(PrintJobOffer),
    /// Operator → customer: accept or decline.
    Answer {
        /// Job.
        job_id: u64,
        /// Whether accepted.
        accept: bool,
        /// Why declined.
        reason: String,
    },
    /// Customer → operator: a piece of the document.
    Data {
        /// Job.
        job_id: u64,
        /// Offset of the first byte.
        offset: u64,
        /// At most [`MAX_CHUNK`] bytes.
        data: Bytes,
    },
    /// Customer → operator: all data sent.
    DataEnd {
        /// Job.
        job_id: u64,
        /// SHA-256 of the document.
        sha256: Sha256Digest,
    },
    /// Operator → customer: progress.
    Progress {
        /// Job.
        job_id: u64,
        /// Stage.
        stage: PrintStage,
        /// Bytes received so far.
        bytes_received: u64,
    },
    /// Operator → customer: final result.
    Result {
        /// Job.
        job_id: u64,
        /// Outcome.
        outcome: PrintOutcome,
        /// Printer queue or file that received it.
        destination: String,
        /// Human-readable detail.
        detail: String,
    },
    /// Either way: stop the job.
    Cancel {
        /// Job.
        job_id: u64,
        /// Why.
        reason: String,
    },
}

/// A job the customer printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintJobOffer {
    /// Sender-chosen id.
    pub job_id: u64,
    /// Document title from the application.
    pub name: String,
    /// Format of the data.
    pub format: DocumentFormat,
    /// Size in bytes.
    pub size: u64,
    /// Page count when known (0 = unknown).
    pub pages: u32,
    /// Copies asked for (at least 1).
    pub copies: u32,
}

impl Wire for PrintMessage {
    type Pb = pb::PrintMessage;

    fn to_pb(&self) -> pb::PrintMessage {
        let body = match self {
            PrintMessage::Offer(o) => Body::Offer(pb::PrintJobOffer {
                job_id: o.job_id,
                name: o.name.clone(),
                format: o.format.to_wire(),
                size: o.size,
                pages: o.pages,
                copies: o.copies,
            }),
            PrintMessage::Answer {
                job_id,
                accept,
                reason,
            } => Body::Answer(pb::PrintJobAnswer {
                job_id: *job_id,
                accept: *accept,
                reason: reason.clone(),
            }),
            PrintMessage::Data {
                job_id,
                offset,
                data,
            } => Body::Data(pb::PrintData {
                job_id: *job_id,
                offset: *offset,
                data: data.clone(),
            }),
            PrintMessage::DataEnd { job_id, sha256 } => Body::DataEnd(pb::PrintDataEnd {
                job_id: *job_id,
                sha256: Bytes::copy_from_slice(sha256),
            }),
            PrintMessage::Progress {
                job_id,
                stage,
                bytes_received,
            } => Body::Progress(pb::PrintProgress {
                job_id: *job_id,
                stage: stage.to_wire(),
                bytes_received: *bytes_received,
            }),
            PrintMessage::Result {
                job_id,
                outcome,
                destination,
                detail,
            } => Body::Result(pb::PrintResult {
                job_id: *job_id,
                outcome: outcome.to_wire(),
                destination: destination.clone(),
                detail: detail.clone(),
            }),
            PrintMessage::Cancel { job_id, reason } => Body::Cancel(pb::PrintCancel {
                job_id: *job_id,
                reason: reason.clone(),
            }),
        };
        pb::PrintMessage { body: Some(body) }
    }

    fn from_pb(pb: pb::PrintMessage) -> Result<Self, DecodeError> {
        Ok(match required("print.body", pb.body)? {
            Body::Offer(o) => {
                check_str("print_offer.name", &o.name, MAX_NAME)?;
                if o.copies == 0 {
                    return Err(DecodeError::Invalid {
                        field: "print_offer.copies",
                        reason: "at least one copy",
                    });
                }
                PrintMessage::Offer(PrintJobOffer {
                    job_id: o.job_id,
                    name: o.name,
                    format: DocumentFormat::from_wire("print_offer.format", o.format)?,
                    size: o.size,
                    pages: o.pages,
                    copies: o.copies,
                })
            }
            Body::Answer(a) => {
                check_str("print_answer.reason", &a.reason, MAX_NOTE)?;
                PrintMessage::Answer {
                    job_id: a.job_id,
                    accept: a.accept,
                    reason: a.reason,
                }
            }
            Body::Data(d) => {
                check_bytes("print_data.data", &d.data, MAX_CHUNK)?;
                PrintMessage::Data {
                    job_id: d.job_id,
                    offset: d.offset,
                    data: d.data,
                }
            }
            Body::DataEnd(e) => PrintMessage::DataEnd {
                job_id: e.job_id,
                sha256: digest("print_data_end.sha256", &e.sha256)?,
            },
            Body::Progress(p) => PrintMessage::Progress {
                job_id: p.job_id,
                stage: PrintStage::from_wire("print_progress.stage", p.stage)?,
                bytes_received: p.bytes_received,
            },
            Body::Result(r) => {
                check_str("print_result.destination", &r.destination, MAX_NOTE)?;
                check_str("print_result.detail", &r.detail, MAX_NOTE)?;
                PrintMessage::Result {
                    job_id: r.job_id,
                    outcome: PrintOutcome::from_wire("print_result.outcome", r.outcome)?,
                    destination: r.destination,
                    detail: r.detail,
                }
            }
            Body::Cancel(c) => {
                check_str("print_cancel.reason", &c.reason, MAX_NOTE)?;
                PrintMessage::Cancel {
                    job_id: c.job_id,
                    reason: c.reason,
                }
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::strategies::*;
    use proptest::prelude::*;

    pub(crate) fn print_message() -> impl Strategy<Value = PrintMessage> {
        prop_oneof![
            (
                any::<u64>(),
                text(16),
                one_of(DocumentFormat::ALL),
                any::<u64>(),
                any::<u32>(),
                1u32..99
            )
                .prop_map(|(job_id, name, format, size, pages, copies)| {
                    PrintMessage::Offer(PrintJobOffer {
                        job_id,
                        name,
                        format,
                        size,
                        pages,
                        copies,
                    })
                }),
            (any::<u64>(), any::<bool>(), text(16)).prop_map(|(job_id, accept, reason)| {
                PrintMessage::Answer {
                    job_id,
                    accept,
                    reason,
                }
            }),
            (any::<u64>(), any::<u64>(), bytes(64)).prop_map(|(job_id, offset, data)| {
                PrintMessage::Data {
                    job_id,
                    offset,
                    data,
                }
            }),
            (any::<u64>(), any::<[u8; 32]>())
                .prop_map(|(job_id, sha256)| PrintMessage::DataEnd { job_id, sha256 }),
            (any::<u64>(), one_of(PrintStage::ALL), any::<u64>()).prop_map(
                |(job_id, stage, bytes_received)| PrintMessage::Progress {
                    job_id,
                    stage,
                    bytes_received
                }
            ),
            (any::<u64>(), one_of(PrintOutcome::ALL), text(16), text(16)).prop_map(
                |(job_id, outcome, destination, detail)| PrintMessage::Result {
                    job_id,
                    outcome,
                    destination,
                    detail
                }
            ),
            (any::<u64>(), text(16))
                .prop_map(|(job_id, reason)| PrintMessage::Cancel { job_id, reason }),
        ]
    }

    proptest! {
        #[test]
        fn print_round_trips(m in print_message()) {
            assert_round_trip(&m);
        }
    }

    #[test]
    fn zero_copies_and_missing_format_are_refused() {
        let offer = |format, copies| pb::PrintMessage {
            body: Some(Body::Offer(pb::PrintJobOffer {
                job_id: 1,
                name: "invoice.pdf".into(),
                format,
                size: 10,
                pages: 1,
                copies,
            })),
        };
        assert!(PrintMessage::from_pb(offer(1, 1)).is_ok());
        assert!(PrintMessage::from_pb(offer(1, 0)).is_err());
        assert_eq!(
            PrintMessage::from_pb(offer(0, 1)),
            Err(DecodeError::MissingField("print_offer.format"))
        );
    }
}
