//! [`FileChannel`]: both halves of one party's files channel behind one
//! `handle` / `poll_transmit` / `poll_event` surface.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;

use rsupport_proto::files::FileMessage;
use rsupport_proto::ConnectionMode;

use super::receiver::Incoming;
use super::sender::Outgoing;
use super::storage::{entries_from_path, Destination, FsDestination, OutgoingEntry};
use super::{FileConfig, FileEvent, Party};

const CUSTOMER_BIT: u64 = 1 << 63;

/// The peer broke the files protocol in a way that is not about one transfer.
/// The session should close the channel (or the session) with a protocol
/// error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileProtocolError {
    /// The peer offered a transfer with an id from our half of the id space.
    #[error("peer used a transfer id reserved for this side")]
    WrongIdSpace,
}

/// Whether offers may be accepted without asking the receiving user: only
/// when an admin granted the operator "full file transfer control" and the
/// session is one where the operator controls the customer's machine.
pub fn auto_accept_allowed(full_file_transfer_control: bool, mode: ConnectionMode) -> bool {
    full_file_transfer_control
        && matches!(
            mode,
            ConnectionMode::ControlCustomer | ConnectionMode::ManageCustomer
        )
}

/// One party's end of the files channel (see the [module docs](super)).
pub struct FileChannel {
    party: Party,
    config: FileConfig,
    outgoing: Outgoing,
    incoming: Incoming,
    events: VecDeque<FileEvent>,
    next_id: u64,
    auto_accept: Option<Box<dyn Fn() -> Box<dyn Destination> + Send>>,
}

impl std::fmt::Debug for FileChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileChannel")
            .field("party", &self.party)
            .field("auto_accept", &self.auto_accept.is_some())
            .finish_non_exhaustive()
    }
}

impl FileChannel {
    /// A channel for `party`, with nothing queued and auto-accept off.
    pub fn new(party: Party, config: FileConfig) -> Self {
        FileChannel {
            party,
            config,
            outgoing: Outgoing::new(),
            incoming: Incoming::new(),
            events: VecDeque::new(),
            next_id: 1,
            auto_accept: None,
        }
    }

    // --- getters -----------------------------------------------------------

    /// Which side this is.
    pub fn party(&self) -> Party {
        self.party
    }

    /// The configuration.
    pub fn config(&self) -> &FileConfig {
        &self.config
    }

    /// Whether a chunk (or end-of-entry message) could be sent right now —
    /// lets a driver's scheduler know the files queue is non-empty.
    pub fn has_data_to_send(&self) -> bool {
        self.outgoing.has_data(&self.config)
    }

    // --- commands ----------------------------------------------------------

    /// Queues an offer of `entries`; returns its transfer id.
    pub fn offer(&mut self, entries: Vec<OutgoingEntry>, now: Instant) -> u64 {
        let id = self.allocate_id();
        self.outgoing.offer(id, entries, now);
        id
    }

    /// Queues an offer of a local file or folder tree (symlinks skipped).
    pub fn offer_path(&mut self, local: &Path, now: Instant) -> std::io::Result<u64> {
        Ok(self.offer(entries_from_path(local)?, now))
    }

    /// Accepts an offer, writing into `dest`. False if there is no such
    /// offer waiting.
    pub fn accept(&mut self, transfer_id: u64, dest: Box<dyn Destination>, now: Instant) -> bool {
        self.incoming
            .accept(transfer_id, dest, now, &self.config, &mut self.events)
    }

    /// Accepts an offer into a local folder (which must exist).
    pub fn accept_into(&mut self, transfer_id: u64, folder: &Path, now: Instant) -> bool {
        self.accept(transfer_id, Box::new(FsDestination::new(folder)), now)
    }

    /// Declines an offer. False if there is no such offer waiting.
    pub fn decline(&mut self, transfer_id: u64, reason: &str) -> bool {
        self.incoming.decline(transfer_id, reason)
    }

    /// Stops a transfer in either direction; the peer is told and partial
    /// data is deleted.
    pub fn cancel(&mut self, transfer_id: u64, reason: &str, now: Instant) {
        if self.outgoing.contains(transfer_id) {
            self.outgoing.cancel(transfer_id, reason, &mut self.events);
        } else if self.incoming.contains(transfer_id) {
            self.incoming.cancel(
                transfer_id,
                reason,
                false,
                now,
                &self.config,
                &mut self.events,
            );
        }
    }

