//! The receiving half: validates offers, asks the user (or auto-accepts),
//! requests each entry from an offset, writes chunks to a partial file,
//! acknowledges durable bytes, verifies SHA-256 and only then moves the file
//! into place.
//!
//! Every disk operation is a [`FileIo`] request (see [`super::io`]); writes
//! and syncs overlap, and an acknowledgement covers only bytes whose writes
//! completed before a sync that completed.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use web_time::Instant;

use rsupport_proto::files::{FileChunk, FileMessage, FileOffer, Sha256Digest};
use sha2::{Digest, Sha256};

use super::io::{FileIo, IoDone, IoId, IoQueue, IoResult, StoreError};
use super::partial_ops::{OpKind, PartialOps};
use super::path::{validate_relative_path, SafePath};
use super::progress::ProgressMeter;
use super::receiving::{maybe_sync, Receiving, Stage};
use super::{Direction, EntryError, FileConfig, FileEvent};

mod admission;

/// What every step of the receiver needs from the channel.
pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) config: &'a FileConfig,
    pub(crate) io: &'a mut IoQueue,
    pub(crate) events: &'a mut VecDeque<FileEvent>,
}

/// Incoming transfers of one channel.
pub(crate) struct Incoming {
    transfers: BTreeMap<u64, InTransfer>,
    /// Accepted transfers in the order they get data (one at a time).
    queue: VecDeque<u64>,
    /// Declined, cancelled or finished transfers, so a repeated offer after a
    /// reconnect is not shown to the user again.
    closed: BTreeSet<u64>,
    /// `closed` in the order ids were added, to forget the oldest.
    closed_order: VecDeque<u64>,
    control: VecDeque<FileMessage>,
    ops: PartialOps,
    next_epoch: u64,
    /// Offers refused because too many were waiting (see `admission`).
    refused_offers: u64,
    /// Bytes of accepted offers this session (the received-bytes limit).
    reserved: u64,
}

struct InTransfer {
    offer: FileOffer,
    paths: Vec<SafePath>,
    /// The destination folder, once accepted and its free space checked.
    dest: Option<Arc<Path>>,
    /// Accepted into this folder; its free space is being checked.
    checking: Option<Arc<Path>>,
    /// When the offer came (waiting offers expire).
    offered_at: Instant,
    /// What the offer's metadata costs while it waits.
    offer_bytes: usize,
    current: Option<Receiving>,
    next_entry: usize,
    /// Results sent so far, repeated after a reconnect (the peer ignores
    /// duplicates) so none is lost with the old connection.
    results: Vec<(u32, Option<String>)>,
    failed: u32,
    finished_bytes: u64,
    meter: ProgressMeter,
}

impl Incoming {
    pub(crate) fn new() -> Self {
        Incoming {
            transfers: BTreeMap::new(),
            queue: VecDeque::new(),
            closed: BTreeSet::new(),
            closed_order: VecDeque::new(),
            control: VecDeque::new(),
            ops: PartialOps::default(),
            next_epoch: 0,
            refused_offers: 0,
            reserved: 0,
        }
    }

    pub(crate) fn contains(&self, transfer_id: u64) -> bool {
        self.transfers.contains_key(&transfer_id)
    }

