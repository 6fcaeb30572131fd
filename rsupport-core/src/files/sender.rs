//! The sending half: offers, then chunks within a window of un-acknowledged
//! bytes, then each entry's SHA-256; resumes from the receiver's offset.
//!
//! File data comes from [`FileIo::Read`] requests issued ahead of sending
//! (up to the window), whose results may arrive in any order.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use web_time::Instant;

use bytes::Bytes;
use rsupport_proto::files::{FileChunk, FileEntry, FileMessage, FileOffer};
use sha2::{Digest, Sha256};

use super::io::{FileIo, IoDone, IoId, IoQueue, IoResult, OutgoingEntry};
use super::progress::ProgressMeter;
use super::{Direction, EntryError, FileConfig, FileEvent};

/// Reads in flight per sending entry.
const READS_AHEAD: usize = 4;

/// Outgoing transfers of one channel.
pub(crate) struct Outgoing {
    transfers: BTreeMap<u64, OutTransfer>,
    control: VecDeque<FileMessage>,
    /// Round-robin position: the transfer that got the last chunk.
    last_served: Option<u64>,
    /// Reads in flight: what each is for.
    reads: HashMap<IoId, ReadTag>,
    /// Distinguishes the reads of one resume of an entry from the next.
    next_epoch: u64,
}

struct ReadTag {
    transfer_id: u64,
    entry: u32,
    epoch: u64,
    offset: u64,
    len: usize,
}

struct OutTransfer {
    offer: FileOffer,
    /// Local file of each entry (`None`: a folder, or one with a result).
    locals: Vec<Option<Arc<Path>>>,
    accepted: bool,
    active: Option<SendingEntry>,
    results: Vec<bool>,
    results_missing: usize,
    failed: u32,
    /// Bytes of entries that have a result.
    finished_bytes: u64,
    meter: ProgressMeter,
}

struct SendingEntry {
    index: u32,
    size: u64,
    next_offset: u64,
    acked: u64,
    /// Covers bytes `0..next_offset`.
    hasher: Sha256,
    /// Hash state at each chunk start not yet acknowledged, so a resume from
    /// any acknowledged offset needs no re-read.
    snapshots: VecDeque<(u64, Sha256)>,
    done_sent: bool,
    /// After a lost connection: send nothing until the receiver says where.
    waiting_resume: bool,
    /// Reads of an earlier epoch are stale (the entry resumed since).
    epoch: u64,
    /// The next offset to ask the driver to read.
    read_next: u64,
    /// Reads in flight in this epoch.
    reading: usize,
    /// Data read ahead and not yet sent, by offset.
    ready: BTreeMap<u64, Bytes>,
    /// After a resume from an offset we hold no hash state for: `hasher`
    /// covers `0..at` and the prefix up to `until` is read again first.
    rehash: Option<(u64, u64)>,
}

impl Outgoing {
    pub(crate) fn new() -> Self {
        Outgoing {
            transfers: BTreeMap::new(),
            control: VecDeque::new(),
            last_served: None,
            reads: HashMap::new(),
            next_epoch: 0,
        }
    }

    pub(crate) fn contains(&self, transfer_id: u64) -> bool {
        self.transfers.contains_key(&transfer_id)
    }

    pub(crate) fn offer(&mut self, transfer_id: u64, entries: Vec<OutgoingEntry>, now: Instant) {
        let mut wire = Vec::with_capacity(entries.len());
        let mut locals = Vec::with_capacity(entries.len());
        for e in entries {
            wire.push(FileEntry {
                path: e.path,
                size: if e.local.is_some() { e.size } else { 0 },
                directory: e.local.is_none(),
                modified_ms: e.modified_ms,
            });
            locals.push(e.local);
        }
        let offer = FileOffer {
            transfer_id,
            entries: wire,
        };
        self.control.push_back(FileMessage::Offer(offer.clone()));
        let n = offer.entries.len();
        self.transfers.insert(
            transfer_id,
            OutTransfer {
                offer,
                locals,
                accepted: false,
                active: None,
                results: vec![false; n],
                results_missing: n,
                failed: 0,
                finished_bytes: 0,
                meter: ProgressMeter::new(now),
            },
        );
    }

    pub(crate) fn cancel(
        &mut self,
        transfer_id: u64,
        reason: &str,
        events: &mut VecDeque<FileEvent>,
    ) {
        if self.transfers.remove(&transfer_id).is_some() {
            self.control.push_back(FileMessage::Cancel {
                transfer_id,
                reason: reason.to_owned(),
            });
            events.push_back(FileEvent::Cancelled {
                transfer_id,
                direction: Direction::Send,
                by_peer: false,
                reason: reason.to_owned(),
            });
        }
    }

