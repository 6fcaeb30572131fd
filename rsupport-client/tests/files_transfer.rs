//! File transfer between two real `FileChannel`s over an in-memory link on a
//! virtual clock, reading and writing real temporary folders through the
//! storage executor. IO requests complete in a scrambled order, as they may
//! on a pool of workers.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rsupport_client::storage;
use rsupport_core::files::{
    Direction, EntryError, FileChannel, FileConfig, FileEvent, FileMessage, OutgoingEntry, Party,
};
use sha2::{Digest, Sha256};

/// Offers a local file or tree, as the drivers do (listing is blocking IO).
trait OfferPath {
    fn offer_path(&mut self, local: &Path, now: Instant) -> std::io::Result<u64>;
}

impl OfferPath for FileChannel {
    fn offer_path(&mut self, local: &Path, now: Instant) -> std::io::Result<u64> {
        Ok(self.offer(storage::entries_from_path(local)?, now))
    }
}

/// Performs every IO request `ch` has, in a scrambled order (each batch
/// reversed, then rotated by `seed`), feeding results back, until it asks
/// for no more. Returns whether there was any.
fn run_io(ch: &mut FileChannel, now: Instant, seed: &mut u64) -> bool {
    let mut any = false;
    loop {
        let mut batch: Vec<_> = std::iter::from_fn(|| ch.poll_io()).collect();
        if batch.is_empty() {
            return any;
        }
        any = true;
        batch.reverse();
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let n = batch.len();
        batch.rotate_left((*seed >> 33) as usize % n);
        for req in batch {
            let result = storage::execute(&req.io);
            ch.handle_io(req.id, result, now);
        }
    }
}

/// What the link does with one operator → customer message.
enum Action {
    Deliver,
    /// Drop the connection before this message arrives: everything in
    /// flight is lost, both sides are told, then reconnect.
    Cut,
    /// As `Cut`, but this message arrives after the reconnect (a relay
    /// re-routed it to the new connection before the sender heard).
    CutAndDeliverLate,
}

/// Operator (sender in most tests) and customer joined by a lossless link
/// that can be cut.
struct Pair {
    op: FileChannel,
    cu: FileChannel,
    now: Instant,
    op_events: Vec<FileEvent>,
    cu_events: Vec<FileEvent>,
    /// Where the customer accepts offers; `None` = decline them.
    accept_into: Option<PathBuf>,
    /// Every message the customer sent, for checking resume offsets.
    cu_sent: Vec<FileMessage>,
    seed: u64,
}

impl Pair {
    fn new(config: FileConfig, accept_into: Option<&Path>) -> Self {
        Pair {
            op: FileChannel::new(Party::Operator, config.clone()),
            cu: FileChannel::new(Party::Customer, config),
            now: Instant::now(),
            op_events: Vec::new(),
            cu_events: Vec::new(),
            accept_into: accept_into.map(Path::to_path_buf),
            cu_sent: Vec::new(),
            seed: 1,
        }
    }

    /// Performs both sides' IO; whether there was any.
    fn io(&mut self) -> bool {
        let op = run_io(&mut self.op, self.now, &mut self.seed);
        run_io(&mut self.cu, self.now, &mut self.seed) || op
    }

