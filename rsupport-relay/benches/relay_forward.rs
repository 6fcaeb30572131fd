//! Relay benchmarks, printed as numbers (no asserts):
//!
//! 1. Forwarding throughput and round-trip latency through the relay (plain
//!    TCP and TLS) against a plain TCP forward by `socat` and a direct TCP
//!    connection, all measured in the same run on 127.0.0.1.
//! 2. Memory per idle connection: a relay child process holds N idle TLS
//!    connections (default 10,000); its RSS growth divided by N.
//!
//! Run: `cargo bench -p rsupport-relay --bench relay_forward`
//! Environment: `RELAY_BENCH_MB` (throughput volume, default 256),
//! `RELAY_BENCH_RTTS` (round trips, default 5000), `RELAY_BENCH_CONNS`
//! (idle connections, default 10000).

#[path = "common/child_relay.rs"]
mod child_relay;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_net::tls::{client_config, Trust};
use rsupport_net::RelayConnection;
use rsupport_proto::envelope::{Envelope, PayloadProtection, Priority};
use rsupport_proto::framing::{encode_frame, FrameKind, FrameLimits};
use rsupport_proto::relay::{CustomerInfo, Login, RelayMessage, Secret};
use rsupport_proto::Role;
use rsupport_relay::auth::Argon2Params;
use rsupport_relay::store::SqliteStore;
use rsupport_relay::{create_account, AccountSpec, Relay, RelayBuilder, RelayConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    let max = lim.maximum.unwrap_or(1 << 20);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(max),
            maximum: lim.maximum,
        },
    );
    getrlimit(Resource::Nofile).current.unwrap_or(0)
}

fn bench_config() -> RelayConfig {
    let mut c = RelayConfig::default();
    c.argon2 = Argon2Params::insecure_fast();
    c.idle_timeout_ms = 600_000;
    c.handshake_timeout_ms = 60_000;
    c.max_connections = 100_000;
    // Every client of this bench comes from 127.0.0.1, and the idle ones
    // never log in: the per-source cap and the login deadline (issue 12's
    // guards) would measure themselves instead of forwarding and memory.
    c.max_connections_per_source = c.max_connections;
    c.auth_timeout_ms = 600_000;
    c.settings.max_concurrent_sessions = 100_000;
    c
}

fn bench_store() -> SqliteStore {
    let mut store = SqliteStore::in_memory().expect("store");
    let mut rng = StdRng::seed_from_u64(1);
    let operator = AccountSpec {
        username: "op",
        display_name: "Op",
        password: "Operator1",
        role: Role::Operator,
    };
    create_account(
        &mut store,
        operator,
        Argon2Params::insecure_fast(),
        &mut rng,
        0,
    )
    .expect("account");
    store
}

/// A relay for the bench: TLS with a fresh certificate, or plain TCP.
fn bench_relay(plain: bool) -> RelayBuilder {
    let builder = Relay::builder()
        .config(bench_config())
        .store(bench_store())
        .rng(StdRng::seed_from_u64(2));
    if plain {
        builder.dangerous_plain_tcp()
    } else {
        builder
    }
}

/// Pairs an operator and a customer; returns both raw streams and the session id.
async fn pair<S, F, Fut>(dial: F) -> (S, S, u64)
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    let mut op = RelayConnection::new(dial().await);
    op.hello(Role::Operator, "bench").await.expect("hello");
    op.send(&RelayMessage::Login(Login {
        username: "op".into(),
        password: "Operator1".into(),
        totp: Secret::default(),
    }))
    .await
    .expect("login");
    let _ = op.recv_relay().await.expect("login result");
    op.send(&RelayMessage::IssueCode { ttl_secs: 0 })
        .await
        .expect("issue");
    let RelayMessage::CodeIssued(c) = op.recv_relay().await.expect("code") else {
        panic!("no code")
    };
    let mut cu = RelayConnection::new(dial().await);
    cu.hello(Role::Customer, "bench").await.expect("hello");
    cu.send(&RelayMessage::JoinByCode {
        code: c.code,
        customer: CustomerInfo::default(),
    })
    .await
    .expect("join");
    let RelayMessage::Paired(p) = cu.recv_relay().await.expect("paired") else {
        panic!("not paired")
    };
    let _ = op.recv_relay().await.expect("paired");
    (op.into_inner(), cu.into_inner(), p.session_id)
}