    pub(crate) fn handle(
        &mut self,
        msg: FileMessage,
        now: Instant,
        config: &FileConfig,
        events: &mut VecDeque<FileEvent>,
    ) {
        if let Some(id) = about_unknown(&msg, &self.transfers) {
            // We dropped this transfer and our Cancel may have been lost with
            // a connection: say so again, or the receiver waits forever.
            let already = self.control.iter().any(
                |m| matches!(m, FileMessage::Cancel { transfer_id, .. } if *transfer_id == id),
            );
            if !already {
                self.control.push_back(FileMessage::Cancel {
                    transfer_id: id,
                    reason: "unknown transfer".into(),
                });
            }
            return;
        }
        match msg {
            FileMessage::Answer {
                transfer_id,
                accept,
                reason,
            } => {
                let Some(t) = self.transfers.get_mut(&transfer_id) else {
                    return;
                };
                if t.accepted {
                    return; // repeated after a reconnect
                }
                if accept {
                    t.accepted = true;
                    t.meter.restart(now);
                    events.push_back(FileEvent::Accepted { transfer_id });
                } else {
                    self.transfers.remove(&transfer_id);
                    events.push_back(FileEvent::Declined {
                        transfer_id,
                        reason,
                    });
                }
            }
            FileMessage::Resume {
                transfer_id,
                entry,
                offset,
            } => self.resume(transfer_id, entry, offset, now, events),
            FileMessage::Ack {
                transfer_id,
                entry,
                offset,
            } => {
                let Some(t) = self.transfers.get_mut(&transfer_id) else {
                    return;
                };
                let Some(a) = t.active.as_mut().filter(|a| a.index == entry) else {
                    return;
                };
                if offset > a.next_offset || offset < a.acked {
                    return self.fail(
                        transfer_id,
                        "protocol error: acknowledged bytes never sent",
                        events,
                    );
                }
                a.acked = offset;
                while a.snapshots.front().is_some_and(|s| s.0 < offset) {
                    a.snapshots.pop_front();
                }
                let done = t.finished_bytes + offset;
                t.meter.record(now, done);
                if let Some(p) = t.meter.poll(
                    now,
                    config.progress_interval,
                    false,
                    transfer_id,
                    Direction::Send,
                    t.offer.total_size(),
                ) {
                    events.push_back(FileEvent::Progress(p));
                }
            }
            FileMessage::EntryResult {
                transfer_id,
                entry,
                error,
            } => self.entry_result(transfer_id, entry, error, now, config, events),
            FileMessage::Cancel {
                transfer_id,
                reason,
            } if self.transfers.remove(&transfer_id).is_some() => {
                events.push_back(FileEvent::Cancelled {
                    transfer_id,
                    direction: Direction::Send,
                    by_peer: true,
                    reason,
                });
            }
            // Receiver-bound messages are routed elsewhere by the channel.
            _ => {}
        }
    }

    fn resume(
        &mut self,
        transfer_id: u64,
        entry: u32,
        offset: u64,
        now: Instant,
        events: &mut VecDeque<FileEvent>,
    ) {
        let Some(t) = self.transfers.get_mut(&transfer_id) else {
            return;
        };
        let Some(info) = t.offer.entries.get(entry as usize) else {
            return self.fail(
                transfer_id,
                "protocol error: resume of an unknown entry",
                events,
            );
        };
        if !t.accepted
            || info.directory
            || offset > info.size
            || t.results.get(entry as usize) == Some(&true)
        {
            return self.fail(
                transfer_id,
                "protocol error: resume not allowed here",
                events,
            );
        }
        let size = info.size;
        if t.locals.get(entry as usize).is_none_or(Option::is_none) {
            return self.fail(transfer_id, "file source is gone", events);
        }
        self.next_epoch += 1;
        let epoch = self.next_epoch;
        let mut sending = match t.active.take() {
            Some(a) if a.index == entry => a,
            _ => SendingEntry {
                index: entry,
                size,
                next_offset: 0,
                acked: 0,
                hasher: Sha256::new(),
                snapshots: VecDeque::new(),
                done_sent: false,
                waiting_resume: false,
                epoch,
                read_next: 0,
                reading: 0,
                ready: BTreeMap::new(),
                rehash: None,
            },
        };
        sending.rehash = None;
        if sending.next_offset != offset {
            match sending.snapshots.iter().position(|s| s.0 == offset) {
                Some(i) => {
                    sending.snapshots.truncate(i + 1);
                    if let Some((_, h)) = sending.snapshots.pop_back() {
                        sending.hasher = h;
                    }
                }
                None => {
                    // No saved state (e.g. the receiver kept more than we
                    // remember): hash the prefix again from the source.
                    sending.hasher = Sha256::new();
                    sending.snapshots.clear();
                    if offset > 0 {
                        sending.rehash = Some((0, offset));
                    }
                }
            }
        }
        // Data read ahead belongs to the old position: read again from here.
        sending.epoch = epoch;
        sending.reading = 0;
        sending.ready.clear();
        sending.read_next = offset;
        sending.next_offset = offset;
        sending.acked = offset;
        sending.done_sent = false;
        sending.waiting_resume = false;
        t.meter.restart(now);
        t.meter.record(now, t.finished_bytes + offset);
        t.active = Some(sending);
    }

