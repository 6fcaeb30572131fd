//! [`FileChannel`]: both halves of one party's files channel behind one
//! `handle` / `handle_io` / `poll_transmit` / `poll_io` / `poll_event`
//! surface.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use web_time::Instant;

use rsupport_proto::files::FileMessage;
use rsupport_proto::ConnectionMode;

use super::io::{FileIoRequest, IoId, IoQueue, IoResult, OutgoingEntry};
use super::receiver::{Ctx, Incoming};
use super::sender::Outgoing;
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
    io: IoQueue,
    next_id: u64,
    /// Where offers go without asking (auto-accept), if anywhere.
    auto_accept: Option<Arc<Path>>,
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
            io: IoQueue::default(),
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

    /// Offers refused without asking because too many were waiting for an
    /// answer (a peer flooding offers).
    pub fn refused_offers(&self) -> u64 {
        self.incoming.refused_offers()
    }

    /// Changes the most bytes this side accepts to receive in the session
    /// (the client's setting; see [`FileConfig::max_received_bytes`]).
    pub fn set_max_received_bytes(&mut self, bytes: u64) {
        self.config.max_received_bytes = bytes;
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

    /// Accepts an offer, writing into the local folder `folder` (which
    /// must exist) through [`FileIo`](super::FileIo) requests. False if
    /// there is no such offer waiting.
    pub fn accept_into(&mut self, transfer_id: u64, folder: &Path, now: Instant) -> bool {
        let mut cx = Ctx {
            now,
            config: &self.config,
            io: &mut self.io,
            events: &mut self.events,
        };
        self.incoming
            .accept(transfer_id, Arc::from(folder), &mut cx)
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
            let mut cx = Ctx {
                now,
                config: &self.config,
                io: &mut self.io,
                events: &mut self.events,
            };
            self.incoming.cancel(transfer_id, reason, false, &mut cx);
        }
    }

    /// Accept later offers without asking, into the local folder `folder`
    /// — set it only when [`auto_accept_allowed`] says so, and clear it
    /// (`None`) when the mode changes.
    pub fn set_auto_accept(&mut self, folder: Option<PathBuf>) {
        self.auto_accept = folder.map(Arc::from);
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
        let mut cx = Ctx {
            now,
            config: &self.config,
            io: &mut self.io,
            events: &mut self.events,
        };
        self.incoming.reconnected(&mut cx);
    }

    // --- input ---------------------------------------------------------------

    /// Feeds one message from the peer. Per-transfer problems cancel that
    /// transfer (and show up as events); only channel-level violations are
    /// returned as errors.
    pub fn handle(&mut self, msg: FileMessage, now: Instant) -> Result<(), FileProtocolError> {
        let party = self.party;
        let mut cx = Ctx {
            now,
            config: &self.config,
            io: &mut self.io,
            events: &mut self.events,
        };
        match msg {
            FileMessage::Offer(offer) => {
                if is_ours(party, offer.transfer_id) {
                    return Err(FileProtocolError::WrongIdSpace);
                }
                let transfer_id = offer.transfer_id;
                if self.incoming.offer(offer, &mut cx) {
                    let Some(offer) = self.incoming.offer_of(transfer_id) else {
                        return Ok(());
                    };
                    let entries = offer.entries.clone();
                    let total_size = offer.total_size();
                    match &self.auto_accept {
                        Some(folder) => {
                            cx.events.push_back(FileEvent::OfferAutoAccepted {
                                transfer_id,
                                entries,
                                total_size,
                            });
                            let folder = Arc::clone(folder);
                            self.incoming.accept(transfer_id, folder, &mut cx);
                        }
                        None => cx.events.push_back(FileEvent::OfferReceived {
                            transfer_id,
                            entries,
                            total_size,
                        }),
                    }
                }
            }
            FileMessage::Chunk(c) => self.incoming.chunk(c, &mut cx),
            FileMessage::EntryDone {
                transfer_id,
                entry,
                sha256,
            } => self
                .incoming
                .entry_done(transfer_id, entry, sha256, &mut cx),
            FileMessage::Cancel {
                transfer_id,
                reason,
            } => {
                if is_ours(party, transfer_id) {
                    let msg = FileMessage::Cancel {
                        transfer_id,
                        reason,
                    };
                    self.outgoing.handle(msg, now, &self.config, cx.events);
                } else {
                    self.incoming.cancel(transfer_id, &reason, true, &mut cx);
                }
            }
            // Answer, Resume, Ack, EntryResult: about our offers.
            other => self.outgoing.handle(other, now, &self.config, cx.events),
        }
        Ok(())
    }

    /// Feeds the outcome of the [`FileIoRequest`] `id` (in any order;
    /// results nobody waits for any more are ignored). A failed request
    /// fails its transfer (an event, and the peer is told), never the
    /// channel.
    pub fn handle_io(&mut self, id: IoId, result: IoResult, now: Instant) {
        if self.outgoing.owns(id) {
            self.outgoing.handle_io(id, result, &mut self.events);
            return;
        }
        let mut cx = Ctx {
            now,
            config: &self.config,
            io: &mut self.io,
            events: &mut self.events,
        };
        self.incoming.handle_io(id, result, &mut cx);
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
        self.outgoing.poll_data(&self.config)
    }

    /// The next IO to perform, or `None`. Reads are asked for ahead of
    /// sending, up to the window; call it again after each result.
    pub fn poll_io(&mut self) -> Option<FileIoRequest> {
        if self.io.is_empty() {
            self.outgoing.request_reads(&self.config, &mut self.io);
        }
        self.io.pop()
    }

    /// When [`Self::handle_timeout`] must be called at the latest (`None`:
    /// no timer needed).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.incoming.poll_timeout(&self.config)
    }

    /// Runs what is due at `now` (delayed acknowledgements).
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut cx = Ctx {
            now,
            config: &self.config,
            io: &mut self.io,
            events: &mut self.events,
        };
        self.incoming.handle_timeout(&mut cx);
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
}

/// Whether `transfer_id` is from `party`'s half of the id space.
fn is_ours(party: Party, transfer_id: u64) -> bool {
    let customer_id = transfer_id & CUSTOMER_BIT != 0;
    customer_id == (party == Party::Customer)
}