    /// A new offer. Returns true when it awaits the user's decision.
    pub(crate) fn offer(&mut self, offer: FileOffer, cx: &mut Ctx<'_>) -> bool {
        let now = cx.now;
        let transfer_id = offer.transfer_id;
        if let Some(t) = self.transfers.get(&transfer_id) {
            if t.dest.is_some() {
                self.control.push_back(accept_msg(transfer_id)); // our answer was lost
            }
            return false;
        }
        if self.closed.contains(&transfer_id) {
            self.control.push_back(FileMessage::Answer {
                transfer_id,
                accept: false,
                reason: "this transfer was already closed".into(),
            });
            return false;
        }
        let bytes = admission::offer_bytes(&offer);
        if !self.room_for_offer(bytes, cx) {
            // No event: a flood must not become a flood of prompts.
            self.control.push_back(FileMessage::Answer {
                transfer_id,
                accept: false,
                reason: "too many offers are waiting for an answer; send again once they \
                         are answered"
                    .into(),
            });
            return false;
        }
        let events = &mut *cx.events;
        let mut paths = Vec::with_capacity(offer.entries.len());
        let mut seen = HashSet::with_capacity(offer.entries.len());
        for (i, e) in offer.entries.iter().enumerate() {
            let entry = u32::try_from(i).unwrap_or(u32::MAX);
            let checked = validate_relative_path(&e.path)
                .map_err(EntryError::UnsafePath)
                .and_then(|p| {
                    if seen.insert(p.clone()) {
                        Ok(p)
                    } else {
                        Err(EntryError::DuplicatePath)
                    }
                });
            match checked {
                Ok(p) => paths.push(p),
                Err(error) => {
                    self.close_id(transfer_id);
                    self.control.push_back(FileMessage::Answer {
                        transfer_id,
                        accept: false,
                        reason: format!("entry {entry}: {error}"),
                    });
                    events.push_back(FileEvent::OfferRejected {
                        transfer_id,
                        entry,
                        error,
                    });
                    return false;
                }
            }
        }
        self.transfers.insert(
            transfer_id,
            InTransfer {
                offer,
                paths,
                dest: None,
                checking: None,
                offered_at: now,
                offer_bytes: bytes,
                current: None,
                next_entry: 0,
                results: Vec::new(),
                failed: 0,
                finished_bytes: 0,
                meter: ProgressMeter::new(now),
            },
        );
        true
    }

    pub(crate) fn offer_of(&self, transfer_id: u64) -> Option<&FileOffer> {
        self.transfers.get(&transfer_id).map(|t| &t.offer)
    }

    /// Accepts into `dest` once the session limit and the free space allow
    /// (see `admission`); false if there is no such offer waiting or it was
    /// refused ([`FileEvent::OfferRefused`] says why).
    pub(crate) fn accept(&mut self, transfer_id: u64, dest: Arc<Path>, cx: &mut Ctx<'_>) -> bool {
        self.admit(transfer_id, dest, cx)
    }

    pub(crate) fn decline(&mut self, transfer_id: u64, reason: &str) -> bool {
        if self
            .transfers
            .get(&transfer_id)
            .is_none_or(|t| t.dest.is_some() || t.checking.is_some())
        {
            return false;
        }
        self.transfers.remove(&transfer_id);
        self.close_id(transfer_id);
        self.control.push_back(FileMessage::Answer {
            transfer_id,
            accept: false,
            reason: reason.to_owned(),
        });
        true
    }

    /// Stops a transfer: partial file deleted, peer told unless `by_peer`.
    pub(crate) fn cancel(
        &mut self,
        transfer_id: u64,
        reason: &str,
        by_peer: bool,
        cx: &mut Ctx<'_>,
    ) {
        let Some(mut t) = self.transfers.remove(&transfer_id) else {
            return;
        };
        if t.dest.is_some() || t.checking.is_some() {
            let unreceived = t.offer.total_size().saturating_sub(t.finished_bytes);
            self.reserved = self.reserved.saturating_sub(unreceived);
        }
        self.close_id(transfer_id);
        if let (Some(cur), Some(root)) = (t.current.take(), t.dest.as_ref()) {
            if cur.stage != Stage::CreatingDir {
                // Waits for the writes in flight, so none re-creates it.
                let io = FileIo::Discard {
                    root: Arc::clone(root),
                    key: cur.key(transfer_id),
                };
                self.ops
                    .issue(cx.io, io, cur.tag(transfer_id, OpKind::Discard));
            }
        }
        self.queue.retain(|id| *id != transfer_id);
        if !by_peer {
            self.control.push_back(FileMessage::Cancel {
                transfer_id,
                reason: reason.to_owned(),
            });
        }
        cx.events.push_back(FileEvent::Cancelled {
            transfer_id,
            direction: Direction::Receive,
            by_peer,
            reason: reason.to_owned(),
        });
        self.advance(cx);
    }