fn frame(session_id: u64, payload: usize) -> Bytes {
    let env = Envelope {
        session_id,
        priority: Priority::Screen,
        protection: PayloadProtection::Sealed,
        seq: 1,
        payload: Bytes::from(vec![0xA5; payload]),
    };
    let mut buf = BytesMut::new();
    encode_frame(
        FrameKind::Session,
        &env.encode(),
        &FrameLimits::default(),
        &mut buf,
    )
    .expect("frame");
    buf.freeze()
}

/// MB/s for `total` bytes of `frame`s from `tx` to `rx`.
async fn throughput<A, B>(mut tx: A, mut rx: B, frame: Bytes, total: usize) -> f64
where
    A: AsyncWrite + Unpin + Send + 'static,
    B: AsyncRead + Unpin,
{
    let count = total / frame.len();
    let expected = count * frame.len();
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        for _ in 0..count {
            tx.write_all(&frame).await.expect("write");
        }
        tx.flush().await.expect("flush");
        tx
    });
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0;
    while got < expected {
        let n = rx.read(&mut buf).await.expect("read");
        assert!(n > 0, "stream ended early");
        got += n;
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = writer.await;
    expected as f64 / secs / 1e6
}

/// Round trips of one small frame: `a` sends, `b` echoes. Returns (median, p99) in µs.
async fn latency<A, B>(mut a: A, mut b: B, frame: Bytes, rounds: usize) -> (f64, f64)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let len = frame.len();
    let echo = tokio::spawn(async move {
        let mut buf = vec![0u8; len];
        for _ in 0..rounds {
            b.read_exact(&mut buf).await.expect("echo read");
            b.write_all(&buf).await.expect("echo write");
            b.flush().await.expect("echo flush");
        }
        b
    });
    let mut buf = vec![0u8; len];
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        a.write_all(&frame).await.expect("write");
        a.flush().await.expect("flush");
        a.read_exact(&mut buf).await.expect("read");
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let _ = echo.await;
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    (at(0.5), at(0.99))
}

/// A direct TCP pair (no forwarder).
async fn direct_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = TcpStream::connect(l.local_addr().expect("addr"))
        .await
        .expect("connect");
    let (b, _) = l.accept().await.expect("accept");
    a.set_nodelay(true).ok();
    b.set_nodelay(true).ok();
    (a, b)
}

