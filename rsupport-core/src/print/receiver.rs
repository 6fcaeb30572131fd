//! Operator side of the print channel, sans-IO: accepts or declines offers
//! (declines by itself when the policy forbids printing), checks that data
//! arrives in order, within the announced size and with the announced
//! SHA-256, and reports progress and the final result to the customer.

// Peer-controlled input passes through here: no panicking shortcuts.
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use rsupport_proto::limits::MAX_NOTE;
use rsupport_proto::print::{PrintJobOffer, PrintMessage, PrintOutcome, PrintStage};
use sha2::{Digest, Sha256};

use super::sender::truncate;
use super::{PrintError, PrintPolicy};

/// A `Progress` message goes out at least every this many received bytes.
const PROGRESS_EVERY: u64 = 256 * 1024;
/// Ids of ended jobs remembered, so late data for them is ignored quietly.
const REMEMBER_ENDED: usize = 256;

/// What the operator's product and driver must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiverEvent {
    /// A job is offered: call [`PrintReceiver::accept`] or
    /// [`PrintReceiver::decline`] (after asking the operator, or by rule).
    Offered(PrintJobOffer),
    /// Append `data` at `offset` to the job's spool file.
    Write {
        /// Job.
        job_id: u64,
        /// Offset (always the current end of the file).
        offset: u64,
        /// Bytes.
        data: Bytes,
    },
    /// The whole document arrived and its checksum matched: hand the spool
    /// file to a printer (`rsupport_print::PrintSink`), then report with
    /// [`PrintReceiver::sink_progress`] and [`PrintReceiver::sink_finished`].
    Received(PrintJobOffer),
    /// The job ended before reaching a sink (cancelled by either side,
    /// broken data, declined): delete its spool file, stop any sink work.
    Ended {
        /// Job.
        job_id: u64,
        /// Why.
        outcome: PrintOutcome,
        /// Detail.
        detail: String,
    },
}

#[derive(Debug)]
enum State {
    Offered,
    Receiving {
        received: u64,
        reported: u64,
        hasher: Box<Sha256>,
    },
    Delivering,
}

#[derive(Debug)]
struct Job {
    offer: PrintJobOffer,
    state: State,
}

/// The operator side of the print channel.
#[derive(Debug)]
pub struct PrintReceiver {
    policy: PrintPolicy,
    jobs: BTreeMap<u64, Job>,
    ended: BTreeSet<u64>,
    ended_order: VecDeque<u64>,
    transmit: VecDeque<PrintMessage>,
    events: VecDeque<ReceiverEvent>,
}