    /// Moves messages until both sides are idle, passing each operator →
    /// customer message through `intercept`.
    fn run(&mut self, mut intercept: impl FnMut(&mut FileMessage) -> Action) {
        for _ in 0..1_000_000 {
            let mut moved = self.io();
            if let Some(mut m) = self.op.poll_transmit() {
                moved = true;
                match intercept(&mut m) {
                    Action::Deliver => self.cu.handle(m, self.now).expect("valid message"),
                    Action::Cut => self.cut(),
                    Action::CutAndDeliverLate => {
                        self.cut();
                        self.cu.handle(m, self.now).expect("valid message");
                    }
                }
            }
            if let Some(m) = self.cu.poll_transmit() {
                moved = true;
                self.cu_sent.push(m.clone());
                self.op.handle(m, self.now).expect("valid message");
            }
            self.now += Duration::from_millis(1);
            self.drain_events();
            if !moved {
                // Idle: jump the virtual clock to the next timer, if any.
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
        panic!("the transfer did not settle");
    }

    fn cut(&mut self) {
        self.op.connection_lost();
        self.cu.connection_lost();
        // Anything still queued belonged to the old connection.
        self.now += Duration::from_secs(5);
        self.op.reconnected(self.now);
        self.cu.reconnected(self.now);
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.op.poll_event() {
            self.op_events.push(e);
        }
        while let Some(e) = self.cu.poll_event() {
            if let FileEvent::OfferReceived { transfer_id, .. } = &e {
                match &self.accept_into {
                    Some(dir) => assert!(self.cu.accept_into(*transfer_id, dir, self.now)),
                    None => assert!(self.cu.decline(*transfer_id, "not now")),
                }
            }
            self.cu_events.push(e);
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
}

/// Deterministic pseudo-random bytes (xorshift), so content errors show.
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

fn small_chunks() -> FileConfig {
    FileConfig::default()
        .with_chunk_size(4096)
        .with_window(16 * 1024, 8 * 1024)
}

fn sha(path: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(path).unwrap()).into()
}

/// Lists every file under `root` relative to it, skipping the partial folder.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel == ".rsupport-partial" {
                assert_eq!(
                    std::fs::read_dir(e.path()).unwrap().count(),
                    0,
                    "partial files left behind"
                );
                continue;
            }
            out.push(rel);
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn folder_tree_round_trip() {
    let src = tempfile::tempdir().unwrap();
    let top = src.path().join("project");
    std::fs::create_dir_all(top.join("docs/deep")).unwrap();
    std::fs::create_dir_all(top.join("empty")).unwrap();
    std::fs::write(top.join("a.bin"), pattern(100_000, 1)).unwrap();
    std::fs::write(top.join("docs/readme.txt"), b"read me").unwrap();
    std::fs::write(top.join("docs/deep/zero.dat"), b"").unwrap();
    std::fs::write(top.join("docs/deep/exact.bin"), pattern(4096 * 3, 2)).unwrap();
    let dest = tempfile::tempdir().unwrap();

    let mut pair = Pair::new(small_chunks(), Some(dest.path()));
    let id = pair.op.offer_path(&top, pair.now).unwrap();
    pair.run(|_| Action::Deliver);

    assert_eq!(Pair::finished(&pair.op_events, id), Some(0));
    assert_eq!(Pair::finished(&pair.cu_events, id), Some(0));
    assert_eq!(tree(dest.path()), tree(src.path()));
    for f in [
        "a.bin",
        "docs/readme.txt",
        "docs/deep/zero.dat",
        "docs/deep/exact.bin",
    ] {
        assert_eq!(
            std::fs::read(dest.path().join("project").join(f)).unwrap(),
            std::fs::read(top.join(f)).unwrap(),
            "{f}"
        );
    }
    // Progress reached the total on both sides.
    for events in [&pair.op_events, &pair.cu_events] {
        let last = events
            .iter()
            .rev()
            .find_map(|e| match e {
                FileEvent::Progress(p) => Some(*p),
                _ => None,
            })
            .expect("progress events");
        assert_eq!(last.bytes_done, last.bytes_total);
        assert_eq!(last.bytes_total, 100_000 + 7 + 4096 * 3);
    }
}

#[test]
fn cut_in_the_middle_resumes_from_the_last_ack() {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("big.bin");
    std::fs::write(&file, pattern(300_000, 7)).unwrap();
    let dest = tempfile::tempdir().unwrap();

    let mut pair = Pair::new(small_chunks(), Some(dest.path()));
    let id = pair.op.offer_path(&file, pair.now).unwrap();
    let mut chunks = 0;
    let mut cut = false;
    pair.run(|m| {
        if let FileMessage::Chunk(_) = m {
            chunks += 1;
            // Cut once, mid-file and between two acknowledgements, so the
            // receiver holds un-acknowledged bytes it must throw away.
            if chunks == 37 && !cut {
                cut = true;
                return Action::Cut;
            }
        }
        Action::Deliver
    });
    assert!(cut);
    let resumes: Vec<u64> = pair
        .cu_sent
        .iter()
        .filter_map(|m| match m {
            FileMessage::Resume { offset, .. } => Some(*offset),
            _ => None,
        })
        .collect();
    assert_eq!(resumes.len(), 2, "one start and one resume");
    assert_eq!(resumes[0], 0);
    assert!(
        resumes[1] > 0 && resumes[1] < 300_000,
        "resumed at {}",
        resumes[1]
    );
    assert_eq!(
        resumes[1] % (8 * 1024),
        0,
        "resume is at an acknowledged offset"
    );

    assert_eq!(Pair::finished(&pair.cu_events, id), Some(0));
    assert_eq!(Pair::finished(&pair.op_events, id), Some(0));
    assert_eq!(sha(&dest.path().join("big.bin")), sha(&file));
    // Less than the whole file was sent twice.
    assert!(chunks < 2 * 300_000 / 4096, "{chunks} chunks");
}

#[test]
fn data_sent_before_the_cut_and_arriving_after_it_is_dropped() {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("big.bin");
    std::fs::write(&file, pattern(300_000, 9)).unwrap();
    let dest = tempfile::tempdir().unwrap();

    let mut pair = Pair::new(small_chunks(), Some(dest.path()));
    let id = pair.op.offer_path(&file, pair.now).unwrap();
    let mut chunks = 0;
    pair.run(|m| {
        if let FileMessage::Chunk(_) = m {
            chunks += 1;
            if chunks == 37 {
                return Action::CutAndDeliverLate;
            }
        }
        Action::Deliver
    });
    assert!(
        !pair
            .cu_events
            .iter()
            .any(|e| matches!(e, FileEvent::Cancelled { .. })),
        "{:?}",
        pair.cu_events
    );
    assert_eq!(Pair::finished(&pair.cu_events, id), Some(0));
    assert_eq!(sha(&dest.path().join("big.bin")), sha(&file));
}

#[test]
fn corrupted_chunk_is_a_checksum_error_and_no_file() {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("report.pdf");
    std::fs::write(&file, pattern(50_000, 3)).unwrap();
    let dest = tempfile::tempdir().unwrap();

    let mut pair = Pair::new(small_chunks(), Some(dest.path()));
    let id = pair.op.offer_path(&file, pair.now).unwrap();
    let mut n = 0;
    pair.run(|m| {
        if let FileMessage::Chunk(c) = m {
            n += 1;
            if n == 5 {
                let mut data = c.data.to_vec();
                data[100] ^= 0x01;
                c.data = data.into();
            }
        }
        Action::Deliver
    });
    assert!(pair.cu_events.iter().any(|e| matches!(
        e,
        FileEvent::EntryFailed {
            error: EntryError::ChecksumMismatch,
            direction: Direction::Receive,
            ..
        }
    )));
    assert!(pair.op_events.iter().any(|e| matches!(
        e,
        FileEvent::EntryFailed {
            error: EntryError::Reported(_),
            direction: Direction::Send,
            ..
        }
    )));
    assert_eq!(Pair::finished(&pair.op_events, id), Some(1));
    assert!(!dest.path().join("report.pdf").exists());
    assert_eq!(tree(dest.path()), Vec::<String>::new());
}

#[test]
fn declined_offer_writes_nothing() {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("x.txt");
    std::fs::write(&file, b"x").unwrap();
    let dest = tempfile::tempdir().unwrap();

    let mut pair = Pair::new(small_chunks(), None);
    let id = pair.op.offer_path(&file, pair.now).unwrap();
    pair.run(|_| Action::Deliver);
    assert!(pair.op_events.iter().any(
        |e| matches!(e, FileEvent::Declined { transfer_id, reason } if *transfer_id == id && reason == "not now")
    ));
    assert!(!pair
        .op_events
        .iter()
        .any(|e| matches!(e, FileEvent::Progress(_))));
    assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
}

#[test]
fn cancel_by_either_side_removes_partial_data() {
    for receiver_cancels in [false, true] {
        let src = tempfile::tempdir().unwrap();
        let file = src.path().join("long.bin");
        std::fs::write(&file, pattern(200_000, 9)).unwrap();
        let dest = tempfile::tempdir().unwrap();

        let mut pair = Pair::new(small_chunks(), Some(dest.path()));
        let id = pair.op.offer_path(&file, pair.now).unwrap();
        // Deliver until some data has arrived, then stop pumping.
        let mut delivered = 0;
        while delivered < 10 {
            pair.io();
            if let Some(m) = pair.op.poll_transmit() {
                if matches!(m, FileMessage::Chunk(_)) {
                    delivered += 1;
                }
                pair.cu.handle(m, pair.now).unwrap();
            }
            while let Some(m) = pair.cu.poll_transmit() {
                pair.op.handle(m, pair.now).unwrap();
            }
            pair.drain_events();
        }
        assert!(
            dest.path()
                .join(".rsupport-partial")
                .read_dir()
                .unwrap()
                .count()
                == 1
        );
        if receiver_cancels {
            pair.cu.cancel(id, "changed my mind", pair.now);
        } else {
            pair.op.cancel(id, "changed my mind", pair.now);
        }
        pair.run(|_| Action::Deliver);
        for (events, by_peer) in [
            (&pair.op_events, receiver_cancels),
            (&pair.cu_events, !receiver_cancels),
        ] {
            assert!(
                events.iter().any(|e| matches!(
                    e,
                    FileEvent::Cancelled { transfer_id, by_peer: b, reason, .. }
                        if *transfer_id == id && *b == by_peer && reason == "changed my mind"
                )),
                "{events:?}"
            );
            assert!(Pair::finished(events, id).is_none());
        }
        assert_eq!(tree(dest.path()), Vec::<String>::new());
    }
}

#[test]
fn unsafe_offers_are_rejected_and_nothing_is_written_outside() {
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let src = tempfile::tempdir().unwrap();
    let payload = src.path().join("payload");
    std::fs::write(&payload, b"evil").unwrap();

    for bad in [
        "../escaped",
        "/tmp/abs",
        "C:\\Windows\\x",
        "sub/../../escaped",
        "docs/CON",
        "a\\..\\b",
        "bad\0name",
    ] {
        let mut pair = Pair::new(small_chunks(), Some(&dest));
        let entries = vec![
            OutgoingEntry::file("fine.txt", 4, &payload),
            OutgoingEntry::file(bad, 4, &payload),
        ];
        let id = pair.op.offer(entries, pair.now);
        pair.run(|_| Action::Deliver);
        assert!(
            pair.cu_events.iter().any(|e| matches!(
                e,
                FileEvent::OfferRejected { transfer_id, entry: 1, error: EntryError::UnsafePath(_) } if *transfer_id == id
            )),
            "{bad:?}: {:?}",
            pair.cu_events
        );
        assert!(pair
            .op_events
            .iter()
            .any(|e| matches!(e, FileEvent::Declined { .. })));
    }
    // Nothing anywhere: not the fine file (the whole offer is refused), not outside.
    assert_eq!(tree(outer.path()), vec!["dest".to_string()]);
}

#[cfg(unix)]
#[test]
fn symlink_in_destination_is_refused() {
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("dest");
    let elsewhere = outer.path().join("elsewhere");
    std::fs::create_dir(&dest).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dest.join("link")).unwrap();
    let src = tempfile::tempdir().unwrap();
    let payload = src.path().join("payload");
    std::fs::write(&payload, b"data").unwrap();

    let mut pair = Pair::new(small_chunks(), Some(&dest));
    let entries = vec![
        OutgoingEntry::file("link/planted.txt", 4, &payload),
        OutgoingEntry::directory("link/sub"),
        OutgoingEntry::file("ok.txt", 4, &payload),
    ];
    let id = pair.op.offer(entries, pair.now);
    pair.run(|_| Action::Deliver);
    let failed: Vec<u32> = pair
        .cu_events
        .iter()
        .filter_map(|e| match e {
            FileEvent::EntryFailed {
                entry,
                error: EntryError::Store(s),
                ..
            } => {
                assert!(s.to_string().contains("symbolic link"), "{s}");
                Some(*entry)
            }
            _ => None,
        })
        .collect();
    assert_eq!(failed, vec![0, 1]);
    assert_eq!(Pair::finished(&pair.op_events, id), Some(2));
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "wrote through the symlink"
    );
    assert_eq!(std::fs::read(dest.join("ok.txt")).unwrap(), b"data");
}

