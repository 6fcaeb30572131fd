//! The receiving half: validates offers, asks the user (or auto-accepts),
//! requests each entry from an offset, writes chunks to a partial file,
//! acknowledges durable bytes, verifies SHA-256 and only then moves the file
//! into place.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::time::Instant;

use rsupport_proto::files::{FileChunk, FileMessage, FileOffer, Sha256Digest};
use sha2::{Digest, Sha256};

use super::path::{validate_relative_path, SafePath};
use super::progress::ProgressMeter;
use super::storage::{Destination, PartialKey, PartialSink};
use super::{Direction, EntryError, FileConfig, FileEvent};

/// Incoming transfers of one channel.
pub(crate) struct Incoming {
    transfers: BTreeMap<u64, InTransfer>,
    /// Accepted transfers in the order they get data (one at a time).
    queue: VecDeque<u64>,
    /// Declined, cancelled or finished transfers, so a repeated offer after a
    /// reconnect is not shown to the user again.
    closed: BTreeSet<u64>,
    control: VecDeque<FileMessage>,
}

struct InTransfer {
    offer: FileOffer,
    paths: Vec<SafePath>,
    dest: Option<Box<dyn Destination>>,
    current: Option<Receiving>,
    next_entry: usize,
    /// Results sent so far, repeated after a reconnect (the peer ignores
    /// duplicates) so none is lost with the old connection.
    results: Vec<(u32, Option<String>)>,
    failed: u32,
    finished_bytes: u64,
    meter: ProgressMeter,
}

struct Receiving {
    index: u32,
    size: u64,
    sink: Box<dyn PartialSink>,
    /// Covers bytes `0..written`.
    hasher: Sha256,
    written: u64,
    /// Synced to disk and acknowledged.
    acked: u64,
    /// When the last chunk arrived: un-acknowledged bytes are acknowledged
    /// [`FileConfig::ack_delay`] after it even below the ack interval, so a
    /// sender with a smaller window never stalls.
    last_write: Instant,
    /// The connection dropped during this entry: data the sender sent
    /// before it learnt of the drop may still arrive (relays re-route on
    /// resume). Chunks that do not continue the file are dropped instead of
    /// failing the transfer; the SHA-256 at the end still covers every byte.
    after_reconnect: bool,
}

impl Incoming {
    pub(crate) fn new() -> Self {
        Incoming {
            transfers: BTreeMap::new(),
            queue: VecDeque::new(),
            closed: BTreeSet::new(),
            control: VecDeque::new(),
        }
    }

    pub(crate) fn contains(&self, transfer_id: u64) -> bool {
        self.transfers.contains_key(&transfer_id)
    }