    fn entry_result(
        &mut self,
        transfer_id: u64,
        entry: u32,
        error: Option<String>,
        now: Instant,
        config: &FileConfig,
        events: &mut VecDeque<FileEvent>,
    ) {
        let Some(t) = self.transfers.get_mut(&transfer_id) else {
            return;
        };
        let Some(seen) = t.results.get_mut(entry as usize) else {
            return self.fail(
                transfer_id,
                "protocol error: result for an unknown entry",
                events,
            );
        };
        if *seen {
            return; // repeated after a reconnect
        }
        *seen = true;
        t.results_missing -= 1;
        if t.active.as_ref().is_some_and(|a| a.index == entry) {
            t.active = None;
        }
        if let Some(s) = t.locals.get_mut(entry as usize) {
            *s = None; // nothing more to read
        }
        t.finished_bytes += t.offer.entries.get(entry as usize).map_or(0, |e| e.size);
        match error {
            None => events.push_back(FileEvent::EntryCompleted {
                transfer_id,
                entry,
                direction: Direction::Send,
            }),
            Some(reason) => {
                t.failed += 1;
                events.push_back(FileEvent::EntryFailed {
                    transfer_id,
                    entry,
                    direction: Direction::Send,
                    error: EntryError::Reported(reason),
                });
            }
        }
        t.meter.record(now, t.finished_bytes);
        let finished = t.results_missing == 0;
        if let Some(p) = t.meter.poll(
            now,
            config.progress_interval,
            finished,
            transfer_id,
            Direction::Send,
            t.offer.total_size(),
        ) {
            events.push_back(FileEvent::Progress(p));
        }
        if finished {
            let failed_entries = t.failed;
            self.transfers.remove(&transfer_id);
            events.push_back(FileEvent::Finished {
                transfer_id,
                direction: Direction::Send,
                failed_entries,
            });
        }
    }

    /// Gives up on a transfer: tells the peer and the application.
    fn fail(&mut self, transfer_id: u64, reason: &str, events: &mut VecDeque<FileEvent>) {
        self.cancel(transfer_id, reason, events);
    }

    pub(crate) fn connection_lost(&mut self) {
        self.control.clear();
        for t in self.transfers.values_mut() {
            if let Some(a) = t.active.as_mut() {
                a.waiting_resume = true;
            }
        }
    }

    pub(crate) fn reconnected(&mut self) {
        for t in self.transfers.values() {
            if !t.accepted {
                self.control.push_back(FileMessage::Offer(t.offer.clone()));
            }
        }
    }

    pub(crate) fn poll_control(&mut self) -> Option<FileMessage> {
        self.control.pop_front()
    }

    /// Whether a chunk or an end-of-entry message is ready to go now.
    pub(crate) fn has_data(&self, config: &FileConfig) -> bool {
        self.transfers
            .values()
            .any(|t| t.active.as_ref().is_some_and(|a| a.can_send(config)))
    }

    /// Asks for reads: ahead of sending, up to the window, a few at a time;
    /// or the next piece of a prefix to hash again after a resume.
    pub(crate) fn request_reads(&mut self, config: &FileConfig, io: &mut IoQueue) {
        let chunk = config.chunk_size as u64;
        for (&transfer_id, t) in &mut self.transfers {
            let Some(a) = t.active.as_mut() else { continue };
            if a.waiting_resume || a.done_sent {
                continue;
            }
            let Some(file) = t.locals.get(a.index as usize).and_then(Option::as_ref) else {
                continue;
            };
            while a.reading < READS_AHEAD {
                let (offset, len) = match a.rehash {
                    // One at a time: the prefix is hashed in order.
                    Some(_) if a.reading > 0 => break,
                    Some((at, until)) if at < until => (at, (until - at).min(chunk)),
                    Some(_) => break,
                    None if a.read_next < a.size && a.read_next - a.acked < config.window => {
                        (a.read_next, (a.size - a.read_next).min(chunk))
                    }
                    None => break,
                };
                let len = usize::try_from(len).unwrap_or(config.chunk_size);
                let id = io.push(FileIo::Read {
                    file: Arc::clone(file),
                    offset,
                    len,
                });
                self.reads.insert(
                    id,
                    ReadTag {
                        transfer_id,
                        entry: a.index,
                        epoch: a.epoch,
                        offset,
                        len,
                    },
                );
                a.reading += 1;
                if a.rehash.is_none() {
                    a.read_next += len as u64;
                }
            }
        }
    }