#[test]
fn existing_files_are_never_overwritten() {
    let dest = tempfile::tempdir().unwrap();
    std::fs::write(dest.path().join("same.txt"), b"original").unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("same.txt"), b"replacement").unwrap();
    let mut pair = Pair::new(small_chunks(), Some(dest.path()));
    let id = pair
        .op
        .offer_path(&src.path().join("same.txt"), pair.now)
        .unwrap();
    pair.run(|_| Action::Deliver);
    assert_eq!(Pair::finished(&pair.cu_events, id), Some(1));
    assert_eq!(
        std::fs::read(dest.path().join("same.txt")).unwrap(),
        b"original"
    );
    assert_eq!(tree(dest.path()), vec!["same.txt".to_string()]);
}

#[test]
fn auto_accept_and_a_queue_of_transfers() {
    let src = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let mut pair = Pair::new(small_chunks(), None); // would decline if asked
    let root = dest.path().to_path_buf();
    pair.cu.set_auto_accept(Some(root));
    let mut ids = Vec::new();
    for i in 0..4u64 {
        let f = src.path().join(format!("f{i}.bin"));
        std::fs::write(&f, pattern(20_000 + i as usize * 1000, i)).unwrap();
        ids.push(pair.op.offer_path(&f, pair.now).unwrap());
    }
    pair.run(|_| Action::Deliver);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(Pair::finished(&pair.op_events, *id), Some(0));
        assert!(pair.cu_events.iter().any(
            |e| matches!(e, FileEvent::OfferAutoAccepted { transfer_id, .. } if transfer_id == id)
        ));
        let name = format!("f{i}.bin");
        assert_eq!(sha(&dest.path().join(&name)), sha(&src.path().join(&name)));
    }
    assert!(!pair
        .cu_events
        .iter()
        .any(|e| matches!(e, FileEvent::OfferReceived { .. })));
}

