//! Bench program: a large file (default 1 GiB) sent operator → customer
//! through the real relay over TLS on loopback with the endpoint API,
//! against raw TLS throughput (tokio-rustls client → server on loopback,
//! the relay's kind of certificate) measured in the same run.
//!
//! The source is a sparse file (no disk reads); nothing is held in memory.
//! The transfer runs twice: into a temporary folder on disk (the receiver
//! syncs the file before it reports success) and, when it exists, into
//! /dev/shm, which separates the disk from the network path.
//!
//! Throughput counts from `send_files` to the customer's `Finished`
//! (received, SHA-256 verified, stored).
//!
//! Baselines in the same run: `std::fs::copy` of the same source into the
//! same folders (the kernel's copy, no sync: the ceiling for moving the
//! bytes locally at all), and `fs::copy` followed by `sync_data`, which is
//! what the receiver's durability promise costs at least.
//!
//! ```text
//! cargo bench -p rsupport-client --bench files_relay
//! RSUPPORT_BENCH_BYTES=268435456 cargo bench -p rsupport-client --bench files_relay
//! ```

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed bench

use rsupport_testkit::relay as support;
mod transfer_common;

use std::path::Path;
use std::time::{Duration, Instant};

use rsupport_client::HostPlatform;
use rsupport_input::inject::RecordingInjector;
use rsupport_net::tls::{client_config, server_config, Trust};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use transfer_common::{bench_bytes, control_session, sparse_file, timed_transfer, Screen, MIB};

/// Write size of the raw TLS stream: the file channel's chunk size.
const RAW_WRITE: usize = 256 * 1024;

/// Streams `size` bytes over one TLS connection on loopback; the time until
/// the server has read them all (it answers one byte at the end).
async fn raw_tls(size: u64) -> Duration {
    let (identity, _, _) = rsupport_relay::identity::self_signed(&["localhost".into()]).unwrap();
    let pinned = identity.fingerprint();
    let server = server_config(identity, None).unwrap();
    let client = client_config(Trust::Fingerprint(pinned), None).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sink = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = tokio_rustls::TlsAcceptor::from(server)
            .accept(tcp)
            .await
            .unwrap();
        let mut buf = vec![0u8; RAW_WRITE];
        let mut got = 0u64;
        while got < size {
            let n = tls.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got += n as u64;
        }
        tls.write_all(b"k").await.unwrap();
        tls.flush().await.unwrap();
        got
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(client)
        .connect(name, tcp)
        .await
        .unwrap();
    let block = vec![0x5au8; RAW_WRITE];
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < size {
        let n = (size - sent).min(RAW_WRITE as u64) as usize;
        tls.write_all(&block[..n]).await.unwrap();
        sent += n as u64;
    }
    tls.flush().await.unwrap();
    let mut ack = [0u8; 1];
    tls.read_exact(&mut ack).await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(sink.await.unwrap(), size, "raw TLS lost bytes");
    elapsed
}

/// Sends `source` operator → customer through a fresh relay; the customer
/// saves into `dest`. Returns the time until the customer's `Finished`.
async fn relay_transfer(source: &Path, dest: &Path, size: u64) -> Duration {
    let platform = HostPlatform::new(
        Box::new(Screen::still()),
        Box::new(RecordingInjector::new()),
        None,
    );
    let (_operator, op, cu) = control_session(platform, dest).await;
    timed_transfer(op, cu, source, dest, size).await
}

/// `fs::copy` of `source` into `dir`, then the same with a `sync_data`
/// at the end; each copy is removed afterwards.
fn fs_copy(source: &Path, dir: &Path) -> (Duration, Duration) {
    let target = dir.join("copy.bin");
    let start = Instant::now();
    std::fs::copy(source, &target).unwrap();
    let plain = start.elapsed();
    std::fs::remove_file(&target).unwrap();
    let start = Instant::now();
    std::fs::copy(source, &target).unwrap();
    std::fs::File::open(&target).unwrap().sync_data().unwrap();
    let synced = start.elapsed();
    std::fs::remove_file(&target).unwrap();
    (plain, synced)
}

fn main() {
    let size = bench_bytes();
    // `cargo test --benches` runs this binary too: keep that run tiny.
    let quick = std::env::args().any(|a| a == "--test" || a == "--list");
    let size = if quick { 4 << 20 } else { size };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let source = sparse_file(work.path(), size);
    let disk = tempfile::tempdir().unwrap();
    let shm = Path::new("/dev/shm")
        .is_dir()
        .then(|| tempfile::tempdir_in("/dev/shm").ok())
        .flatten();

    let raw = runtime.block_on(raw_tls(size));
    let mut rows = vec![("raw TLS, client → server (1 hop)".to_owned(), raw)];
    for dir in std::iter::once(disk.path()).chain(shm.as_ref().map(|d| d.path())) {
        let (copy, synced) = fs_copy(&source, dir);
        rows.push((format!("fs::copy → {}", dir.display()), copy));
        rows.push((format!("fs::copy + sync_data → {}", dir.display()), synced));
    }
    let to_disk = runtime.block_on(relay_transfer(&source, disk.path(), size));
    rows.push((
        format!("relay, endpoint API → {}", disk.path().display()),
        to_disk,
    ));
    if let Some(shm) = &shm {
        let to_shm = runtime.block_on(relay_transfer(&source, shm.path(), size));
        rows.push((
            format!("relay, endpoint API → {}", shm.path().display()),
            to_shm,
        ));
    }
    let rate = |d: Duration| size as f64 / MIB / d.as_secs_f64();
    println!("transfer size: {:.0} MiB ({size} bytes)", size as f64 / MIB);
    println!(
        "{:<48} {:>10} {:>9} {:>12}",
        "path", "MiB/s", "seconds", "vs raw TLS"
    );
    for (name, d) in &rows {
        println!(
            "{:<48} {:>10.1} {:>9.2} {:>12.2}",
            name,
            rate(*d),
            d.as_secs_f64(),
            raw.as_secs_f64() / d.as_secs_f64()
        );
    }
}