    /// Whether `id` is one of our reads.
    pub(crate) fn owns(&self, id: IoId) -> bool {
        self.reads.contains_key(&id)
    }

    /// A read finished.
    pub(crate) fn handle_io(
        &mut self,
        id: IoId,
        result: IoResult,
        events: &mut VecDeque<FileEvent>,
    ) {
        let Some(tag) = self.reads.remove(&id) else {
            return;
        };
        let Some(a) = self
            .transfers
            .get_mut(&tag.transfer_id)
            .and_then(|t| t.active.as_mut())
            .filter(|a| a.index == tag.entry && a.epoch == tag.epoch)
        else {
            return; // cancelled, finished or resumed since: stale
        };
        a.reading = a.reading.saturating_sub(1);
        let data = match result {
            Ok(IoDone::Data(d)) if d.len() == tag.len => d,
            Ok(IoDone::Data(_)) => {
                let why = "the file got shorter while it was being sent";
                self.fail(tag.transfer_id, why, events);
                return;
            }
            Ok(_) => {
                let why = "reading the file failed: unexpected result";
                self.fail(tag.transfer_id, why, events);
                return;
            }
            Err(e) => {
                let why = match e.kind() {
                    Some(kind) => format!("reading the file failed: {kind}"),
                    None => format!("reading the file failed: {e}"),
                };
                self.fail(tag.transfer_id, &why, events);
                return;
            }
        };
        match a.rehash.as_mut() {
            Some((at, until)) if *at == tag.offset => {
                a.hasher.update(&data);
                *at += data.len() as u64;
                if *at >= *until {
                    a.rehash = None;
                }
            }
            Some(_) => {}
            None => {
                a.ready.insert(tag.offset, data);
            }
        }
    }

    /// The next chunk or end-of-entry message, round-robin over transfers.
    pub(crate) fn poll_data(&mut self, config: &FileConfig) -> Option<FileMessage> {
        let after = self.last_served;
        let pick = self
            .transfers
            .iter()
            .filter(|(id, _)| after.is_none_or(|a| **id > a))
            .chain(self.transfers.iter())
            .find(|(_, t)| t.active.as_ref().is_some_and(|a| a.can_send(config)))
            .map(|(id, _)| *id)?;
        self.last_served = Some(pick);
        let t = self.transfers.get_mut(&pick)?;
        let a = t.active.as_mut()?;
        if a.next_offset == a.size {
            a.done_sent = true;
            return Some(FileMessage::EntryDone {
                transfer_id: pick,
                entry: a.index,
                sha256: a.hasher.clone().finalize().into(),
            });
        }
        let data = a.ready.remove(&a.next_offset)?;
        a.snapshots.push_back((a.next_offset, a.hasher.clone()));
        a.hasher.update(&data);
        let offset = a.next_offset;
        a.next_offset += data.len() as u64;
        Some(FileMessage::Chunk(FileChunk {
            transfer_id: pick,
            entry: a.index,
            offset,
            data,
        }))
    }
}

impl SendingEntry {
    fn can_send(&self, config: &FileConfig) -> bool {
        if self.waiting_resume || self.done_sent || self.rehash.is_some() {
            return false;
        }
        self.next_offset == self.size
            || (self.next_offset - self.acked < config.window
                && self.ready.contains_key(&self.next_offset))
    }
}

/// The transfer id of a receiver message about a transfer we do not have
/// (a declining answer needs no reply).
fn about_unknown(msg: &FileMessage, transfers: &BTreeMap<u64, OutTransfer>) -> Option<u64> {
    let id = match msg {
        FileMessage::Answer {
            transfer_id,
            accept: true,
            ..
        }
        | FileMessage::Resume { transfer_id, .. }
        | FileMessage::Ack { transfer_id, .. }
        | FileMessage::EntryResult { transfer_id, .. } => *transfer_id,
        _ => return None,
    };
    (!transfers.contains_key(&id)).then_some(id)
}