#[test]
fn customer_sends_to_operator_too() {
    let src = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("log.txt"), pattern(10_000, 5)).unwrap();
    let mut cu = FileChannel::new(Party::Customer, small_chunks());
    let mut op = FileChannel::new(Party::Operator, small_chunks());
    let now = Instant::now();
    let id = cu.offer_path(&src.path().join("log.txt"), now).unwrap();
    assert_ne!(id & (1 << 63), 0, "customer ids use the top half");
    let mut done = false;
    let mut seed = 7;
    for _ in 0..10_000 {
        run_io(&mut cu, now, &mut seed);
        run_io(&mut op, now, &mut seed);
        while let Some(m) = cu.poll_transmit() {
            op.handle(m, now).unwrap();
        }
        while let Some(m) = op.poll_transmit() {
            cu.handle(m, now).unwrap();
        }
        while let Some(e) = op.poll_event() {
            if let FileEvent::OfferReceived { transfer_id, .. } = e {
                op.accept_into(transfer_id, dest.path(), now);
            }
        }
        if std::iter::from_fn(|| cu.poll_event()).any(|e| matches!(e, FileEvent::Finished { .. })) {
            done = true;
            break;
        }
    }
    assert!(done);
    assert_eq!(
        sha(&dest.path().join("log.txt")),
        sha(&src.path().join("log.txt"))
    );
    // An offer with an id from the receiver's own half is a protocol error.
    let bogus = FileMessage::Offer(rsupport_proto::files::FileOffer {
        transfer_id: 5,
        entries: Vec::new(),
    });
    assert_eq!(
        op.handle(bogus, now),
        Err(rsupport_core::files::FileProtocolError::WrongIdSpace)
    );
}