/// A TCP pair through `socat` (one forwarded connection).
async fn socat_pair() -> Option<(TcpStream, TcpStream, tokio::process::Child)> {
    let sink = TcpListener::bind("127.0.0.1:0").await.ok()?;
    let sink_port = sink.local_addr().ok()?.port();
    let front = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
    let front_port = front.local_addr().ok()?.port();
    drop(front);
    let child = tokio::process::Command::new("socat")
        .arg(format!(
            "TCP-LISTEN:{front_port},bind=127.0.0.1,reuseaddr,nodelay"
        ))
        .arg(format!("TCP:127.0.0.1:{sink_port},nodelay"))
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let mut a = None;
    for _ in 0..100 {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", front_port)).await {
            a = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let a = a?;
    let (b, _) = sink.accept().await.ok()?;
    a.set_nodelay(true).ok();
    b.set_nodelay(true).ok();
    Some((a, b, child))
}

async fn forwarding() {
    let mb = env_usize("RELAY_BENCH_MB", 256);
    let rounds = env_usize("RELAY_BENCH_RTTS", 5000);
    let total = mb * 1024 * 1024;
    println!("## forwarding: {mb} MiB of 64 KiB session frames one way; {rounds} round trips of a 64-byte-payload frame");

    let plain_relay = bench_relay(true).start("127.0.0.1:0").await.expect("relay");
    let tls_relay = bench_relay(false)
        .start("127.0.0.1:0")
        .await
        .expect("relay");
    let plain = plain_relay.local_addr();
    let tls_addr = tls_relay.local_addr();
    let fp = tls_relay
        .fingerprint()
        .expect("a TLS relay has a fingerprint");
    let client_tls = client_config(Trust::Fingerprint(fp), None).expect("client tls");
    let dial_plain = || async move {
        let s = TcpStream::connect(plain).await.expect("connect");
        s.set_nodelay(true).ok();
        s
    };
    let dial_tls = || {
        let cfg = client_tls.clone();
        async move {
            let s = TcpStream::connect(tls_addr).await.expect("connect");
            s.set_nodelay(true).ok();
            let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
            tokio_rustls::TlsConnector::from(cfg)
                .connect(name, s)
                .await
                .expect("tls")
        }
    };

    let mut rows: Vec<(String, f64, f64, f64)> = Vec::new();
    let big = |sid| frame(sid, 64 * 1024);
    let small = |sid| frame(sid, 64);

    let (a, b) = direct_pair().await;
    let t = throughput(a, b, big(1), total).await;
    let (a, b) = direct_pair().await;
    let (m, p) = latency(a, b, small(1), rounds).await;
    rows.push(("direct TCP (no forwarder)".into(), t, m, p));

    match socat_pair().await {
        Some((a, b, _child)) => {
            let t = throughput(a, b, big(1), total).await;
            let (a, b, _child2) = socat_pair().await.expect("socat");
            let (m, p) = latency(a, b, small(1), rounds).await;
            rows.push(("socat plain TCP forward".into(), t, m, p));
        }
        None => println!("(socat not found: baseline skipped)"),
    }

    let (op, cu, sid) = pair(dial_plain).await;
    let t = throughput(cu, op, big(sid), total).await;
    let (op, cu, sid) = pair(dial_plain).await;
    let (m, p) = latency(cu, op, small(sid), rounds).await;
    rows.push(("rsupport relay, plain TCP".into(), t, m, p));

    let (op, cu, sid) = pair(dial_tls).await;
    let t = throughput(cu, op, big(sid), total).await;
    let (op, cu, sid) = pair(dial_tls).await;
    let (m, p) = latency(cu, op, small(sid), rounds).await;
    rows.push(("rsupport relay, TLS 1.3".into(), t, m, p));

    let base = rows.iter().find(|r| r.0.starts_with("socat")).cloned();
    println!(
        "{:<28} {:>12} {:>12} {:>12} {:>14} {:>14}",
        "path", "MB/s", "RTT p50 µs", "RTT p99 µs", "MB/s vs socat", "p50 vs socat"
    );
    for (name, t, m, p) in &rows {
        let (rt, rl) = base
            .as_ref()
            .map_or((f64::NAN, f64::NAN), |b| (t / b.1, m / b.2));
        println!("{name:<28} {t:>12.0} {m:>12.1} {p:>12.1} {rt:>14.2} {rl:>14.2}");
    }
}

/// Child mode: run a TLS relay, print `port fingerprint-hex`, serve until killed.
async fn child_relay() {
    raise_fd_limit();
    let relay = bench_relay(false)
        .start("127.0.0.1:0")
        .await
        .expect("relay");
    child_relay::announce_and_serve(relay).await
}

async fn idle_memory() {
    let limit = raise_fd_limit();
    let wanted = env_usize("RELAY_BENCH_CONNS", 10_000);
    let n = wanted.min(limit.saturating_sub(200) as usize);
    println!(
        "\n## memory per idle TLS connection ({n} connections{}), relay in a child process",
        if n < wanted {
            ", capped by the fd limit"
        } else {
            ""
        }
    );
    let exe = std::env::current_exe().expect("exe");
    let mut command = tokio::process::Command::new(exe);
    command.env("RELAY_BENCH_CHILD", "1");
    let child = child_relay::spawn(command).await;
    let (pid, port, tls) = (child.pid, child.port, child.tls.clone());

    // Warm up (first connections allocate runtime structures), then measure.
    let mut conns = Vec::with_capacity(n + 16);
    for _ in 0..16 {
        conns.push(dial_idle(port, tls.clone()).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rsupport_testkit::rss_kib(pid);
    let start = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (sem, tls) = (sem.clone(), tls.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.expect("permit");
            dial_idle(port, tls).await
        }));
    }
    for t in tasks {
        conns.push(t.await.expect("dial"));
    }
    let took = start.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rsupport_testkit::rss_kib(pid);
    let per = (after.saturating_sub(before)) as f64 * 1024.0 / n as f64;
    println!(
        "connections opened (TLS handshake + Hello) in {:.1} s",
        took.as_secs_f64()
    );
    println!(
        "relay RSS before {before} KiB, after {after} KiB -> {per:.0} bytes per idle connection"
    );
    drop(conns);
    let mut process = child.process;
    let _ = process.kill().await;
}

async fn dial_idle(
    port: u16,
    tls: Arc<rustls::ClientConfig>,
) -> RelayConnection<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut c = rsupport_net::connect(("127.0.0.1", port), "localhost", tls)
        .await
        .expect("connect");
    c.hello(Role::Customer, "idle").await.expect("hello");
    c
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var_os("RELAY_BENCH_CHILD").is_some() {
        rt.block_on(child_relay());
        return;
    }
    rt.block_on(async {
        forwarding().await;
        idle_memory().await;
    });
}