    pub(crate) fn chunk(&mut self, c: FileChunk, cx: &mut Ctx<'_>) {
        let transfer_id = c.transfer_id;
        let Some(t) = self.transfers.get_mut(&transfer_id) else {
            return self.unknown(transfer_id);
        };
        let total = t.offer.total_size();
        if t.current.as_ref().is_some_and(|r| {
            r.after_reconnect
                && (r.stage != Stage::Receiving || r.index != c.entry || c.offset != r.written)
        }) {
            return; // sent before the sender heard of the reconnect
        }
        let Some(root) = t.dest.clone() else { return };
        let Some(cur) = t
            .current
            .as_mut()
            .filter(|r| r.index == c.entry && r.stage == Stage::Receiving && !r.verified)
        else {
            let why = "protocol error: data for an entry not requested";
            return self.cancel(transfer_id, why, false, cx);
        };
        let end = c.offset.saturating_add(c.data.len() as u64);
        if c.offset != cur.written || end > cur.size {
            let why = "protocol error: data out of order or past the announced size";
            return self.cancel(transfer_id, why, false, cx);
        }
        cur.hasher.update(&c.data);
        cur.written = end;
        cur.last_write = cx.now;
        if !c.data.is_empty() {
            cur.writes.insert(c.offset);
            let io = FileIo::Write {
                root,
                key: cur.key(transfer_id),
                offset: c.offset,
                data: c.data,
            };
            let tag = cur.tag(transfer_id, OpKind::Write { offset: c.offset });
            self.ops.issue(cx.io, io, tag);
        }
        if let Some(root) = t.dest.as_ref() {
            maybe_sync(cur, transfer_id, root, false, &mut self.ops, cx);
        }
        t.meter.record(cx.now, t.finished_bytes + cur.written);
        if let Some(p) = t.meter.poll(
            cx.now,
            cx.config.progress_interval,
            false,
            transfer_id,
            Direction::Receive,
            total,
        ) {
            cx.events.push_back(FileEvent::Progress(p));
        }
    }

    pub(crate) fn entry_done(
        &mut self,
        transfer_id: u64,
        entry: u32,
        sha256: Sha256Digest,
        cx: &mut Ctx<'_>,
    ) {
        let Some(t) = self.transfers.get_mut(&transfer_id) else {
            return self.unknown(transfer_id);
        };
        let fits = |r: &Receiving| {
            r.index == entry && r.written == r.size && r.stage == Stage::Receiving && !r.verified
        };
        if t.current
            .as_ref()
            .is_some_and(|r| r.after_reconnect && !fits(r))
        {
            return; // an end sent before the sender heard of the reconnect
        }
        if !t.current.as_ref().is_some_and(fits) {
            let why = "protocol error: entry ended early";
            return self.cancel(transfer_id, why, false, cx);
        }
        let Some(cur) = t.current.as_mut() else {
            return;
        };
        let got: Sha256Digest = cur.hasher.clone().finalize().into();
        if got == sha256 {
            cur.verified = true;
            return self.try_commit(transfer_id, cx);
        }
        let size = cur.size;
        if let (Some(cur), Some(root)) = (t.current.take(), t.dest.as_ref()) {
            let io = FileIo::Discard {
                root: Arc::clone(root),
                key: cur.key(transfer_id),
            };
            self.ops
                .issue(cx.io, io, cur.tag(transfer_id, OpKind::Discard));
        }
        t.finished_bytes += size;
        let outcome = Err(EntryError::ChecksumMismatch);
        Self::record_result(t, transfer_id, entry, outcome, &mut self.control, cx.events);
        t.next_entry += 1;
        self.advance(cx);
    }

    /// Commits the current entry once it is verified and every byte is
    /// written and synced.
    fn try_commit(&mut self, transfer_id: u64, cx: &mut Ctx<'_>) {
        let Some(t) = self.transfers.get_mut(&transfer_id) else {
            return;
        };
        let (Some(cur), Some(root)) = (t.current.as_mut(), t.dest.as_ref()) else {
            return;
        };
        if !cur.verified || cur.stage != Stage::Receiving {
            return;
        }
        if cur.acked < cur.size {
            return maybe_sync(cur, transfer_id, root, true, &mut self.ops, cx);
        }
        let index = cur.index as usize;
        let (Some(path), Some(info)) = (t.paths.get(index), t.offer.entries.get(index)) else {
            return;
        };
        cur.stage = Stage::Committing;
        let io = FileIo::Commit {
            root: Arc::clone(root),
            key: cur.key(transfer_id),
            path: path.clone(),
            modified_ms: info.modified_ms,
        };
        self.ops
            .issue(cx.io, io, cur.tag(transfer_id, OpKind::Commit));
    }

