//! The files channel's IO requests and results: failures fail one transfer
//! and nothing else, completions may come in any order, and results nobody
//! waits for any more are ignored. Real temporary folders, the real storage
//! executor, a link in memory, a virtual clock.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::time::{Duration, Instant};

use rsupport_client::storage;
use rsupport_core::files::{
    Direction, FileChannel, FileConfig, FileEvent, FileIo, FileIoRequest, FileMessage, IoResult,
    Party, StoreError,
};
use rsupport_core::session::{ChatEvent, SessionEvent};
use rsupport_proto::ConnectionMode;
use rsupport_testkit::pair::SessionPair;
use sha2::{Digest, Sha256};

fn small() -> FileConfig {
    FileConfig::default()
        .with_chunk_size(4096)
        .with_window(32 * 1024, 8 * 1024)
}

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Which completion the link picks next from the requests in flight.
type Pick = Box<dyn FnMut(usize) -> usize>;
/// Performs a request (`true`: the operator's).
type Exec = Box<dyn FnMut(bool, &FileIo) -> IoResult>;

/// Operator sends to a customer that accepts into `dest`; IO requests wait
/// in `pending` and complete one per step in the order `pick` chooses,
/// through `exec` (the storage executor unless a test breaks it).
struct Link {
    op: FileChannel,
    cu: FileChannel,
    now: Instant,
    pending: Vec<(bool, FileIoRequest)>,
    pick: Pick,
    exec: Exec,
    op_events: Vec<FileEvent>,
    cu_events: Vec<FileEvent>,
    cu_sent: Vec<FileMessage>,
    dest: std::path::PathBuf,
}

impl Link {
    fn new(dest: &Path) -> Self {
        Link {
            op: FileChannel::new(Party::Operator, small()),
            cu: FileChannel::new(Party::Customer, small()),
            now: Instant::now(),
            pending: Vec::new(),
            pick: Box::new(|_| 0),
            exec: Box::new(|_, io| storage::execute(io)),
            op_events: Vec::new(),
            cu_events: Vec::new(),
            cu_sent: Vec::new(),
            dest: dest.to_path_buf(),
        }
    }

    fn offer(&mut self, file: &Path) -> u64 {
        let entries = storage::entries_from_path(file).unwrap();
        self.op.offer(entries, self.now)
    }

    /// One step: collect requests, complete one, move one message each
    /// way. Whether anything happened.
    fn step(&mut self) -> bool {
        while let Some(r) = self.op.poll_io() {
            self.pending.push((true, r));
        }
        while let Some(r) = self.cu.poll_io() {
            self.pending.push((false, r));
        }
        let mut moved = false;
        if !self.pending.is_empty() {
            let i = (self.pick)(self.pending.len()) % self.pending.len();
            let (is_op, req) = self.pending.remove(i);
            let result = (self.exec)(is_op, &req.io);
            let ch = if is_op { &mut self.op } else { &mut self.cu };
            ch.handle_io(req.id, result, self.now);
            moved = true;
        }
        if let Some(m) = self.op.poll_transmit() {
            self.cu.handle(m, self.now).unwrap();
            moved = true;
        }
        if let Some(m) = self.cu.poll_transmit() {
            self.cu_sent.push(m.clone());
            self.op.handle(m, self.now).unwrap();
            moved = true;
        }
        self.now += Duration::from_millis(1);
        self.op_events
            .extend(std::iter::from_fn(|| self.op.poll_event()));
        while let Some(e) = self.cu.poll_event() {
            if let FileEvent::OfferReceived { transfer_id, .. } = &e {
                assert!(self.cu.accept_into(*transfer_id, &self.dest, self.now));
            }
            self.cu_events.push(e);
        }
        moved
    }

