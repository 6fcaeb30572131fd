//! Customer side of the print channel, sans-IO: turns a spooled job into
//! `Offer`, then (once accepted) `Data` chunks and `DataEnd` with the
//! document's SHA-256, and reports the operator's progress and result.

// Peer-controlled input passes through here: no panicking shortcuts.
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use rsupport_proto::limits::{MAX_CHUNK, MAX_NAME, MAX_NOTE};
use rsupport_proto::print::{PrintJobOffer, PrintMessage, PrintOutcome, PrintStage};
use sha2::{Digest, Sha256};

use super::{PrintError, PrintPolicy, VirtualPrinterJob};

/// Bytes per `Data` message by default: small enough that print traffic
/// interleaves finely with screen updates on the shared connection.
pub const DEFAULT_CHUNK: usize = 64 * 1024;

/// The driver should read `len` bytes at `offset` of job `job_id`'s document
/// and pass them to [`PrintSender::handle_read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRequest {
    /// Job.
    pub job_id: u64,
    /// Where to read.
    pub offset: u64,
    /// How much (the last chunk may be shorter than the chunk size).
    pub len: usize,
}

/// What the customer's product should show.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SenderEvent {
    /// The operator accepted the job; data is flowing.
    Accepted {
        /// Job.
        job_id: u64,
    },
    /// The operator side reported progress.
    Progress {
        /// Job.
        job_id: u64,
        /// Stage.
        stage: PrintStage,
        /// Bytes it has received.
        bytes_received: u64,
    },
    /// The job ended: printed, saved, failed, cancelled or declined. The
    /// driver may delete the spool file now.
    Finished {
        /// Job.
        job_id: u64,
        /// How it ended.
        outcome: PrintOutcome,
        /// Printer queue or file on the operator's side.
        destination: String,
        /// Human-readable detail.
        detail: String,
    },
}

#[derive(Debug)]
enum State {
    AwaitingAnswer,
    Sending {
        next: u64,
        read_pending: bool,
        hasher: Box<Sha256>,
    },
    AwaitingResult,
}

#[derive(Debug)]
struct Job {
    size: u64,
    state: State,
}

/// The customer side of the print channel. See the module docs of
/// [`crate::print`] for the run loop.
#[derive(Debug)]
pub struct PrintSender {
    policy: PrintPolicy,
    chunk: usize,
    next_id: u64,
    jobs: BTreeMap<u64, Job>,
    transmit: VecDeque<PrintMessage>,
    events: VecDeque<SenderEvent>,
}

