//! File transfer, both directions, as a sans-IO state machine.
//!
//! A [`FileChannel`] is one party's end of the files channel of a session. It
//! sends (offers, chunks, checksums) and receives (answers, writes, verifies)
//! at the same time. It does no IO at all and reads no clock: the session
//! driver feeds it [`FileMessage`]s, `now` and the results of the disk
//! operations it asked for, and pulls messages, [`FileIoRequest`]s and events
//! out. A driver performs each request (`rsupport_client::storage` does it
//! on the real filesystem) on a blocking worker, never on the task that
//! moves input and frames, and may run several at once, in any order (see
//! [`io`]).
//!
//! # Run loop
//!
//! ```text
//! loop {
//!     message from the peer      → channel.handle(message, now)?
//!     product decides an offer   → channel.accept_into(id, folder, now) / decline(..)
//!     while let Some(req) = channel.poll_io()        → run it on a worker (any order)
//!     worker finished a request  → channel.handle_io(req.id, result, now)
//!     while let Some(m) = channel.poll_transmit()    → send to the peer
//!     while let Some(ev) = channel.poll_event()      → show to the user
//! }
//! ```
//!
//! `rsupport_client::storage::execute` performs a request on the real
//! filesystem; its module docs run this loop end to end with two channels.
//!
//! A real driver also keeps one timer: sleep until [`FileChannel::poll_timeout`]
//! (if any) and then call [`FileChannel::handle_timeout`] — the receiver uses
//! it to acknowledge data when chunks pause.
//!
//! # Fair sharing
//!
//! [`FileChannel::poll_transmit`] returns at most one chunk per call (128 KiB
//! by default) and never more than [`FileConfig::window`] un-acknowledged
//! bytes per transfer, so the driver can interleave screen and input traffic
//! between chunks: call it only when higher-priority queues are empty. A
//! chunk is only sent once its [`FileIo::Read`] completed; reads are asked
//! for ahead, within the window, so a slow disk does not stall the stream
//! as long as the window covers its latency.
//!
//! Interleaving only helps where frames can still be reordered. Data in
//! flight mostly waits in first-in-first-out TCP buffers (sender, relay,
//! receiver), where a keystroke or a frame acknowledgement queues behind
//! it; the window bounds that wait to about `window / receive rate`. The
//! `files_responsiveness` bench measures it.
//!
//! # Reconnect and resume
//!
//! Call [`FileChannel::connection_lost`] when the session's connection drops
//! and [`FileChannel::reconnected`] once it is back. The receiver cuts each
//! partial file back to the last acknowledged (synced) byte, re-hashes that
//! prefix from disk (requests, once earlier writes completed) and asks for
//! the rest; the SHA-256 still covers the whole
//! file and a mismatch is an error, never a wrong file in place. Chunks that
//! the sender sent before it heard of the reconnect may still arrive (a
//! relay re-routes on resume); the receiver drops those that do not continue
//! the file.
//!
//! # Transfer ids
//!
//! Ids are chosen by the sender. The schema's `Cancel` does not say which
//! direction it means, so each [`Party`] allocates from its own half of the id
//! space (operator: top bit clear, customer: top bit set) and an offer from
//! the wrong half is a protocol error.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod channel;
pub mod io;
mod partial_ops;
pub mod path;
pub mod progress;
mod receiver;
mod receiving;
mod sender;

use std::time::Duration;

pub use channel::{auto_accept_allowed, FileChannel, FileProtocolError};
pub use io::{
    FileIo, FileIoRequest, IoDone, IoId, IoResult, OutgoingEntry, PartialKey, StoreError,
};
pub use path::{validate_relative_path, PathError, SafePath};
pub use progress::Progress;

pub use rsupport_proto::files::{FileEntry, FileMessage};

/// Which side of the session this channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// The support agent.
    Operator,
    /// The customer's program.
    Customer,
}

/// Whether a transfer goes out or comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We send it.
    Send,
    /// We receive it.
    Receive,
}

/// Tuning knobs. The defaults suit a LAN or WAN session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileConfig {
    /// Bytes per chunk (at most the wire cap of 1 MiB). 128 KiB: a
    /// keystroke or frame that lands behind a chunk on the wire waits for
    /// at most one chunk, and per-chunk costs (one read, one write, one
    /// envelope) stay small next to the bytes.
    pub chunk_size: usize,
    /// Un-acknowledged bytes a sender may have in flight per transfer.
    /// It is also the most file data that input and frame acknowledgements
    /// in the same direction can queue behind (in TCP buffers and the
    /// relay), so the default is small: 1 MiB. Measured on loopback through
    /// the TLS relay (`files_responsiveness`), 2 MiB gave input p99 8–10 ms
    /// and 83–88 % of the idle frame rate while a file moved, 1 MiB gave
    /// 5–7 ms and 95–97 %, at the same throughput. The price is WAN speed:
    /// one transfer gets at most about `window / round-trip time` (20 MiB/s
    /// at 50 ms); raise it with [`FileConfig::with_window`] where that
    /// matters more. Acknowledgements cover only synced bytes, so on a disk
    /// the window must also cover the sync latency.
    pub window: u64,
    /// The receiver syncs and acknowledges at least this often (bytes).
    /// A quarter of the window, so the sender keeps sending while a sync
    /// runs instead of stopping once per window.
    pub ack_interval: u64,
    /// At most one progress event per transfer per this interval.
    pub progress_interval: Duration,
    /// The receiver acknowledges bytes this long after the last chunk even
    /// below `ack_interval`, so a peer with a smaller window cannot stall.
    pub ack_delay: Duration,
    /// Most bytes this side accepts to receive in one session (4 GiB); an
    /// offer that would go past it is refused with the reason.
    pub max_received_bytes: u64,
    /// Offers waiting for the user's answer at once (16); more are refused
    /// without asking, so a peer cannot pile up prompts or memory.
    pub max_pending_offers: usize,
    /// Bytes of offer metadata (paths, about 64 bytes per entry besides)
    /// waiting for an answer at once (1 MiB).
    pub max_pending_offer_bytes: usize,
    /// An offer nobody answered in this time (10 min) is declined.
    pub offer_timeout: Duration,
}