    fn run(&mut self) {
        for _ in 0..1_000_000 {
            if !self.step() {
                let next = [self.op.poll_timeout(), self.cu.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                let Some(at) = next else { return };
                self.now = self.now.max(at);
                self.op.handle_timeout(self.now);
                self.cu.handle_timeout(self.now);
            }
        }
        panic!("did not settle");
    }
}

fn finished(events: &[FileEvent], id: u64) -> Option<u32> {
    events.iter().find_map(|e| match e {
        FileEvent::Finished {
            transfer_id,
            failed_entries,
            ..
        } if *transfer_id == id => Some(*failed_entries),
        _ => None,
    })
}

fn partials_left(dest: &Path) -> usize {
    std::fs::read_dir(dest.join(".rsupport-partial")).map_or(0, |d| d.count())
}

#[test]
fn a_failed_write_fails_that_transfer_only_and_the_channel_goes_on() {
    let src = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let first = src.path().join("first.bin");
    let second = src.path().join("second.bin");
    std::fs::write(&first, pattern(60_000, 1)).unwrap();
    std::fs::write(&second, pattern(30_000, 2)).unwrap();
    let mut link = Link::new(dest.path());
    let mut writes = 0;
    link.exec = Box::new(move |is_op, io| {
        if !is_op && matches!(io, FileIo::Write { .. }) {
            writes += 1;
            if writes == 3 {
                return Err(StoreError::io("writing", std::io::ErrorKind::StorageFull));
            }
        }
        storage::execute(io)
    });
    let a = link.offer(&first);
    link.run();
    let cancelled = |events: &[FileEvent], by: bool| {
        events.iter().any(|e| {
            matches!(e, FileEvent::Cancelled { transfer_id, by_peer, reason, .. }
                if *transfer_id == a && *by_peer == by && reason.contains("writing the file failed")
                    && reason.contains("no storage space"))
        })
    };
    assert!(cancelled(&link.cu_events, false), "{:?}", link.cu_events);
    assert!(cancelled(&link.op_events, true), "{:?}", link.op_events);
    assert_eq!(partials_left(dest.path()), 0);
    assert!(!dest.path().join("first.bin").exists());

    // The channel is fine: the next transfer arrives whole.
    let b = link.offer(&second);
    link.run();
    assert_eq!(finished(&link.op_events, b), Some(0));
    assert_eq!(
        std::fs::read(dest.path().join("second.bin")).unwrap(),
        std::fs::read(&second).unwrap()
    );
}

#[test]
fn a_failed_read_cancels_with_a_clear_reason() {
    let src = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let file = src.path().join("f.bin");
    std::fs::write(&file, pattern(50_000, 3)).unwrap();
    let mut link = Link::new(dest.path());
    link.exec = Box::new(|is_op, io| match io {
        FileIo::Read { offset, .. } if is_op && *offset >= 16_384 => Err(StoreError::io(
            "reading",
            std::io::ErrorKind::PermissionDenied,
        )),
        _ => storage::execute(io),
    });
    let id = link.offer(&file);
    link.run();
    assert!(link.op_events.iter().any(|e| matches!(
        e,
        FileEvent::Cancelled { transfer_id, direction: Direction::Send, by_peer: false, reason }
            if *transfer_id == id && reason == "reading the file failed: permission denied"
    )));
    assert!(link
        .cu_events
        .iter()
        .any(|e| matches!(e, FileEvent::Cancelled { by_peer: true, .. })));
    assert_eq!(partials_left(dest.path()), 0);
}

#[test]
fn completions_in_any_order_give_the_same_file_and_acks_only_durable_bytes() {
    for order in 0..4u64 {
        let src = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        let file = src.path().join("f.bin");
        std::fs::write(&file, pattern(200_003, order)).unwrap();
        let mut link = Link::new(dest.path());
        let mut x = order * 7919 + 1;
        link.pick = match order {
            0 => Box::new(|_| 0),     // oldest first
            1 => Box::new(|n| n - 1), // newest first
            _ => Box::new(move |n| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                (x >> 33) as usize % n
            }),
        };
        // The executor records which bytes were durable when each sync ran.
        let written = std::rc::Rc::new(std::cell::RefCell::new(Vec::<(u64, u64)>::new()));
        let durable = std::rc::Rc::new(std::cell::Cell::new(0u64));
        let (w, d) = (written.clone(), durable.clone());
        link.exec = Box::new(move |is_op, io| {
            if !is_op {
                match io {
                    FileIo::Write { offset, data, .. } => {
                        w.borrow_mut().push((*offset, *offset + data.len() as u64))
                    }
                    FileIo::Sync { .. } => {
                        let mut ranges = w.borrow().clone();
                        ranges.sort_unstable();
                        let contiguous =
                            ranges
                                .iter()
                                .fold(0, |end, &(s, e)| if s <= end { end.max(e) } else { end });
                        d.set(contiguous);
                    }
                    _ => {}
                }
            }
            storage::execute(io)
        });
        let id = link.offer(&file);
        let mut acked = 0;
        for _ in 0..1_000_000 {
            let moved = link.step();
            for m in link.cu_sent.drain(..) {
                if let FileMessage::Ack { offset, .. } = m {
                    assert!(offset >= acked, "acks go forward");
                    assert!(
                        offset <= durable.get(),
                        "acked {offset} > synced {}",
                        durable.get()
                    );
                    acked = offset;
                }
            }
            if !moved {
                let Some(at) = link.cu.poll_timeout() else {
                    break;
                };
                link.now = link.now.max(at);
                link.cu.handle_timeout(link.now);
            }
        }
        assert_eq!(finished(&link.op_events, id), Some(0), "order {order}");
        assert_eq!(acked, 200_003);
        let got = Sha256::digest(std::fs::read(dest.path().join("f.bin")).unwrap());
        let want = Sha256::digest(std::fs::read(&file).unwrap());
        assert_eq!(got, want, "order {order}");
        assert_eq!(partials_left(dest.path()), 0);
    }
}