impl PrintReceiver {
    /// A receiver under `policy`.
    pub fn new(policy: PrintPolicy) -> Self {
        Self {
            policy,
            jobs: BTreeMap::new(),
            ended: BTreeSet::new(),
            ended_order: VecDeque::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Jobs not finished yet.
    pub fn active_jobs(&self) -> usize {
        self.jobs.len()
    }

    /// Changes the policy; when printing is no longer allowed, jobs still
    /// being offered or received are cancelled (jobs already at a sink finish).
    pub fn set_policy(&mut self, policy: PrintPolicy) {
        self.policy = policy;
        if !policy.allows() {
            let ids: Vec<u64> = self
                .jobs
                .iter()
                .filter(|(_, j)| !matches!(j.state, State::Delivering))
                .map(|(id, _)| *id)
                .collect();
            for id in ids {
                self.end(
                    id,
                    PrintOutcome::Cancelled,
                    "printing is no longer allowed in this session",
                    true,
                );
            }
        }
    }

    /// Handles a message from the customer. An error means the peer broke
    /// the protocol; the job concerned (if any) has been ended.
    pub fn handle_message(&mut self, msg: PrintMessage) -> Result<(), PrintError> {
        match msg {
            PrintMessage::Offer(offer) => self.on_offer(offer),
            PrintMessage::Data {
                job_id,
                offset,
                data,
            } => self.on_data(job_id, offset, data),
            PrintMessage::DataEnd { job_id, sha256 } => self.on_data_end(job_id, sha256),
            PrintMessage::Cancel { job_id, reason } => {
                if self.jobs.contains_key(&job_id) {
                    self.end(job_id, PrintOutcome::Cancelled, &reason, false);
                }
                Ok(())
            }
            _ => Err(PrintError::Protocol(
                "customer sent an operator-side print message",
            )),
        }
    }

    fn on_offer(&mut self, offer: PrintJobOffer) -> Result<(), PrintError> {
        let id = offer.job_id;
        if self.jobs.contains_key(&id) || self.ended.contains(&id) {
            return Err(PrintError::Protocol("print job id reused"));
        }
        let refusal = if !self.policy.allows() {
            Some("printing is not allowed in this session")
        } else if offer.size > self.policy.max_job_bytes() {
            Some("the document is larger than allowed")
        } else if self.jobs.len() >= self.policy.max_active_jobs() {
            Some("too many print jobs at once")
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.remember_ended(id);
            self.transmit.push_back(PrintMessage::Answer {
                job_id: id,
                accept: false,
                reason: reason.into(),
            });
            return Ok(());
        }
        self.jobs.insert(
            id,
            Job {
                offer: offer.clone(),
                state: State::Offered,
            },
        );
        self.events.push_back(ReceiverEvent::Offered(offer));
        Ok(())
    }

    /// Accepts an offered job: data will follow.
    pub fn accept(&mut self, job_id: u64) -> Result<(), PrintError> {
        self.expect_state(job_id, |s| matches!(s, State::Offered))?;
        if !self.policy.allows() {
            self.decline(job_id, "printing is not allowed in this session")?;
            return Err(PrintError::NotAllowed);
        }
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return Err(PrintError::UnknownJob(job_id));
        };
        job.state = State::Receiving {
            received: 0,
            reported: 0,
            hasher: Box::default(),
        };
        self.transmit.push_back(PrintMessage::Answer {
            job_id,
            accept: true,
            reason: String::new(),
        });
        Ok(())
    }

    /// Declines an offered job.
    pub fn decline(&mut self, job_id: u64, reason: &str) -> Result<(), PrintError> {
        self.expect_state(job_id, |s| matches!(s, State::Offered))?;
        self.close(
            job_id,
            PrintMessage::Answer {
                job_id,
                accept: false,
                reason: truncate(reason, MAX_NOTE),
            },
        );
        Ok(())
    }

    /// Cancels a job from the operator's side.
    pub fn cancel(&mut self, job_id: u64, reason: &str) -> Result<(), PrintError> {
        if !self.jobs.contains_key(&job_id) {
            return Err(PrintError::UnknownJob(job_id));
        }
        self.end(job_id, PrintOutcome::Cancelled, reason, true);
        Ok(())
    }

    fn on_data(&mut self, job_id: u64, offset: u64, data: Bytes) -> Result<(), PrintError> {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return self.unknown(job_id);
        };
        let size = job.offer.size;
        let State::Receiving {
            received,
            reported,
            hasher,
        } = &mut job.state
        else {
            return self.violation(job_id, "data before the job was accepted");
        };
        if offset != *received {
            return self.violation(job_id, "data out of order");
        }
        if data.is_empty() || offset + data.len() as u64 > size {
            return self.violation(job_id, "more data than announced");
        }
        hasher.update(&data);
        *received += data.len() as u64;
        let now_received = *received;
        if now_received - *reported >= PROGRESS_EVERY {
            *reported = now_received;
            self.transmit.push_back(PrintMessage::Progress {
                job_id,
                stage: PrintStage::Receiving,
                bytes_received: now_received,
            });
        }
        self.events.push_back(ReceiverEvent::Write {
            job_id,
            offset,
            data,
        });
        Ok(())
    }