impl Default for FileConfig {
    fn default() -> Self {
        FileConfig {
            chunk_size: 128 * 1024,
            window: 1024 * 1024,
            ack_interval: 256 * 1024,
            progress_interval: Duration::from_millis(250),
            ack_delay: Duration::from_millis(50),
            max_received_bytes: 4 * 1024 * 1024 * 1024,
            max_pending_offers: 16,
            max_pending_offer_bytes: 1024 * 1024,
            offer_timeout: Duration::from_secs(10 * 60),
        }
    }
}

impl FileConfig {
    /// With a different chunk size (clamped to 1 byte ..= 1 MiB).
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.clamp(1, rsupport_proto::limits::MAX_CHUNK);
        self
    }

    /// With at most one progress event per transfer per `interval`.
    pub fn with_progress_interval(mut self, interval: Duration) -> Self {
        self.progress_interval = interval;
        self
    }

    /// With a different limit on the bytes received in one session.
    pub fn with_max_received_bytes(mut self, bytes: u64) -> Self {
        self.max_received_bytes = bytes;
        self
    }

    /// With a different window and acknowledgement interval.
    pub fn with_window(mut self, window: u64, ack_interval: u64) -> Self {
        self.window = window.max(1);
        self.ack_interval = ack_interval.clamp(1, self.window);
        self
    }
}

/// Why one entry failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The received data's SHA-256 differs from the sender's. The partial file
    /// was deleted; nothing is at the final path.
    #[error("checksum mismatch: the received data differs from the sent file")]
    ChecksumMismatch,
    /// The sender's path is not safe.
    #[error("unsafe path: {0}")]
    UnsafePath(PathError),
    /// Two entries of one offer have the same path.
    #[error("two entries have the same path")]
    DuplicatePath,
    /// Writing, syncing or moving the file failed.
    #[error("{0}")]
    Store(StoreError),
    /// The peer reported this failure.
    #[error("peer reported: {0}")]
    Reported(String),
}

/// What happened, for the product's UI. File names appear only in
/// [`FileEvent::OfferReceived`]; none of these should be logged verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileEvent {
    /// The peer offers files; answer with [`FileChannel::accept_into`] or
    /// [`FileChannel::decline`].
    OfferReceived {
        /// Transfer.
        transfer_id: u64,
        /// Entries as offered (paths already validated).
        entries: Vec<FileEntry>,
        /// Sum of the sizes.
        total_size: u64,
    },
    /// An offer was accepted without asking (auto-accept policy).
    OfferAutoAccepted {
        /// Transfer.
        transfer_id: u64,
        /// Entries as offered.
        entries: Vec<FileEntry>,
        /// Sum of the sizes.
        total_size: u64,
    },
    /// An offer was refused without asking: it would go past this
    /// session's limit for received files, the destination has too little
    /// free space, or nobody answered it in time. The peer got `reason`.
    OfferRefused {
        /// Transfer.
        transfer_id: u64,
        /// Why, in plain words.
        reason: String,
    },
    /// An offer was refused without asking because an entry is unsafe.
    OfferRejected {
        /// Transfer.
        transfer_id: u64,
        /// The first bad entry.
        entry: u32,
        /// What is wrong with it.
        error: EntryError,
    },
    /// The peer accepted our offer.
    Accepted {
        /// Transfer.
        transfer_id: u64,
    },
    /// The peer declined our offer.
    Declined {
        /// Transfer.
        transfer_id: u64,
        /// The peer's reason.
        reason: String,
    },
    /// Bytes, rate and ETA.
    Progress(Progress),
    /// One entry arrived and was verified (or was confirmed by the peer).
    EntryCompleted {
        /// Transfer.
        transfer_id: u64,
        /// Entry index.
        entry: u32,
        /// Our role in the transfer.
        direction: Direction,
    },
    /// One entry failed; the others go on.
    EntryFailed {
        /// Transfer.
        transfer_id: u64,
        /// Entry index.
        entry: u32,
        /// Our role in the transfer.
        direction: Direction,
        /// Why.
        error: EntryError,
    },
    /// Every entry has a result.
    Finished {
        /// Transfer.
        transfer_id: u64,
        /// Our role in the transfer.
        direction: Direction,
        /// How many entries failed.
        failed_entries: u32,
    },
    /// The transfer was stopped.
    Cancelled {
        /// Transfer.
        transfer_id: u64,
        /// Our role in the transfer.
        direction: Direction,
        /// Whether the peer stopped it.
        by_peer: bool,
        /// Why.
        reason: String,
    },
}