    /// Accept later offers without asking, into destinations made by
    /// `make_dest` — set it only when [`auto_accept_allowed`] says so, and
    /// clear it (`None`) when the mode changes.
    pub fn set_auto_accept(
        &mut self,
        make_dest: Option<Box<dyn Fn() -> Box<dyn Destination> + Send>>,
    ) {
        self.auto_accept = make_dest;
    }

    /// The session's connection dropped: messages not yet sent are dropped
    /// and sending pauses until the receiver says where to resume.
    pub fn connection_lost(&mut self) {
        self.outgoing.connection_lost();
        self.incoming.connection_lost();
    }

    /// The session is connected again: repeat what the peer may have missed
    /// and resume every entry from its last acknowledged byte.
    pub fn reconnected(&mut self, now: Instant) {
        self.outgoing.reconnected();
        self.incoming
            .reconnected(now, &self.config, &mut self.events);
    }

    // --- input ---------------------------------------------------------------

    /// Feeds one message from the peer. Per-transfer problems cancel that
    /// transfer (and show up as events); only channel-level violations are
    /// returned as errors.
    pub fn handle(&mut self, msg: FileMessage, now: Instant) -> Result<(), FileProtocolError> {
        let config = &self.config;
        match msg {
            FileMessage::Offer(offer) => {
                if self.is_ours(offer.transfer_id) {
                    return Err(FileProtocolError::WrongIdSpace);
                }
                let transfer_id = offer.transfer_id;
                if self.incoming.offer(offer, now, &mut self.events) {
                    let Some(offer) = self.incoming.offer_of(transfer_id) else {
                        return Ok(());
                    };
                    let entries = offer.entries.clone();
                    let total_size = offer.total_size();
                    match &self.auto_accept {
                        Some(make) => {
                            let dest = make();
                            self.events.push_back(FileEvent::OfferAutoAccepted {
                                transfer_id,
                                entries,
                                total_size,
                            });
                            self.incoming
                                .accept(transfer_id, dest, now, config, &mut self.events);
                        }
                        None => self.events.push_back(FileEvent::OfferReceived {
                            transfer_id,
                            entries,
                            total_size,
                        }),
                    }
                }
            }
            FileMessage::Chunk(c) => self.incoming.chunk(c, now, config, &mut self.events),
            FileMessage::EntryDone {
                transfer_id,
                entry,
                sha256,
            } => {
                self.incoming
                    .entry_done(transfer_id, entry, sha256, now, config, &mut self.events)
            }
            FileMessage::Cancel {
                transfer_id,
                reason,
            } => {
                if self.is_ours(transfer_id) {
                    self.outgoing.handle(
                        FileMessage::Cancel {
                            transfer_id,
                            reason,
                        },
                        now,
                        config,
                        &mut self.events,
                    );
                } else {
                    self.incoming
                        .cancel(transfer_id, &reason, true, now, config, &mut self.events);
                }
            }
            // Answer, Resume, Ack, EntryResult: about our offers.
            other => self.outgoing.handle(other, now, config, &mut self.events),
        }
        Ok(())
    }

    // --- output --------------------------------------------------------------

    /// The next message to send, or `None`. Control messages (answers,
    /// acknowledgements, results) come before file data so the peer's window
    /// keeps opening; each call yields at most one chunk.
    pub fn poll_transmit(&mut self) -> Option<FileMessage> {
        if let Some(m) = self.incoming.poll_control() {
            return Some(m);
        }
        if let Some(m) = self.outgoing.poll_control() {
            return Some(m);
        }
        let m = self.outgoing.poll_data(&self.config, &mut self.events);
        // A failed read cancels the transfer: send that Cancel next.
        m.or_else(|| self.outgoing.poll_control())
    }

    /// When [`Self::handle_timeout`] must be called at the latest (`None`:
    /// no timer needed).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.incoming.poll_timeout(&self.config)
    }

    /// Runs what is due at `now` (delayed acknowledgements).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.incoming
            .handle_timeout(now, &self.config, &mut self.events);
    }

    /// The next event for the application, or `None`.
    pub fn poll_event(&mut self) -> Option<FileEvent> {
        self.events.pop_front()
    }

    fn allocate_id(&mut self) -> u64 {
        let id = self.next_id & !CUSTOMER_BIT;
        self.next_id = self.next_id.wrapping_add(1);
        match self.party {
            Party::Operator => id,
            Party::Customer => id | CUSTOMER_BIT,
        }
    }

    fn is_ours(&self, transfer_id: u64) -> bool {
        let customer_id = transfer_id & CUSTOMER_BIT != 0;
        customer_id == (self.party == Party::Customer)
    }
}