    /// A new offer. Returns true when it awaits the user's decision.
    pub(crate) fn offer(
        &mut self,
        offer: FileOffer,
        now: Instant,
        events: &mut VecDeque<FileEvent>,
    ) -> bool {
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
                    self.closed.insert(transfer_id);
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

    pub(crate) fn accept(
        &mut self,
        transfer_id: u64,
        dest: Box<dyn Destination>,
        now: Instant,
        config: &FileConfig,
        events: &mut VecDeque<FileEvent>,
    ) -> bool {
        let Some(t) = self
            .transfers
            .get_mut(&transfer_id)
            .filter(|t| t.dest.is_none())
        else {
            return false;
        };
        t.dest = Some(dest);
        t.meter.restart(now);
        self.control.push_back(accept_msg(transfer_id));
        self.queue.push_back(transfer_id);
        self.advance(now, config, events);
        true
    }

    pub(crate) fn decline(&mut self, transfer_id: u64, reason: &str) -> bool {
        if self
            .transfers
            .get(&transfer_id)
            .is_none_or(|t| t.dest.is_some())
        {
            return false;
        }
        self.transfers.remove(&transfer_id);
        self.closed.insert(transfer_id);
        self.control.push_back(FileMessage::Answer {
            transfer_id,
            accept: false,
            reason: reason.to_owned(),
        });
        true
    }

    /// Stops a transfer: partial file deleted, peer told when `tell_peer`.
    pub(crate) fn cancel(
        &mut self,
        transfer_id: u64,
        reason: &str,
        by_peer: bool,
        now: Instant,
        config: &FileConfig,
        events: &mut VecDeque<FileEvent>,
    ) {
        let Some(mut t) = self.transfers.remove(&transfer_id) else {
            return;
        };
        self.closed.insert(transfer_id);
        if let (Some(cur), Some(dest)) = (t.current.take(), t.dest.as_mut()) {
            drop(cur.sink);
            dest.discard(PartialKey {
                transfer_id,
                entry: cur.index,
            });
        }
        self.queue.retain(|id| *id != transfer_id);
        if !by_peer {
            self.control.push_back(FileMessage::Cancel {
                transfer_id,
                reason: reason.to_owned(),
            });
        }
        events.push_back(FileEvent::Cancelled {
            transfer_id,
            direction: Direction::Receive,
            by_peer,
            reason: reason.to_owned(),
        });
        self.advance(now, config, events);
    }

    pub(crate) fn chunk(
        &mut self,
        c: FileChunk,
        now: Instant,
        config: &FileConfig,
        events: &mut VecDeque<FileEvent>,
    ) {
        let transfer_id = c.transfer_id;
        let Some(t) = self.transfers.get_mut(&transfer_id) else {
            return self.unknown(transfer_id);
        };
        let total = t.offer.total_size();
        if t.current
            .as_ref()
            .is_some_and(|r| r.after_reconnect && (r.index != c.entry || c.offset != r.written))
        {
            return; // sent before the sender heard of the reconnect
        }
        let Some(cur) = t.current.as_mut().filter(|r| r.index == c.entry) else {
            return self.cancel(
                transfer_id,
                "protocol error: data for an entry not requested",
                false,
                now,
                config,
                events,
            );
        };
        let end = c.offset.saturating_add(c.data.len() as u64);
        if c.offset != cur.written || end > cur.size {
            return self.cancel(
                transfer_id,
                "protocol error: data out of order or past the announced size",
                false,
                now,
                config,
                events,
            );
        }
        if let Err(e) = cur.sink.write_at(c.offset, &c.data) {
            let reason = format!("writing the file failed: {}", e.kind());
            return self.cancel(transfer_id, &reason, false, now, config, events);
        }
        cur.hasher.update(&c.data);
        cur.written = end;
        cur.last_write = now;
        if cur.written - cur.acked >= config.ack_interval || cur.written == cur.size {
            if let Err(e) = sync_and_ack(cur, transfer_id, &mut self.control) {
                let reason = format!("writing the file failed: {}", e.kind());
                return self.cancel(transfer_id, &reason, false, now, config, events);
            }
        }
        t.meter.record(now, t.finished_bytes + cur.written);
        if let Some(p) = t.meter.poll(
            now,
            config.progress_interval,
            false,
            transfer_id,
            Direction::Receive,
            total,
        ) {
            events.push_back(FileEvent::Progress(p));
        }
    }

    pub(crate) fn entry_done(
        &mut self,
        transfer_id: u64,
        entry: u32,
        sha256: Sha256Digest,
        now: Instant,
        config: &FileConfig,
        events: &mut VecDeque<FileEvent>,
    ) {
        let Some(t) = self.transfers.get_mut(&transfer_id) else {
            return self.unknown(transfer_id);
        };
        let fits = |r: &Receiving| r.index == entry && r.written == r.size;
        if t.current
            .as_ref()
            .is_some_and(|r| r.after_reconnect && !fits(r))
        {
            return; // an end sent before the sender heard of the reconnect
        }
        if !t.current.as_ref().is_some_and(fits) {
            return self.cancel(
                transfer_id,
                "protocol error: entry ended early",
                false,
                now,
                config,
                events,
            );
        }
        let Some(cur) = t.current.take() else { return };
        let key = PartialKey { transfer_id, entry };
        let Some(dest) = t.dest.as_mut() else { return };
        let got: Sha256Digest = cur.hasher.finalize().into();
        let outcome = if got != sha256 {
            drop(cur.sink);
            dest.discard(key);
            Err(EntryError::ChecksumMismatch)
        } else {
            let (path, modified) = match (
                t.paths.get(entry as usize),
                t.offer.entries.get(entry as usize),
            ) {
                (Some(p), Some(e)) => (p, e.modified_ms),
                _ => return,
            };
            dest.commit(key, cur.sink, path, modified).map_err(|e| {
                dest.discard(key);
                EntryError::Store(e)
            })
        };
        t.finished_bytes += cur.size;
        Self::record_result(t, transfer_id, entry, outcome, &mut self.control, events);
        t.next_entry += 1;
        self.advance(now, config, events);
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

    /// Moves the head of the queue forward: creates folders, opens the next
    /// file and asks for its data, or finishes the transfer.
    fn advance(&mut self, now: Instant, config: &FileConfig, events: &mut VecDeque<FileEvent>) {
        while let Some(&transfer_id) = self.queue.front() {
            let Some(t) = self.transfers.get_mut(&transfer_id) else {
                self.queue.pop_front();
                continue;
            };
            if t.current.is_some() {
                return;
            }
            let total = t.offer.total_size();
            let Some(dest) = t.dest.as_mut() else { return };
            let index = t.next_entry;
            let (Some(info), Some(path)) = (t.offer.entries.get(index), t.paths.get(index)) else {
                // All entries have a result.
                let failed_entries = t.failed;
                t.meter.record(now, t.finished_bytes);
                if let Some(p) = t.meter.poll(
                    now,
                    config.progress_interval,
                    true,
                    transfer_id,
                    Direction::Receive,
                    total,
                ) {
                    events.push_back(FileEvent::Progress(p));
                }
                self.transfers.remove(&transfer_id);
                self.closed.insert(transfer_id);
                self.queue.pop_front();
                events.push_back(FileEvent::Finished {
                    transfer_id,
                    direction: Direction::Receive,
                    failed_entries,
                });
                continue;
            };
            let entry = u32::try_from(index).unwrap_or(u32::MAX);
            if info.directory {
                let outcome = dest.create_dir(path).map_err(EntryError::Store);
                Self::record_result(t, transfer_id, entry, outcome, &mut self.control, events);
                t.next_entry += 1;
                continue;
            }
            let key = PartialKey { transfer_id, entry };
            let opened = dest.open_partial(key).and_then(|mut sink| {
                // A fresh entry starts empty whatever an earlier run left.
                sink.truncate(0)
                    .map_err(|e| super::storage::StoreError::Io {
                        op: "emptying the partial file",
                        kind: e.kind(),
                    })?;
                Ok(sink)
            });
            match opened {
                Ok(sink) => {
                    t.current = Some(Receiving {
                        index: entry,
                        size: info.size,
                        sink,
                        hasher: Sha256::new(),
                        written: 0,
                        acked: 0,
                        last_write: now,
                        after_reconnect: false,
                    });
                    self.control.push_back(FileMessage::Resume {
                        transfer_id,
                        entry,
                        offset: 0,
                    });
                    return;
                }
                Err(e) => {
                    Self::record_result(
                        t,
                        transfer_id,
                        entry,
                        Err(EntryError::Store(e)),
                        &mut self.control,
                        events,
                    );
                    t.next_entry += 1;
                }
            }
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
    /// ask the sender to continue from there.
    pub(crate) fn reconnected(
        &mut self,
        now: Instant,
        config: &FileConfig,
        events: &mut VecDeque<FileEvent>,
    ) {
        let mut broken = Vec::new();
        for (&transfer_id, t) in &mut self.transfers {
            if t.dest.is_none() {
                continue; // still waiting for the user; the answer goes out later
            }
            self.control.push_back(accept_msg(transfer_id));
            for (entry, error) in &t.results {
                self.control.push_back(FileMessage::EntryResult {
                    transfer_id,
                    entry: *entry,
                    error: error.clone(),
                });
            }
            if let Some(cur) = t.current.as_mut() {
                match rehash_prefix(cur, config.chunk_size) {
                    Ok(()) => {
                        t.meter.restart(now);
                        self.control.push_back(FileMessage::Resume {
                            transfer_id,
                            entry: cur.index,
                            offset: cur.written,
                        });
                    }
                    Err(e) => broken.push((
                        transfer_id,
                        format!("re-reading the partial file failed: {}", e.kind()),
                    )),
                }
            }
        }
        for (id, reason) in broken {
            self.cancel(id, &reason, false, now, config, events);
        }
    }

    /// When un-acknowledged bytes must be acknowledged at the latest.
    pub(crate) fn poll_timeout(&self, config: &FileConfig) -> Option<Instant> {
        self.transfers
            .values()
            .filter_map(|t| t.current.as_ref())
            .filter(|c| c.written > c.acked)
            .map(|c| c.last_write + config.ack_delay)
            .min()
    }

    /// Syncs and acknowledges what has waited [`FileConfig::ack_delay`].
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        config: &FileConfig,
        events: &mut VecDeque<FileEvent>,
    ) {
        let mut broken = Vec::new();
        for (&transfer_id, t) in &mut self.transfers {
            let Some(cur) = t.current.as_mut() else {
                continue;
            };
            if cur.written == cur.acked || now < cur.last_write + config.ack_delay {
                continue;
            }
            if let Err(e) = sync_and_ack(cur, transfer_id, &mut self.control) {
                broken.push((
                    transfer_id,
                    format!("writing the file failed: {}", e.kind()),
                ));
            }
        }
        for (id, reason) in broken {
            self.cancel(id, &reason, false, now, config, events);
        }
    }

    pub(crate) fn poll_control(&mut self) -> Option<FileMessage> {
        self.control.pop_front()
    }
}

/// Makes what was written durable, then acknowledges it: the sender's
/// window and the resume point both move only past synced bytes.
fn sync_and_ack(
    cur: &mut Receiving,
    transfer_id: u64,
    control: &mut VecDeque<FileMessage>,
) -> std::io::Result<()> {
    cur.sink.sync()?;
    cur.acked = cur.written;
    control.push_back(FileMessage::Ack {
        transfer_id,
        entry: cur.index,
        offset: cur.acked,
    });
    Ok(())
}

fn accept_msg(transfer_id: u64) -> FileMessage {
    FileMessage::Answer {
        transfer_id,
        accept: true,
        reason: String::new(),
    }
}

/// Keeps only the acknowledged (synced) prefix and rebuilds the hash from
/// what is actually on disk, so the final SHA-256 covers the whole file.
fn rehash_prefix(cur: &mut Receiving, chunk: usize) -> std::io::Result<()> {
    let keep = cur.acked.min(cur.sink.len()?);
    cur.sink.truncate(keep)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; chunk];
    let mut at = 0u64;
    while at < keep {
        let want = usize::try_from(keep - at).map_or(chunk, |l| l.min(chunk));
        let slice = buf.get_mut(..want).unwrap_or_default();
        let n = cur.sink.read_at(at, slice)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(slice.get(..n).unwrap_or_default());
        at += n as u64;
    }
    cur.hasher = hasher;
    cur.written = keep;
    cur.acked = keep;
    Ok(())
}
