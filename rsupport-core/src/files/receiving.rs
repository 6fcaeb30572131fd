//! The state of the one entry a receiving transfer works on.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use web_time::Instant;

use sha2::Sha256;

use super::io::{FileIo, PartialKey};
use super::partial_ops::{OpKind, OpTag, PartialOps};
use super::receiver::Ctx;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// A folder entry is being created.
    CreatingDir,
    /// The partial file is being created; then `Resume` from 0.
    Opening,
    /// Data flows.
    Receiving,
    /// After a reconnect: the partial file is cut back to the acknowledged
    /// bytes (`keep` unknown until then) and read back up to `at`, then
    /// `Resume` goes out.
    Resuming { keep: Option<u64>, at: u64 },
    /// Verified, durable, being moved into place.
    Committing,
}

pub(crate) struct Receiving {
    pub(crate) index: u32,
    pub(crate) size: u64,
    pub(crate) stage: Stage,
    /// Results of requests of an earlier epoch are stale (reconnect).
    pub(crate) epoch: u64,
    /// Covers bytes `0..written`.
    pub(crate) hasher: Sha256,
    /// Bytes received and handed to writes.
    pub(crate) written: u64,
    /// Offsets of writes in flight.
    pub(crate) writes: BTreeSet<u64>,
    /// A sync in flight, covering bytes up to this offset.
    pub(crate) syncing: Option<u64>,
    /// Synced to disk and acknowledged.
    pub(crate) acked: u64,
    /// When the last chunk arrived: un-acknowledged bytes are acknowledged
    /// [`FileConfig::ack_delay`] after it even below the ack interval, so a
    /// sender with a smaller window never stalls.
    pub(crate) last_write: Instant,
    /// The connection dropped during this entry: data the sender sent
    /// before it learnt of the drop may still arrive (relays re-route on
    /// resume). Chunks that do not continue the file are dropped instead of
    /// failing the transfer; the SHA-256 at the end still covers every byte.
    pub(crate) after_reconnect: bool,
    /// `EntryDone` arrived with a matching SHA-256: commit once durable.
    pub(crate) verified: bool,
}

impl Receiving {
    /// Bytes whose writes have all completed.
    pub(crate) fn written_done(&self) -> u64 {
        self.writes.first().copied().unwrap_or(self.written)
    }

    pub(crate) fn key(&self, transfer_id: u64) -> PartialKey {
        PartialKey {
            transfer_id,
            entry: self.index,
        }
    }

    pub(crate) fn tag(&self, transfer_id: u64, kind: OpKind) -> OpTag {
        OpTag {
            transfer_id,
            entry: self.index,
            epoch: self.epoch,
            kind,
        }
    }
}

/// Asks for a sync of the bytes whose writes completed, when enough have
/// piled up (or `due`, or the entry is complete) and none is in flight.
/// The acknowledgement goes out when the sync completes: the sender's
/// window and the resume point move only past durable bytes.
pub(crate) fn maybe_sync(
    cur: &mut Receiving,
    transfer_id: u64,
    root: &Arc<Path>,
    due: bool,
    ops: &mut PartialOps,
    cx: &mut Ctx<'_>,
) {
    if cur.stage != Stage::Receiving || cur.syncing.is_some() {
        return;
    }
    let upto = cur.written_done();
    if upto <= cur.acked {
        return;
    }
    if !(due || upto == cur.size || upto - cur.acked >= cx.config.ack_interval) {
        return;
    }
    cur.syncing = Some(upto);
    let io = FileIo::Sync {
        root: Arc::clone(root),
        key: cur.key(transfer_id),
    };
    ops.issue(cx.io, io, cur.tag(transfer_id, OpKind::Sync { upto }));
}