#[test]
fn progress_reports_rate_and_eta_from_the_clock() {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("p.bin");
    std::fs::write(&file, pattern(400_000, 11)).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let config = small_chunks().with_progress_interval(Duration::from_millis(20));
    let mut pair = Pair::new(config, Some(dest.path()));
    pair.op.offer_path(&file, pair.now).unwrap();
    pair.run(|_| Action::Deliver);
    let progress: Vec<_> = pair
        .op_events
        .iter()
        .filter_map(|e| match e {
            FileEvent::Progress(p) => Some(*p),
            _ => None,
        })
        .collect();
    assert!(progress.len() >= 3, "{progress:?}");
    assert!(progress
        .windows(2)
        .all(|w| w[0].bytes_done <= w[1].bytes_done));
    // The link moves one message per virtual millisecond: about 4 KiB/ms.
    let mid = progress[progress.len() / 2];
    assert!(
        mid.bytes_per_second > 1_000_000 && mid.bytes_per_second < 10_000_000,
        "{mid:?}"
    );
    assert!(mid.eta.is_some_and(|eta| eta > Duration::ZERO));
}

#[test]
fn resume_rehashes_the_kept_prefix_from_disk() {
    // If the kept partial data changes while disconnected, the receiver must
    // notice: it re-hashes what is on disk rather than trusting its memory.
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("big.bin");
    std::fs::write(&file, pattern(120_000, 13)).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let partial_dir = dest.path().join(".rsupport-partial");

    let mut pair = Pair::new(small_chunks(), Some(dest.path()));
    let id = pair.op.offer_path(&file, pair.now).unwrap();
    let mut chunks = 0;
    pair.run(|m| {
        if let FileMessage::Chunk(_) = m {
            chunks += 1;
            if chunks == 20 {
                let partial = partial_dir.join(format!("{id}-0"));
                let mut data = std::fs::read(&partial).unwrap();
                data[10] ^= 0xff;
                std::fs::write(&partial, data).unwrap();
                return Action::Cut;
            }
        }
        Action::Deliver
    });
    assert!(pair.cu_events.iter().any(|e| matches!(
        e,
        FileEvent::EntryFailed {
            error: EntryError::ChecksumMismatch,
            ..
        }
    )));
    assert!(!dest.path().join("big.bin").exists());
}