#[test]
fn results_for_a_cancelled_transfer_are_ignored_and_its_partial_is_removed_last() {
    for receiver_cancels in [true, false] {
        let src = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        let file = src.path().join("f.bin");
        std::fs::write(&file, pattern(100_000, 5)).unwrap();
        let mut link = Link::new(dest.path());
        let id = link.offer(&file);
        // Run until writes are in flight on the receiver and reads on the
        // sender, then hold every completion.
        for _ in 0..10_000 {
            link.step();
            let writes = link
                .pending
                .iter()
                .filter(|(op, r)| !op && matches!(r.io, FileIo::Write { .. }))
                .count();
            if writes >= 2 && link.pending.iter().any(|(op, _)| *op) {
                break;
            }
        }
        let held: Vec<_> = std::mem::take(&mut link.pending);
        assert!(held.iter().any(|(op, _)| !op), "writes in flight");
        if receiver_cancels {
            link.cu.cancel(id, "stop", link.now);
        } else {
            link.op.cancel(id, "stop", link.now);
        }
        link.run();
        // Now the held requests complete, late, and the discard queued
        // behind them (if any) runs last.
        for (is_op, req) in held {
            let result = storage::execute(&req.io);
            let ch = if is_op { &mut link.op } else { &mut link.cu };
            ch.handle_io(req.id, result, link.now);
        }
        let before = (link.op_events.len(), link.cu_events.len());
        link.run();
        assert_eq!(
            (link.op_events.len(), link.cu_events.len()),
            before,
            "late results made events: {:?} {:?}",
            link.op_events,
            link.cu_events
        );
        assert!(link.op.poll_transmit().is_none());
        assert_eq!(
            partials_left(dest.path()),
            0,
            "the partial file outlived the cancel"
        );
        assert_eq!(finished(&link.cu_events, id), None);
    }
}

#[test]
fn a_repeated_result_is_ignored() {
    let dest = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("f.bin");
    std::fs::write(&file, pattern(40_000, 8)).unwrap();
    let mut link = Link::new(dest.path());
    let id = link.offer(&file);
    let mut twice = 0;
    for _ in 0..10_000 {
        link.step();
        // Feed every receiver request's result twice.
        if let Some(i) = link.pending.iter().position(|(op, _)| !op) {
            let (_, req) = link.pending.remove(i);
            let result = storage::execute(&req.io);
            link.cu.handle_io(req.id, result.clone(), link.now);
            link.cu.handle_io(req.id, result.clone(), link.now);
            twice += 1;
        }
        if finished(&link.op_events, id).is_some() {
            break;
        }
    }
    link.run();
    assert!(twice > 10);
    assert_eq!(finished(&link.op_events, id), Some(0));
    assert_eq!(
        std::fs::read(dest.path().join("f.bin")).unwrap(),
        std::fs::read(&file).unwrap()
    );
}