    /// Feeds the result of one of our requests. False if `id` is not ours.
    pub(crate) fn handle_io(&mut self, id: IoId, result: IoResult, cx: &mut Ctx<'_>) -> bool {
        if !self.ops.contains(id) {
            return false;
        }
        let Some(tag) = self.ops.complete(cx.io, id) else {
            return true;
        };
        let transfer_id = tag.transfer_id;
        if tag.kind == OpKind::FreeSpace {
            self.space_checked(transfer_id, result, cx);
            return true;
        }
        let Some(t) = self.transfers.get_mut(&transfer_id) else {
            return true; // cancelled or finished since
        };
        let Some(root) = t.dest.clone() else {
            return true;
        };
        let Some(cur) = t
            .current
            .as_mut()
            .filter(|c| c.index == tag.entry && c.epoch == tag.epoch)
        else {
            return true; // an earlier entry or an earlier connection
        };
        let fail = |op: &str, e: &StoreError| match e.kind() {
            Some(kind) => format!("{op} failed: {kind}"),
            None => format!("{op} failed: {e}"),
        };
        match (tag.kind, result) {
            (OpKind::CreateDir | OpKind::Open | OpKind::Commit, outcome) => {
                let size = cur.size;
                let outcome = outcome.map(|_| ()).map_err(EntryError::Store);
                if tag.kind == OpKind::Open && outcome.is_ok() {
                    cur.stage = Stage::Receiving;
                    cur.last_write = cx.now;
                    self.control.push_back(FileMessage::Resume {
                        transfer_id,
                        entry: cur.index,
                        offset: 0,
                    });
                    return true;
                }
                if tag.kind == OpKind::Commit && outcome.is_err() {
                    let io = FileIo::Discard {
                        root,
                        key: cur.key(transfer_id),
                    };
                    self.ops
                        .issue(cx.io, io, cur.tag(transfer_id, OpKind::Discard));
                }
                t.current = None;
                t.finished_bytes += size;
                let control = &mut self.control;
                Self::record_result(t, transfer_id, tag.entry, outcome, control, cx.events);
                t.next_entry += 1;
                self.advance(cx);
            }
            (OpKind::Write { offset }, Ok(_)) => {
                cur.writes.remove(&offset);
                let due = cx.now >= cur.last_write + cx.config.ack_delay;
                maybe_sync(cur, transfer_id, &root, due, &mut self.ops, cx);
                self.try_commit(transfer_id, cx);
            }
            (OpKind::Sync { upto }, Ok(_)) => {
                cur.syncing = None;
                if upto > cur.acked {
                    cur.acked = upto;
                    self.control.push_back(FileMessage::Ack {
                        transfer_id,
                        entry: cur.index,
                        offset: upto,
                    });
                }
                let due = cx.now >= cur.last_write + cx.config.ack_delay;
                maybe_sync(cur, transfer_id, &root, due, &mut self.ops, cx);
                self.try_commit(transfer_id, cx);
            }
            (OpKind::Write { .. } | OpKind::Sync { .. }, Err(e)) => {
                self.cancel(transfer_id, &fail("writing the file", &e), false, cx);
            }
            (OpKind::Truncate, Ok(IoDone::Len(len))) => {
                let keep = len.min(cur.acked);
                cur.stage = Stage::Resuming {
                    keep: Some(keep),
                    at: 0,
                };
                self.read_back(transfer_id, cx);
            }
            (OpKind::ReadBack { offset, len }, Ok(IoDone::Data(data)))
                if data.len() == len
                    && matches!(cur.stage, Stage::Resuming { at, .. } if at == offset) =>
            {
                cur.hasher.update(&data);
                if let Stage::Resuming { keep, .. } = cur.stage {
                    cur.stage = Stage::Resuming {
                        keep,
                        at: offset + len as u64,
                    };
                }
                self.read_back(transfer_id, cx);
            }
            (OpKind::Truncate | OpKind::ReadBack { .. }, outcome) => {
                let why = match outcome {
                    Err(e) => fail("re-reading the partial file", &e),
                    Ok(_) => "re-reading the partial file failed: the file is shorter".into(),
                };
                self.cancel(transfer_id, &why, false, cx);
            }
            (OpKind::Discard | OpKind::FreeSpace, _) => {}
        }
        true
    }