#[test]
fn a_cancel_lost_with_the_connection_is_repeated() {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("long.bin");
    std::fs::write(&file, pattern(100_000, 17)).unwrap();
    let dest = tempfile::tempdir().unwrap();
    // The sender cancels while data flows, and its Cancel is lost in a cut.
    let mut pair = Pair::new(small_chunks(), Some(dest.path()));
    let id = pair.op.offer_path(&file, pair.now).unwrap();
    let mut seen = 0;
    let mut cut = false;
    let mut cancel_at = None;
    for _ in 0..100_000 {
        pair.io();
        if let Some(m) = pair.op.poll_transmit() {
            match m {
                FileMessage::Cancel { .. } if !cut => {
                    cut = true;
                    pair.cut();
                }
                m => {
                    if matches!(m, FileMessage::Chunk(_)) {
                        seen += 1;
                        if seen == 5 {
                            cancel_at = Some(pair.now);
                        }
                    }
                    pair.cu.handle(m, pair.now).unwrap();
                }
            }
        }
        if cancel_at.take().is_some() {
            pair.op.cancel(id, "stop", pair.now);
        }
        while let Some(m) = pair.cu.poll_transmit() {
            pair.op.handle(m, pair.now).unwrap();
        }
        pair.now += Duration::from_millis(1);
        pair.drain_events();
    }
    assert!(cut);
    assert!(
        pair.cu_events.iter().any(|e| matches!(
            e,
            FileEvent::Cancelled { transfer_id, by_peer: true, .. } if *transfer_id == id
        )),
        "{:?}",
        pair.cu_events
    );
    assert_eq!(tree(dest.path()), Vec::<String>::new());
}

#[test]
fn a_sender_window_below_the_receivers_ack_interval_does_not_stall() {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("f.bin");
    std::fs::write(&file, pattern(100_000, 21)).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let mut pair = Pair::new(FileConfig::default(), Some(dest.path()));
    // The operator runs with a 16 KiB window, the customer acks every 2 MiB.
    pair.op = FileChannel::new(Party::Operator, small_chunks());
    let start = pair.now;
    let id = pair.op.offer_path(&file, pair.now).unwrap();
    pair.run(|_| Action::Deliver);
    assert_eq!(Pair::finished(&pair.op_events, id), Some(0));
    assert_eq!(sha(&dest.path().join("f.bin")), sha(&file));
    // Progress came from delayed acks: the virtual clock jumped to them.
    assert!(pair.now - start >= FileConfig::default().ack_delay * 5);
}
