//! Bench program: file-transfer state machines plus the real filesystem,
//! in one process, for a large file (default 1 GiB).
//!
//! The file is generated in 1 MiB blocks and never held in memory. Printed
//! next to the transfer's throughput, measured in the same run on the same
//! file and disk:
//! - `fs::copy` (kernel copy: the ceiling for moving the bytes at all),
//! - read + SHA-256 (the hashing both ends must do).
//!
//! The relay-over-TLS part of the issue's benchmark needs the session layer
//! and is not measured here.
//!
//! ```text
//! cargo bench -p rsupport-core --bench files_throughput
//! RSUPPORT_BENCH_BYTES=268435456 cargo bench -p rsupport-core --bench files_throughput
//! ```

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use rsupport_client::storage;
use rsupport_core::files::{
    FileChannel, FileConfig, FileEvent, FileIo, FileMessage, IoDone, IoResult, OutgoingEntry, Party,
};
use sha2::{Digest, Sha256};

const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    let size: u64 = std::env::var("RSUPPORT_BENCH_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 30);
    let work = tempfile::tempdir().expect("temp dir");
    let src = work.path().join("big.bin");
    write_file(&src, size);
    let rate = |d: Duration| size as f64 / MIB / d.as_secs_f64();

    let t = Instant::now();
    std::fs::copy(&src, work.path().join("copy.bin")).expect("copy");
    let copy = t.elapsed();
    std::fs::remove_file(work.path().join("copy.bin")).expect("rm");

    let t = Instant::now();
    let digest = hash_file(&src);
    let hash = t.elapsed();

    let dest = work.path().join("dest");
    std::fs::create_dir(&dest).expect("mkdir");
    let entries = rsupport_client::storage::entries_from_path(&src).expect("entries");
    let (on_disk, mut stats) = transfer(entries, &dest, &storage::execute);
    assert_eq!(
        hash_file(&dest.join("big.bin")),
        digest,
        "received file differs"
    );

    println!("file size: {:.0} MiB", size as f64 / MIB);
    println!(
        "fs::copy            {:>8.1} MiB/s  ({:.2} s)",
        rate(copy),
        copy.as_secs_f64()
    );
    println!(
        "read + SHA-256      {:>8.1} MiB/s  ({:.2} s)",
        rate(hash),
        hash.as_secs_f64()
    );
    println!(
        "FileChannel → disk  {:>8.1} MiB/s  ({:.2} s)  = {:.2}× fs::copy, {:.2}× read+SHA-256",
        rate(on_disk),
        on_disk.as_secs_f64(),
        copy.as_secs_f64() / on_disk.as_secs_f64(),
        hash.as_secs_f64() / on_disk.as_secs_f64(),
    );
    // The same transfer with no disk at either end: what the state machines
    // and the two SHA-256 passes cost by themselves.
    let memory_source = OutgoingEntry::file("big.bin", size, "pattern");
    let pattern = PatternSource::new();
    let (in_memory, mut mem_stats) =
        transfer(vec![memory_source], &dest, &|io| pattern.execute(io));
    println!(
        "FileChannel, no disk {:>8.1} MiB/s  ({:.2} s)  (CPU bound: state machines + SHA-256 at both ends)",
        rate(in_memory),
        in_memory.as_secs_f64()
    );
    println!(
        "  {} messages, {} chunks, {} acks, largest burst of file data between acks {} chunks",
        stats.messages, stats.chunks, stats.acks, stats.max_burst
    );
    // What a screen update or keystroke queued behind file data waits for in
    // the worst case, if the driver interleaves by priority between chunks:
    // one chunk's CPU time here plus one chunk on the wire.
    for (name, st) in [("with disk", &mut stats), ("no disk", &mut mem_stats)] {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let (snd, rcv) = (&mut st.send_times, &mut st.receive_times);
        println!(
            "  per {} KiB chunk, {name}: sender p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; receiver p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            FileConfig::default().chunk_size / 1024,
            ms(percentile(snd, 0.5)),
            ms(percentile(snd, 0.99)),
            ms(percentile(snd, 1.0)),
            ms(percentile(rcv, 0.5)),
            ms(percentile(rcv, 0.99)),
            ms(percentile(rcv, 1.0)),
        );
    }
    println!(
        "  one chunk on a 100 Mbit/s link: {:.1} ms; on 1 Gbit/s: {:.1} ms",
        FileConfig::default().chunk_size as f64 * 8.0 / 100e6 * 1000.0,
        FileConfig::default().chunk_size as f64 * 8.0 / 1e9 * 1000.0,
    );
}