impl PrintSender {
    /// A sender under `policy`.
    pub fn new(policy: PrintPolicy) -> Self {
        Self {
            policy,
            chunk: DEFAULT_CHUNK,
            next_id: 1,
            jobs: BTreeMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Sets the data chunk size (capped at the protocol's limit).
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk = bytes.clamp(1, MAX_CHUNK);
        self
    }

    /// Jobs not finished yet.
    pub fn active_jobs(&self) -> usize {
        self.jobs.len()
    }

    /// Changes the policy (the session mode changed). When printing is no
    /// longer allowed, every job in flight is cancelled.
    pub fn set_policy(&mut self, policy: PrintPolicy) {
        self.policy = policy;
        if !policy.allows() {
            let ids: Vec<u64> = self.jobs.keys().copied().collect();
            for id in ids {
                self.cancel_with(
                    id,
                    PrintOutcome::Cancelled,
                    "printing is no longer allowed in this session",
                );
            }
        }
    }

    /// Offers a spooled job to the operator. Returns the channel job id.
    pub fn offer(&mut self, job: &VirtualPrinterJob) -> Result<u64, PrintError> {
        if !self.policy.allows() {
            return Err(PrintError::NotAllowed);
        }
        if self.jobs.len() >= self.policy.max_active_jobs()
            || job.size > self.policy.max_job_bytes()
        {
            return Err(PrintError::NotAllowed);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.jobs.insert(
            id,
            Job {
                size: job.size,
                state: State::AwaitingAnswer,
            },
        );
        self.transmit.push_back(PrintMessage::Offer(PrintJobOffer {
            job_id: id,
            name: truncate(&job.name, MAX_NAME),
            format: job.format,
            size: job.size,
            pages: job.pages.unwrap_or(0),
            copies: job.copies.max(1),
        }));
        Ok(id)
    }

    /// Cancels a job from this side.
    pub fn cancel(&mut self, job_id: u64, reason: &str) -> Result<(), PrintError> {
        if !self.jobs.contains_key(&job_id) {
            return Err(PrintError::UnknownJob(job_id));
        }
        self.cancel_with(job_id, PrintOutcome::Cancelled, reason);
        Ok(())
    }

    /// The driver could not read the document (file gone, IO error).
    pub fn read_failed(&mut self, job_id: u64, reason: &str) {
        if self.jobs.contains_key(&job_id) {
            self.cancel_with(job_id, PrintOutcome::Failed, reason);
        }
    }

    fn cancel_with(&mut self, job_id: u64, outcome: PrintOutcome, reason: &str) {
        if self.jobs.remove(&job_id).is_some() {
            let reason = truncate(reason, MAX_NOTE);
            self.transmit.push_back(PrintMessage::Cancel {
                job_id,
                reason: reason.clone(),
            });
            self.events.push_back(SenderEvent::Finished {
                job_id,
                outcome,
                destination: String::new(),
                detail: reason,
            });
        }
    }

    /// Handles a message from the operator. An error means the peer broke
    /// the protocol; the job concerned has been cancelled.
    pub fn handle_message(&mut self, msg: PrintMessage) -> Result<(), PrintError> {
        match msg {
            PrintMessage::Answer {
                job_id,
                accept,
                reason,
            } => {
                let Some(job) = self.jobs.get_mut(&job_id) else {
                    return Ok(()); // answer to a job we cancelled meanwhile
                };
                if !matches!(job.state, State::AwaitingAnswer) {
                    return self.violation(job_id, "answer twice");
                }
                if accept {
                    job.state = State::Sending {
                        next: 0,
                        read_pending: false,
                        hasher: Box::default(),
                    };
                    self.events.push_back(SenderEvent::Accepted { job_id });
                    if job.size == 0 {
                        self.finish_data(job_id);
                    }
                } else {
                    self.jobs.remove(&job_id);
                    self.events.push_back(SenderEvent::Finished {
                        job_id,
                        outcome: PrintOutcome::Declined,
                        destination: String::new(),
                        detail: reason,
                    });
                }
                Ok(())
            }
            PrintMessage::Progress {
                job_id,
                stage,
                bytes_received,
            } => {
                if let Some(job) = self.jobs.get(&job_id) {
                    if bytes_received > job.size {
                        return self.violation(job_id, "progress beyond the document size");
                    }
                    self.events.push_back(SenderEvent::Progress {
                        job_id,
                        stage,
                        bytes_received,
                    });
                }
                Ok(())
            }
            PrintMessage::Result {
                job_id,
                outcome,
                destination,
                detail,
            } => {
                if self.jobs.remove(&job_id).is_some() {
                    self.events.push_back(SenderEvent::Finished {
                        job_id,
                        outcome,
                        destination,
                        detail,
                    });
                }
                Ok(())
            }
            PrintMessage::Cancel { job_id, reason } => {
                if self.jobs.remove(&job_id).is_some() {
                    self.events.push_back(SenderEvent::Finished {
                        job_id,
                        outcome: PrintOutcome::Cancelled,
                        destination: String::new(),
                        detail: reason,
                    });
                }
                Ok(())
            }
            // Customer → operator messages never come this way.
            _ => Err(PrintError::Protocol(
                "operator sent a customer-side print message",
            )),
        }
    }

    fn violation(&mut self, job_id: u64, why: &'static str) -> Result<(), PrintError> {
        self.cancel_with(job_id, PrintOutcome::Failed, why);
        Err(PrintError::Protocol(why))
    }

    /// The next piece of document the driver should read, if any. Asks only
    /// when nothing waits in the transmit queue, so reading keeps pace with
    /// sending and no more than one chunk is held in memory.
    pub fn poll_read(&mut self) -> Option<ReadRequest> {
        if !self.transmit.is_empty() {
            return None;
        }
        let chunk = self.chunk as u64;
        self.jobs
            .iter_mut()
            .find_map(|(id, job)| match &mut job.state {
                State::Sending {
                    next, read_pending, ..
                } if !*read_pending && *next < job.size => {
                    *read_pending = true;
                    Some(ReadRequest {
                        job_id: *id,
                        offset: *next,
                        len: (job.size - *next).min(chunk) as usize,
                    })
                }
                _ => None,
            })
    }

    /// Data the driver read for the pending [`ReadRequest`] of `job_id`.
    pub fn handle_read(&mut self, job_id: u64, data: Bytes) -> Result<(), PrintError> {
        let chunk = self.chunk;
        let job = self
            .jobs
            .get_mut(&job_id)
            .ok_or(PrintError::UnknownJob(job_id))?;
        let State::Sending {
            next,
            read_pending,
            hasher,
        } = &mut job.state
        else {
            return Err(PrintError::WrongState(job_id));
        };
        let remaining = job.size - *next;
        if !*read_pending || data.is_empty() || data.len() > chunk || data.len() as u64 > remaining
        {
            // The file changed under us or the driver misread: the checksum
            // would fail on the other side anyway.
            self.cancel_with(
                job_id,
                PrintOutcome::Failed,
                "the spooled document changed while sending",
            );
            return Err(PrintError::WrongState(job_id));
        }
        hasher.update(&data);
        let offset = *next;
        *next += data.len() as u64;
        *read_pending = false;
        let done = *next == job.size;
        self.transmit.push_back(PrintMessage::Data {
            job_id,
            offset,
            data,
        });
        if done {
            self.finish_data(job_id);
        }
        Ok(())
    }

    fn finish_data(&mut self, job_id: u64) {
        if let Some(job) = self.jobs.get_mut(&job_id) {
            if let State::Sending { hasher, .. } =
                std::mem::replace(&mut job.state, State::AwaitingResult)
            {
                let sha256: [u8; 32] = hasher.finalize().into();
                self.transmit
                    .push_back(PrintMessage::DataEnd { job_id, sha256 });
            }
        }
    }

    /// The next message to send to the operator.
    pub fn poll_transmit(&mut self) -> Option<PrintMessage> {
        self.transmit.pop_front()
    }

    /// The next event for the product.
    pub fn poll_event(&mut self) -> Option<SenderEvent> {
        self.events.pop_front()
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_owned()
}