#[test]
fn a_partial_file_shortened_during_a_cut_resumes_from_what_is_on_disk() {
    // The receiver keeps less than it acknowledged (the file was cut
    // short while disconnected), at an offset that is no chunk boundary:
    // the sender has no hash state there and hashes its prefix again
    // through read requests. The file still arrives whole.
    let src = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let file = src.path().join("f.bin");
    std::fs::write(&file, pattern(150_000, 11)).unwrap();
    let mut link = Link::new(dest.path());
    let id = link.offer(&file);
    let partial = dest
        .path()
        .join(".rsupport-partial")
        .join(format!("{id}-0"));
    let mut cut = false;
    for _ in 0..100_000 {
        link.step();
        let acked = link.cu_sent.iter().rev().find_map(|m| match m {
            FileMessage::Ack { offset, .. } => Some(*offset),
            _ => None,
        });
        if !cut && acked.is_some_and(|a| a >= 40_000) {
            cut = true;
            // Writes in flight land first (one landing after the file was
            // cut short would leave a hole, which the checksum would catch).
            for (is_op, req) in std::mem::take(&mut link.pending) {
                let result = storage::execute(&req.io);
                let ch = if is_op { &mut link.op } else { &mut link.cu };
                ch.handle_io(req.id, result, link.now);
            }
            link.op.connection_lost();
            link.cu.connection_lost();
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&partial)
                .unwrap();
            f.set_len(10_001).unwrap();
            link.now += Duration::from_secs(1);
            link.op.reconnected(link.now);
            link.cu.reconnected(link.now);
        }
        if finished(&link.op_events, id).is_some() {
            break;
        }
    }
    link.run();
    assert!(cut);
    let resumes: Vec<u64> = link
        .cu_sent
        .iter()
        .filter_map(|m| match m {
            FileMessage::Resume { offset, .. } => Some(*offset),
            _ => None,
        })
        .collect();
    assert_eq!(resumes, vec![0, 10_001]);
    assert_eq!(
        finished(&link.op_events, id),
        Some(0),
        "{:?}",
        link.op_events
    );
    assert_eq!(
        std::fs::read(dest.path().join("f.bin")).unwrap(),
        std::fs::read(&file).unwrap()
    );
}

/// A failed write on the customer's side fails that transfer with a reason,
/// and the session itself goes on (two whole sessions on a virtual clock,
/// the real filesystem for everything but the failing write).
#[test]
fn a_failed_file_write_fails_that_transfer_and_the_session_goes_on() {
    let mut h = SessionPair::new(&[ConnectionMode::ViewCustomer]);
    let src = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let file = src.path().join("f.bin");
    std::fs::write(&file, vec![7u8; 100_000]).unwrap();
    let entries = storage::entries_from_path(&file).unwrap();
    let id = h.operator.files().offer(entries, h.now);
    let mut customer_events = Vec::new();
    for _ in 0..200 {
        h.pump();
        while let Some(req) = h.operator.poll_io() {
            let result = storage::execute(&req.io);
            h.operator.handle_io(req.id, result, h.now);
        }
        while let Some(req) = h.customer.poll_io() {
            let result = match req.io {
                FileIo::Write { .. } => Err(StoreError::io("write", std::io::ErrorKind::Other)),
                ref other => storage::execute(other),
            };
            h.customer.handle_io(req.id, result, h.now);
        }
        while let Some(e) = h.customer.poll_event() {
            if let SessionEvent::File(FileEvent::OfferReceived { transfer_id, .. }) = &e {
                assert!(h
                    .customer
                    .files()
                    .accept_into(*transfer_id, dest.path(), h.now));
            }
            customer_events.push(e);
        }
    }
    customer_events.extend(std::iter::from_fn(|| h.customer.poll_event()));
    assert!(
        customer_events.iter().any(|e| matches!(
            e,
            SessionEvent::File(FileEvent::Cancelled { transfer_id, reason, .. })
                if *transfer_id == id && reason.starts_with("writing the file failed")
        )),
        "{customer_events:?}"
    );
    assert!(
        std::iter::from_fn(|| h.operator.poll_event()).any(|e| matches!(
            e,
            SessionEvent::File(FileEvent::Cancelled { by_peer: true, .. })
        ))
    );
    // The session is untouched: not ended, and chat still flows.
    assert_eq!(h.customer.end_reason(), None);
    assert_eq!(h.operator.end_reason(), None);
    h.customer.chat().send("still here", 1).unwrap();
    h.pump();
    assert!(std::iter::from_fn(|| h.operator.poll_event())
        .any(|e| matches!(e, SessionEvent::Chat(ChatEvent::Received(_)))));
}