    /// The next step of a resume: read back the kept prefix piece by piece,
    /// then ask the sender to continue after it.
    fn read_back(&mut self, transfer_id: u64, cx: &mut Ctx<'_>) {
        let Some(t) = self.transfers.get_mut(&transfer_id) else {
            return;
        };
        let (Some(cur), Some(root)) = (t.current.as_mut(), t.dest.as_ref()) else {
            return;
        };
        let Stage::Resuming {
            keep: Some(keep),
            at,
        } = cur.stage
        else {
            return;
        };
        if at < keep {
            let len = usize::try_from(keep - at)
                .map_or(cx.config.chunk_size, |l| l.min(cx.config.chunk_size));
            let io = FileIo::ReadPartial {
                root: Arc::clone(root),
                key: cur.key(transfer_id),
                offset: at,
                len,
            };
            let tag = cur.tag(transfer_id, OpKind::ReadBack { offset: at, len });
            self.ops.issue(cx.io, io, tag);
            return;
        }
        cur.stage = Stage::Receiving;
        cur.written = keep;
        cur.acked = keep;
        cur.last_write = cx.now;
        t.meter.restart(cx.now);
        self.control.push_back(FileMessage::Resume {
            transfer_id,
            entry: cur.index,
            offset: keep,
        });
    }

    fn record_result(
        t: &mut InTransfer,
        transfer_id: u64,
        entry: u32,
        outcome: Result<(), EntryError>,
        control: &mut VecDeque<FileMessage>,
        events: &mut VecDeque<FileEvent>,
    ) {
        let error = outcome.as_ref().err().map(ToString::to_string);
        control.push_back(FileMessage::EntryResult {
            transfer_id,
            entry,
            error: error.clone(),
        });
        t.results.push((entry, error));
        events.push_back(match outcome {
            Ok(()) => FileEvent::EntryCompleted {
                transfer_id,
                entry,
                direction: Direction::Receive,
            },
            Err(error) => {
                t.failed += 1;
                FileEvent::EntryFailed {
                    transfer_id,
                    entry,
                    direction: Direction::Receive,
                    error,
                }
            }
        });
    }

    /// Moves the head of the queue forward: asks for the next folder or
    /// partial file (and waits for it), or finishes the transfer.
    fn advance(&mut self, cx: &mut Ctx<'_>) {
        while let Some(&transfer_id) = self.queue.front() {
            let Some(t) = self.transfers.get_mut(&transfer_id) else {
                self.queue.pop_front();
                continue;
            };
            if t.current.is_some() {
                return;
            }
            let total = t.offer.total_size();
            let Some(root) = t.dest.as_ref() else { return };
            let index = t.next_entry;
            let (Some(info), Some(path)) = (t.offer.entries.get(index), t.paths.get(index)) else {
                // All entries have a result.
                let failed_entries = t.failed;
                t.meter.record(cx.now, t.finished_bytes);
                if let Some(p) = t.meter.poll(
                    cx.now,
                    cx.config.progress_interval,
                    true,
                    transfer_id,
                    Direction::Receive,
                    total,
                ) {
                    cx.events.push_back(FileEvent::Progress(p));
                }
                self.transfers.remove(&transfer_id);
                self.close_id(transfer_id);
                self.queue.pop_front();
                cx.events.push_back(FileEvent::Finished {
                    transfer_id,
                    direction: Direction::Receive,
                    failed_entries,
                });
                continue;
            };
            self.next_epoch += 1;
            let cur = Receiving {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                size: if info.directory { 0 } else { info.size },
                stage: if info.directory {
                    Stage::CreatingDir
                } else {
                    Stage::Opening
                },
                epoch: self.next_epoch,
                hasher: Sha256::new(),
                written: 0,
                writes: BTreeSet::new(),
                syncing: None,
                acked: 0,
                last_write: cx.now,
                after_reconnect: false,
                verified: false,
            };
            let root = Arc::clone(root);
            let (io, kind) = if info.directory {
                let path = path.clone();
                (FileIo::CreateDir { root, path }, OpKind::CreateDir)
            } else {
                // A fresh entry starts empty whatever an earlier run left.
                let key = cur.key(transfer_id);
                (FileIo::OpenPartial { root, key }, OpKind::Open)
            };
            self.ops.issue(cx.io, io, cur.tag(transfer_id, kind));
            t.current = Some(cur);
            return;
        }
    }