#[derive(Default)]
struct Stats {
    messages: u64,
    chunks: u64,
    acks: u64,
    max_burst: u64,
    /// Time to produce each chunk (hash; the read is an IO request) on the sender.
    send_times: Vec<Duration>,
    /// Time to consume each chunk (hash, write request) on the receiver.
    receive_times: Vec<Duration>,
}

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort_unstable();
    let i = ((times.len() as f64 - 1.0) * p).round() as usize;
    times.get(i).copied().unwrap_or_default()
}

/// Operator sends, customer receives, messages passed by value (no
/// serialisation: that is the proto crate's bench); IO requests performed
/// inline by `exec`, in order.
fn transfer(
    entries: Vec<OutgoingEntry>,
    dest: &Path,
    exec: &dyn Fn(&FileIo) -> IoResult,
) -> (Duration, Stats) {
    let mut op = FileChannel::new(Party::Operator, FileConfig::default());
    let mut cu = FileChannel::new(Party::Customer, FileConfig::default());
    let mut stats = Stats::default();
    let start = Instant::now();
    op.offer(entries, Instant::now());
    let mut dest = Some(dest);
    let mut burst = 0;
    loop {
        let now = Instant::now();
        let mut moved = false;
        for ch in [&mut op, &mut cu] {
            while let Some(req) = ch.poll_io() {
                let result = exec(&req.io);
                ch.handle_io(req.id, result, now);
                moved = true;
            }
        }
        // Like a driver: drain the receiver's control, then send data until
        // the window closes.
        while let Some(m) = cu.poll_transmit() {
            if matches!(m, FileMessage::Ack { .. }) {
                stats.acks += 1;
                stats.max_burst = stats.max_burst.max(burst);
                burst = 0;
            }
            stats.messages += 1;
            op.handle(m, now).expect("valid");
            moved = true;
        }
        let t = Instant::now();
        if let Some(m) = op.poll_transmit() {
            let is_chunk = matches!(m, FileMessage::Chunk(_));
            if is_chunk {
                stats.send_times.push(t.elapsed());
                stats.chunks += 1;
                burst += 1;
            }
            stats.messages += 1;
            let t = Instant::now();
            cu.handle(m, now).expect("valid");
            if is_chunk {
                stats.receive_times.push(t.elapsed());
            }
            moved = true;
        }
        while let Some(e) = cu.poll_event() {
            if let FileEvent::OfferReceived { transfer_id, .. } = e {
                if let Some(d) = dest.take() {
                    cu.accept_into(transfer_id, d, now);
                }
            }
        }
        while let Some(e) = op.poll_event() {
            match e {
                FileEvent::Finished { failed_entries, .. } => {
                    assert_eq!(failed_entries, 0);
                    return (start.elapsed(), stats);
                }
                FileEvent::Cancelled { reason, .. } => panic!("cancelled: {reason}"),
                _ => {}
            }
        }
        assert!(moved, "stalled");
    }
}

fn write_file(path: &Path, size: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut block = vec![0u8; 1 << 20];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut left = size;
    while left > 0 {
        for b in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n]).expect("write");
        left -= n as u64;
    }
    f.flush().expect("flush");
    f.get_ref().sync_all().expect("sync");
}

fn hash_file(path: &Path) -> [u8; 32] {
    let mut f = std::fs::File::open(path).expect("open");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            return h.finalize().into();
        }
        h.update(&buf[..n]);
    }
}

/// Endless data repeating a 1 MiB block, so producing it costs one memcpy.
struct PatternSource(Vec<u8>);

impl PatternSource {
    fn new() -> Self {
        PatternSource(
            (0..1u32 << 20)
                .map(|n| (n ^ (n >> 8) ^ (n >> 16)) as u8)
                .collect(),
        )
    }
}

impl PatternSource {
    /// Reads come from the pattern; everything else succeeds and is forgotten.
    fn execute(&self, io: &FileIo) -> IoResult {
        Ok(match io {
            FileIo::Read { offset, len, .. } => {
                let size = self.0.len() as u64;
                let mut buf = Vec::with_capacity(*len);
                while buf.len() < *len {
                    let start = ((offset + buf.len() as u64) % size) as usize;
                    let n = (self.0.len() - start).min(len - buf.len());
                    buf.extend_from_slice(&self.0[start..start + n]);
                }
                IoDone::Data(buf.into())
            }
            FileIo::Truncate { len, .. } => IoDone::Len(*len),
            _ => IoDone::Done,
        })
    }
}
