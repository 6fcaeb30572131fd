//! A relay in a child process of a bench, so its memory can be measured
//! apart from the clients': the child announces where it listens on its
//! first stdout line, the parent reads it.

use std::process::Stdio;
use std::sync::Arc;

use rsupport_net::tls::{client_config, parse_fingerprint, Trust};
use rsupport_relay::RunningRelay;
use tokio::io::AsyncBufReadExt;

/// Child side: prints `port fingerprint-hex` for the parent, then serves
/// until the parent kills this process.
pub async fn announce_and_serve(relay: RunningRelay) -> ! {
    println!("{} {}", relay.local_addr().port(), relay.fingerprint_hex());
    std::future::pending::<()>().await;
    unreachable!("pending never completes")
}

/// A started relay child and what its announcement says.
pub struct Child {
    /// The process (killed when dropped).
    pub process: tokio::process::Child,
    /// Its process id.
    pub pid: u32,
    /// The port on 127.0.0.1 it listens on.
    pub port: u16,
    /// A client TLS configuration pinned to its certificate.
    pub tls: Arc<rustls::ClientConfig>,
}

/// Parent side: starts `command` (this bench's own executable with the
/// environment that makes it the child) and reads its announcement.
pub async fn spawn(mut command: tokio::process::Command) -> Child {
    let mut process = command
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the relay child");
    let pid = process.id().expect("pid");
    let mut line = String::new();
    tokio::io::BufReader::new(process.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .await
        .expect("child line");
    let mut parts = line.split_whitespace();
    let port: u16 = parts.next().and_then(|p| p.parse().ok()).expect("port");
    let fp = parse_fingerprint(parts.next().expect("fp")).expect("fp");
    let tls = client_config(Trust::Fingerprint(fp), None).expect("client tls");
    Child {
        process,
        pid,
        port,
        tls,
    }
}