    /// Data for a transfer we do not have (cancelled, and the Cancel may have
    /// been lost with a connection): say so, once, so the sender stops.
    fn unknown(&mut self, transfer_id: u64) {
        let already = self.control.iter().any(
            |m| matches!(m, FileMessage::Cancel { transfer_id: id, .. } if *id == transfer_id),
        );
        if !already {
            self.control.push_back(FileMessage::Cancel {
                transfer_id,
                reason: "unknown transfer".into(),
            });
        }
    }

    pub(crate) fn connection_lost(&mut self) {
        self.control.clear();
        for cur in self
            .transfers
            .values_mut()
            .filter_map(|t| t.current.as_mut())
        {
            cur.after_reconnect = true;
        }
    }

    /// After a reconnect: repeat answers and results, cut the partial file
    /// back to the last acknowledged byte, re-hash that prefix from disk and
    /// then ask the sender to continue from there.
    pub(crate) fn reconnected(&mut self, cx: &mut Ctx<'_>) {
        for (&transfer_id, t) in &mut self.transfers {
            let Some(root) = t.dest.as_ref() else {
                continue; // still waiting for the user; the answer goes out later
            };
            self.control.push_back(accept_msg(transfer_id));
            for (entry, error) in &t.results {
                self.control.push_back(FileMessage::EntryResult {
                    transfer_id,
                    entry: *entry,
                    error: error.clone(),
                });
            }
            let Some(cur) = t.current.as_mut() else {
                continue;
            };
            if !matches!(cur.stage, Stage::Receiving | Stage::Resuming { .. }) {
                continue; // Resume (or the result) goes out when the IO is done
            }
            // Results still in flight belong to the old position.
            self.next_epoch += 1;
            cur.epoch = self.next_epoch;
            cur.writes.clear();
            cur.syncing = None;
            cur.verified = false;
            cur.hasher = Sha256::new();
            cur.written = cur.acked;
            cur.stage = Stage::Resuming { keep: None, at: 0 };
            let io = FileIo::Truncate {
                root: Arc::clone(root),
                key: cur.key(transfer_id),
                len: cur.acked,
            };
            self.ops
                .issue(cx.io, io, cur.tag(transfer_id, OpKind::Truncate));
        }
    }

    /// When un-acknowledged bytes must be acknowledged at the latest.
    pub(crate) fn poll_timeout(&self, config: &FileConfig) -> Option<Instant> {
        self.transfers
            .values()
            .filter_map(|t| t.current.as_ref())
            .filter(|c| {
                c.stage == Stage::Receiving
                    && c.written > c.acked
                    && c.writes.is_empty()
                    && c.syncing.is_none()
            })
            .map(|c| c.last_write + config.ack_delay)
            .chain(self.next_offer_expiry(config.offer_timeout))
            .min()
    }

    /// Syncs and acknowledges what has waited [`FileConfig::ack_delay`].
    pub(crate) fn handle_timeout(&mut self, cx: &mut Ctx<'_>) {
        for (&transfer_id, t) in &mut self.transfers {
            let (Some(cur), Some(root)) = (t.current.as_mut(), t.dest.as_ref()) else {
                continue;
            };
            if cur.stage == Stage::Receiving && cx.now >= cur.last_write + cx.config.ack_delay {
                maybe_sync(cur, transfer_id, root, true, &mut self.ops, cx);
            }
        }
        self.expire_offers(cx);
    }

    pub(crate) fn poll_control(&mut self) -> Option<FileMessage> {
        self.control.pop_front()
    }
}

fn accept_msg(transfer_id: u64) -> FileMessage {
    FileMessage::Answer {
        transfer_id,
        accept: true,
        reason: String::new(),
    }
}