    fn on_data_end(&mut self, job_id: u64, sha256: [u8; 32]) -> Result<(), PrintError> {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return self.unknown(job_id);
        };
        let State::Receiving {
            received, hasher, ..
        } = std::mem::replace(&mut job.state, State::Delivering)
        else {
            return self.violation(job_id, "data end before the job was accepted");
        };
        if received != job.offer.size {
            return self.violation(job_id, "document shorter than announced");
        }
        let actual: [u8; 32] = hasher.finalize().into();
        // Not a secret: a plain comparison is fine.
        if actual != sha256 {
            return self.violation(job_id, "document checksum mismatch");
        }
        let offer = job.offer.clone();
        self.transmit.push_back(PrintMessage::Progress {
            job_id,
            stage: PrintStage::Receiving,
            bytes_received: received,
        });
        self.events.push_back(ReceiverEvent::Received(offer));
        Ok(())
    }

    /// The sink reached a stage (queued at the printer, printing).
    pub fn sink_progress(&mut self, job_id: u64, stage: PrintStage) -> Result<(), PrintError> {
        let bytes_received = self
            .expect_state(job_id, |s| matches!(s, State::Delivering))?
            .offer
            .size;
        self.transmit.push_back(PrintMessage::Progress {
            job_id,
            stage,
            bytes_received,
        });
        Ok(())
    }

    /// The sink finished: printed, saved or failed.
    pub fn sink_finished(
        &mut self,
        job_id: u64,
        outcome: PrintOutcome,
        destination: &str,
        detail: &str,
    ) -> Result<(), PrintError> {
        self.expect_state(job_id, |s| matches!(s, State::Delivering))?;
        self.close(
            job_id,
            PrintMessage::Result {
                job_id,
                outcome,
                destination: truncate(destination, MAX_NOTE),
                detail: truncate(detail, MAX_NOTE),
            },
        );
        Ok(())
    }

    fn unknown(&mut self, job_id: u64) -> Result<(), PrintError> {
        if self.ended.contains(&job_id) {
            Ok(()) // data already in flight when the job ended
        } else {
            Err(PrintError::Protocol("data for a job never offered"))
        }
    }

    /// The job, if it exists and is in the state `expected` accepts.
    fn expect_state(&self, job_id: u64, expected: fn(&State) -> bool) -> Result<&Job, PrintError> {
        let job = self
            .jobs
            .get(&job_id)
            .ok_or(PrintError::UnknownJob(job_id))?;
        if expected(&job.state) {
            Ok(job)
        } else {
            Err(PrintError::WrongState(job_id))
        }
    }

    /// Forgets a job that ended normally and tells the customer `message`.
    fn close(&mut self, job_id: u64, message: PrintMessage) {
        self.jobs.remove(&job_id);
        self.remember_ended(job_id);
        self.transmit.push_back(message);
    }

    fn violation(&mut self, job_id: u64, why: &'static str) -> Result<(), PrintError> {
        self.end(job_id, PrintOutcome::Failed, why, true);
        Err(PrintError::Protocol(why))
    }

    /// Ends a job before it reached a sink; tells the customer when `notify`.
    fn end(&mut self, job_id: u64, outcome: PrintOutcome, detail: &str, notify: bool) {
        if self.jobs.remove(&job_id).is_none() {
            return;
        }
        self.remember_ended(job_id);
        let detail = truncate(detail, MAX_NOTE);
        if notify {
            self.transmit.push_back(match outcome {
                PrintOutcome::Cancelled => PrintMessage::Cancel {
                    job_id,
                    reason: detail.clone(),
                },
                _ => PrintMessage::Result {
                    job_id,
                    outcome,
                    destination: String::new(),
                    detail: detail.clone(),
                },
            });
        }
        self.events.push_back(ReceiverEvent::Ended {
            job_id,
            outcome,
            detail,
        });
    }

    fn remember_ended(&mut self, job_id: u64) {
        if self.ended.insert(job_id) {
            self.ended_order.push_back(job_id);
        }
        while self.ended_order.len() > REMEMBER_ENDED {
            if let Some(old) = self.ended_order.pop_front() {
                self.ended.remove(&old);
            }
        }
    }

    /// The next message to send to the customer.
    pub fn poll_transmit(&mut self) -> Option<PrintMessage> {
        self.transmit.pop_front()
    }

    /// The next event for the product or driver.
    pub fn poll_event(&mut self) -> Option<ReceiverEvent> {
        self.events.pop_front()
    }
}
