//! The attacks of issue 12 against a real relay, with what legitimate users
//! saw meanwhile. Prints numbers and a verdict per target; asserts nothing.
//!
//! The relay runs in a child process (this program re-executed) with the
//! default configuration and real argon2 costs, listening on 127.0.0.1.
//! Attackers dial from other addresses in 127.0.0.0/8 (Linux routes the whole
//! /8 to loopback), so every attacker address is a distinct source to the
//! relay. Every loop is bounded; nothing leaves the machine.
//!
//! | scenario | flood | legitimate traffic measured |
//! |---|---|---|
//! | codes (H1) | 275 wrong codes from 25 addresses, then 2 each from 6,000 more (past the relay's pressure threshold) | customers joining with correct codes from clean addresses; a suspended session resuming |
//! | logins (H2, M1) | 3 wrong passwords for `root`, then 993 failed logins from 34 addresses; 50 `ChangePassword` | `root` and an operator logging in from their usual address, and the operator from a new one |
//! | slots (H3) | one address opens 200 TLS connections, says Hello, pings every 10 s (relay cap lowered to 200) | customers joining and an operator logging in from other addresses |
//! | frames (M8) | 16 MiB session frames on 50 connections before Hello, and 50 after Hello without a session | customers joining |
//!
//! In every scenario a separate connection pings the relay every 20 ms
//! (control-plane latency) and the child's RSS is sampled every 50 ms.
//!
//! Run: `cargo bench -p rsupport-relay --bench attack`
//! (one scenario: `ATTACK_ONLY=codes|logins|slots|frames`).
//! Targets (issue 12): 100% legitimate success; Ping p99 ≤ 50 ms during the
//! login flood; relay RSS ≤ 256 MiB above idle under every flood.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rsupport_net::tls::{client_config, Trust};
use rsupport_net::{Incoming, RelayConnection};
use rsupport_proto::framing::{Frame, FrameKind};
use rsupport_proto::relay::{CustomerInfo, Login, LoginStatus, RelayMessage, Secret};
use rsupport_proto::Role;
use rsupport_relay::store::SqliteStore;
use rsupport_relay::{create_account, AccountSpec, Relay, RelayConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::client::TlsStream;

type Conn = RelayConnection<TlsStream<TcpStream>>;

const ROOT: &str = "root";
const OPERATOR: &str = "aiko";
const PASSWORD: &str = "k3ep-Th1s-Relay-Saf3!";
/// How long one legitimate attempt may take, honouring any retry-after.
const LEGIT_PATIENCE: Duration = Duration::from_secs(30);
/// Replies slower than this count as a stalled control plane.
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var_os("ATTACK_CHILD").is_some() {
        rt.block_on(child_relay());
        return;
    }
    let only = std::env::var("ATTACK_ONLY").unwrap_or_default();
    let want = |name: &str| only.is_empty() || only == name;
    rt.block_on(async {
        println!("# attacks against a relay in a child process (127.0.0.0/8 only)");
        if want("codes") {
            codes().await;
        }
        if want("logins") {
            logins().await;
        }
        if want("slots") {
            slots().await;
        }
        if want("frames") {
            frames().await;
        }
    });
}

// ---------------------------------------------------------------- the relay

/// Child mode: a relay with the default configuration (cap from
/// `ATTACK_MAX_CONNECTIONS`), real argon2 costs, an admin and an operator.
async fn child_relay() {
    let mut config = RelayConfig::default();
    if let Some(cap) = std::env::var("ATTACK_MAX_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.max_connections = cap;
    }
    let mut store = SqliteStore::in_memory().expect("store");
    let mut rng = StdRng::from_os_rng();
    for (username, role) in [(ROOT, Role::Admin), (OPERATOR, Role::Operator)] {
        let spec = AccountSpec {
            username,
            display_name: username,
            password: PASSWORD,
            role,
        };
        create_account(&mut store, spec, config.argon2, &mut rng, 0).expect("account");
    }
    let relay = Relay::builder()
        .config(config)
        .store(store)
        .start("127.0.0.1:0")
        .await
        .expect("relay");
    println!("{} {}", relay.local_addr().port(), relay.fingerprint_hex());
    std::future::pending::<()>().await;
}

/// The relay child, and how to reach it.
struct Target {
    child: std::sync::Mutex<Option<tokio::process::Child>>,
    pid: u32,
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
}

impl Target {
    async fn start(max_connections: Option<usize>) -> Target {
        let exe = std::env::current_exe().expect("exe");
        let mut command = tokio::process::Command::new(exe);
        command
            .env("ATTACK_CHILD", "1")
            .env("RUST_LOG", "off")
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if let Some(cap) = max_connections {
            command.env("ATTACK_MAX_CONNECTIONS", cap.to_string());
        }
        let mut child = command.spawn().expect("spawn the relay child");
        let pid = child.id().expect("pid");
        let mut line = String::new();
        tokio::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .await
            .expect("child line");
        let mut parts = line.split_whitespace();
        let port: u16 = parts.next().and_then(|p| p.parse().ok()).expect("port");
        let fp = rsupport_net::tls::parse_fingerprint(parts.next().expect("fp")).expect("fp");
        let tls = client_config(Trust::Fingerprint(fp), None).expect("client tls");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        Target {
            child: std::sync::Mutex::new(Some(child)),
            pid,
            addr,
            tls,
        }
    }

    fn rss_mib(&self) -> f64 {
        rsupport_testkit::rss_kib(self.pid) as f64 / 1024.0
    }

    /// A TLS connection from `source` (an address in 127.0.0.0/8).
    async fn dial(&self, source: Ipv4Addr) -> std::io::Result<Conn> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((source, 0)))?;
        let tcp = socket.connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await?;
        Ok(RelayConnection::new(tls))
    }

    /// Dial and say Hello; `None` when the relay refused or hung up.
    async fn hello(&self, source: Ipv4Addr, role: Role) -> Option<Conn> {
        let mut conn = tokio::time::timeout(REPLY_TIMEOUT, self.dial(source))
            .await
            .ok()?
            .ok()?;
        let hello = tokio::time::timeout(REPLY_TIMEOUT, conn.hello(role, "attack-bench"));
        matches!(hello.await, Ok(Ok(_))).then_some(conn)
    }

    async fn stop(&self) {
        let child = self.child.lock().expect("child").take();
        if let Some(mut child) = child {
            let _ = child.kill().await;
        }
    }
}

/// Samples the child's RSS every 50 ms until dropped; keeps the peak.
struct RssProbe {
    peak_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl RssProbe {
    fn start(target: &Target) -> RssProbe {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (peak, halt, pid) = (peak_kib.clone(), stop.clone(), target.pid);
        tokio::spawn(async move {
            while !halt.load(Ordering::Relaxed) {
                let kib = rsupport_testkit::rss_kib(pid);
                peak.fetch_max(kib, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        RssProbe { peak_kib, stop }
    }

    fn peak_mib(&self) -> f64 {
        self.peak_kib.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

impl Drop for RssProbe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Pings the relay every 20 ms from its own connection and keeps the
/// round-trip times; a ping unanswered for 20 s counts as 20 s.
struct PingProbe {
    samples: Arc<std::sync::Mutex<Vec<(Instant, f64)>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl PingProbe {
    /// Pings from a logged-in operator console at `source`: a connection
    /// that only said Hello would be closed at the relay's login deadline.
    async fn start(target: &Target, source: Ipv4Addr) -> PingProbe {
        let mut conn = login(target, source, OPERATOR)
            .await
            .expect("the ping connection logs in before any attack");
        let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (out, halt) = (samples.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut nonce = 0;
            while !halt.load(Ordering::Relaxed) {
                nonce += 1;
                let started = Instant::now();
                if conn.send(&RelayMessage::Ping { nonce }).await.is_err() {
                    return;
                }
                let answered = tokio::time::timeout(REPLY_TIMEOUT, async {
                    loop {
                        match conn.recv_relay().await {
                            Ok(RelayMessage::Pong { nonce: n }) if n == nonce => return true,
                            Ok(_) => continue,
                            Err(_) => return false,
                        }
                    }
                })
                .await;
                let ms = started.elapsed().as_secs_f64() * 1e3;
                out.lock().expect("samples").push((started, ms));
                if !matches!(answered, Ok(true)) {
                    println!(
                        "  (the ping connection was closed or stalled: later pings are missing)"
                    );
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        PingProbe {
            samples,
            stop,
            task,
        }
    }

    /// (p50 ms, p99 ms, count, flood seconds) of the pings sent while the flood ran.
    async fn finish(self, flood: (Instant, Instant)) -> (f64, f64, usize, f64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let mut v: Vec<f64> = self
            .samples
            .lock()
            .expect("samples")
            .iter()
            .filter(|(at, _)| *at >= flood.0 && *at <= flood.1)
            .map(|(_, ms)| *ms)
            .collect();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            v.get(((v.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        let seconds = flood.1.saturating_duration_since(flood.0).as_secs_f64();
        (at(0.5), at(0.99), v.len(), seconds)
    }
}

// ------------------------------------------------------- legitimate parties

/// An address in 127.0.0.0/8 for (group, index): attackers and legitimate
/// users never share one.
fn addr(group: u8, index: u32) -> Ipv4Addr {
    let [_, _, hi, lo] = index.to_be_bytes();
    Ipv4Addr::new(127, group, hi, lo.max(1))
}

/// Logs in, retrying while the relay asks to wait (slow-down), within
/// `LEGIT_PATIENCE`. The connection on success.
async fn login(target: &Target, source: Ipv4Addr, username: &str) -> Option<Conn> {
    let deadline = Instant::now() + LEGIT_PATIENCE;
    while Instant::now() < deadline {
        let mut conn = target.hello(source, Role::Operator).await?;
        let status = send_login(&mut conn, username, PASSWORD).await?;
        match status {
            LoginStatus::Ok => return Some(conn),
            LoginStatus::BadCredentials | LoginStatus::Disabled => return None,
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    None
}

async fn send_login(conn: &mut Conn, username: &str, password: &str) -> Option<LoginStatus> {
    conn.send(&RelayMessage::Login(Login {
        username: username.into(),
        password: Secret::new(password.into()),
        totp: Secret::default(),
    }))
    .await
    .ok()?;
    let reply = tokio::time::timeout(REPLY_TIMEOUT, async {
        loop {
            match conn.recv_relay().await {
                Ok(RelayMessage::LoginResult(r)) => return Some(r.status),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    });
    reply.await.ok().flatten()
}

async fn issue_code(operator: &mut Conn) -> Option<String> {
    operator
        .send(&RelayMessage::IssueCode { ttl_secs: 0 })
        .await
        .ok()?;
    tokio::time::timeout(REPLY_TIMEOUT, async {
        loop {
            match operator.recv_relay().await {
                Ok(RelayMessage::CodeIssued(c)) => return Some(c.code.into_inner()),
                Ok(RelayMessage::RequestResult(r)) if r.error.is_some() => return None,
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// What a customer's join ended with.
enum Joined {
    Paired {
        conn: Box<Conn>,
        session_id: u64,
        token: Bytes,
    },
    Refused,
}

async fn join(conn: &mut Conn, code: &str) -> Option<(u64, Bytes)> {
    conn.send(&RelayMessage::JoinByCode {
        code: Secret::new(code.into()),
        customer: CustomerInfo::default(),
    })
    .await
    .ok()?;
    tokio::time::timeout(REPLY_TIMEOUT, async {
        loop {
            match conn.recv().await {
                Ok(Incoming::Relay(RelayMessage::Paired(p))) => {
                    return Some((p.session_id, p.resume_token.into_inner()))
                }
                Ok(Incoming::Relay(RelayMessage::JoinRefused { .. })) => return None,
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// A customer with a correct, fresh code from a clean address.
async fn legit_customer(target: &Target, operator: &mut Conn, source: Ipv4Addr) -> Joined {
    let Some(code) = issue_code(operator).await else {
        return Joined::Refused;
    };
    let Some(mut conn) = target.hello(source, Role::Customer).await else {
        return Joined::Refused;
    };
    match join(&mut conn, &code).await {
        Some((session_id, token)) => Joined::Paired {
            conn: Box::new(conn),
            session_id,
            token,
        },
        None => Joined::Refused,
    }
}

/// Tallies legitimate attempts.
#[derive(Default)]
struct Tally {
    ok: usize,
    total: usize,
    slowest: Duration,
    last: Option<Instant>,
}

impl Tally {
    /// Marks the start of the next legitimate attempt.
    fn start(&mut self) {
        self.last = Some(Instant::now());
    }

    fn add(&mut self, ok: bool) {
        self.total += 1;
        self.ok += usize::from(ok);
        if let Some(started) = self.last.take() {
            self.slowest = self.slowest.max(started.elapsed());
        }
    }
}

fn report(name: &str, legit: &Tally, ping: (f64, f64, usize, f64), idle: f64, peak: f64) {
    let grown = peak - idle;
    println!("\n## {name}");
    println!(
        "legitimate success: {}/{} ({:.0}%)  [target 100%: {}]",
        legit.ok,
        legit.total,
        100.0 * legit.ok as f64 / legit.total.max(1) as f64,
        verdict(legit.ok == legit.total)
    );
    println!(
        "slowest legitimate attempt (retries after slow-downs included): {:.2} s",
        legit.slowest.as_secs_f64()
    );
    println!(
        "control-plane Ping during the flood ({:.1} s): p50 {:.1} ms, p99 {:.1} ms over {} pings",
        ping.3, ping.0, ping.1, ping.2
    );
    println!(
        "relay RSS: idle {idle:.0} MiB, peak {peak:.0} MiB, +{grown:.0} MiB  [target ≤ +256 MiB: {}]",
        verdict(grown <= 256.0)
    );
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT MET"
    }
}

/// Digits of `len` that are (almost surely) no live code.
fn wrong_code(rng: &mut StdRng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// One attacker address sending `count` wrong codes, one after another.
async fn guess_codes(target: Arc<Target>, source: Ipv4Addr, count: usize, len: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let Some(mut conn) = target.hello(source, Role::Customer).await else {
        return;
    };
    for _ in 0..count {
        if join(&mut conn, &wrong_code(&mut rng, len)).await.is_some() {
            println!("  (an attacker guessed a live code from {source})");
        }
    }
}

/// Waits for every attacker task; resolves to the moment the last ended.
fn flood_end(tasks: Vec<tokio::task::JoinHandle<()>>) -> tokio::task::JoinHandle<Instant> {
    tokio::spawn(async move {
        for task in tasks {
            let _ = task.await;
        }
        Instant::now()
    })
}

// ---------------------------------------------------------------- scenarios

/// H1: wrong codes from many addresses; correct codes and a resume meanwhile.
async fn codes() {
    let target = Arc::new(Target::start(None).await);
    let mut operator = login(&target, addr(1, 1), OPERATOR)
        .await
        .expect("operator logs in before the attack");
    let code_len = issue_code(&mut operator)
        .await
        .expect("a code before the attack")
        .len();
    // A session whose customer will drop and resume during the flood.
    let Joined::Paired {
        conn,
        session_id,
        token,
    } = legit_customer(&target, &mut operator, addr(200, 1)).await
    else {
        panic!("pairing before the attack failed")
    };
    let idle = target.rss_mib();
    let rss = RssProbe::start(&target);
    let ping = PingProbe::start(&target, addr(250, 1)).await;
    drop(conn); // the customer's connection drops: the session is suspended

    let mut legit = Tally::default();
    let flood_start = Instant::now();
    // Wave 1: 25 addresses × 11 wrong codes (the review's H1).
    let mut wave = Vec::new();
    for i in 0..25 {
        let t = target.clone();
        wave.push(tokio::spawn(guess_codes(
            t,
            addr(10, i + 1),
            11,
            code_len,
            i.into(),
        )));
    }
    for w in wave {
        let _ = w.await;
    }
    // Wave 2: 6,000 more addresses × 2 wrong codes, 64 at a time, while
    // customers with correct codes join and the suspended session resumes.
    // More than 5,000 wrong codes are looked at, so the relay goes into its
    // pressure mode (only clean sources are served) during this wave.
    let gate = Arc::new(Semaphore::new(64));
    let mut wave = Vec::new();
    for i in 0..6_000u32 {
        let (t, gate) = (target.clone(), gate.clone());
        wave.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("gate");
            guess_codes(t, addr(11, i + 1), 2, code_len, 1_000 + u64::from(i)).await;
        }));
    }
    legit.start();
    let resumed = async {
        let mut conn = target.hello(addr(200, 1), Role::Customer).await?;
        conn.send(&RelayMessage::Resume {
            session_id,
            resume_token: Secret::new(token),
        })
        .await
        .ok()?;
        tokio::time::timeout(REPLY_TIMEOUT, async {
            loop {
                match conn.recv_relay().await {
                    Ok(RelayMessage::Paired(_)) => return Some(()),
                    Ok(RelayMessage::RequestResult(r)) if r.error.is_some() => return None,
                    Ok(_) => continue,
                    Err(_) => return None,
                }
            }
        })
        .await
        .ok()
        .flatten()
    };
    let wave = flood_end(wave);
    legit.add(resumed.await.is_some());
    for k in 0..10 {
        legit.start();
        let joined = legit_customer(&target, &mut operator, addr(201, k + 1)).await;
        legit.add(matches!(joined, Joined::Paired { .. }));
    }
    let flood = (flood_start, wave.await.expect("wave"));
    for k in 10..15 {
        legit.start();
        let joined = legit_customer(&target, &mut operator, addr(201, k + 1)).await;
        legit.add(matches!(joined, Joined::Paired { .. }));
    }
    let pings = ping.finish(flood).await;
    report(
        "codes (H1): 275 wrong codes from 25 addresses, then 12,000 from 6,000 more; 15 joins + 1 resume",
        &legit,
        pings,
        idle,
        rss.peak_mib(),
    );
    target.stop().await;
}

/// H2 and M1: lock-out attempts and a login flood; 50 ChangePassword.
async fn logins() {
    let target = Arc::new(Target::start(None).await);
    // The usual addresses of root and the operator (they logged in before).
    for (source, user) in [(addr(1, 1), ROOT), (addr(1, 2), OPERATOR)] {
        let conn = login(&target, source, user).await;
        assert!(conn.is_some(), "{user} logs in before the attack");
    }
    let idle = target.rss_mib();
    let rss = RssProbe::start(&target);
    let ping = PingProbe::start(&target, addr(250, 2)).await;
    let mut legit = Tally::default();
    let flood_start = Instant::now();

    // Three wrong passwords for root from one address.
    if let Some(mut conn) = target.hello(addr(66, 1), Role::Operator).await {
        for _ in 0..3 {
            let _ = send_login(&mut conn, ROOT, "wrong-password-1").await;
        }
    }
    // 993 failed logins from 34 addresses (root, the operator, unknown names).
    let mut flood = Vec::new();
    for i in 0..34u32 {
        let t = target.clone();
        flood.push(tokio::spawn(async move {
            let Some(mut conn) = t.hello(addr(67, i + 1), Role::Operator).await else {
                return;
            };
            let per = if i < 7 { 30 } else { 29 }; // 7×30 + 27×29 = 993
            for k in 0..per {
                let user = match k % 3 {
                    0 => ROOT.to_owned(),
                    1 => OPERATOR.to_owned(),
                    _ => format!("user{i}x{k}"),
                };
                if send_login(&mut conn, &user, "Guess-Password-9")
                    .await
                    .is_none()
                {
                    // Hung up on us: dial again from the same address.
                    match t.hello(addr(67, i + 1), Role::Operator).await {
                        Some(c) => conn = c,
                        None => return,
                    }
                }
            }
        }));
    }
    let flood = flood_end(flood);
    // Meanwhile: root and the operator from their usual addresses, and the
    // operator from an address it never used.
    tokio::time::sleep(Duration::from_millis(500)).await;
    legit.start();
    legit.add(login(&target, addr(1, 1), ROOT).await.is_some());
    legit.start();
    legit.add(login(&target, addr(1, 2), OPERATOR).await.is_some());
    legit.start();
    legit.add(login(&target, addr(202, 1), OPERATOR).await.is_some());
    let flood = (flood_start, flood.await.expect("flood"));
    legit.start();
    legit.add(login(&target, addr(1, 1), ROOT).await.is_some());
    legit.start();
    legit.add(login(&target, addr(202, 2), ROOT).await.is_some());

    // M1: 50 ChangePassword with the right old password and a weak new one.
    if let Some(mut conn) = login(&target, addr(1, 2), OPERATOR).await {
        for _ in 0..50 {
            let sent = conn
                .send(&RelayMessage::ChangePassword {
                    old_password: Secret::new(PASSWORD.into()),
                    new_password: Secret::new("weak".into()),
                })
                .await;
            if sent.is_err() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    legit.start();
    legit.add(login(&target, addr(1, 2), OPERATOR).await.is_some());
    let pings = ping.finish(flood).await;
    report(
        "logins (H2, M1): 3 wrong for root, 993 failed from 34 addresses, 50 ChangePassword; 6 legitimate logins",
        &legit,
        pings,
        idle,
        rss.peak_mib(),
    );
    println!(
        "  [target Ping p99 ≤ 50 ms during the login flood: {}]",
        verdict(pings.1 <= 50.0)
    );
    target.stop().await;
}

/// H3: one address holds every connection slot.
async fn slots() {
    const CAP: usize = 200;
    let target = Arc::new(Target::start(Some(CAP)).await);
    let mut operator = login(&target, addr(1, 1), OPERATOR)
        .await
        .expect("operator logs in before the attack");
    let idle = target.rss_mib();
    let rss = RssProbe::start(&target);
    let ping = PingProbe::start(&target, addr(250, 3)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let held = Arc::new(AtomicU64::new(0));
    let flood_start = Instant::now();
    // 200 attackers from one address; each redials when dropped.
    let mut holders = Vec::new();
    for _ in 0..CAP {
        let (t, stop, held) = (target.clone(), stop.clone(), held.clone());
        holders.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Some(mut conn) = t.hello(addr(77, 1), Role::Customer).await else {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                };
                held.fetch_add(1, Ordering::Relaxed);
                let mut nonce = 0;
                while !stop.load(Ordering::Relaxed) {
                    nonce += 1;
                    if conn.send(&RelayMessage::Ping { nonce }).await.is_err() {
                        break;
                    }
                    let slept = tokio::time::timeout(Duration::from_secs(10), async {
                        while conn.recv().await.is_ok() {}
                    })
                    .await;
                    if slept.is_ok() {
                        break; // the relay hung up
                    }
                }
                held.fetch_sub(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut legit = Tally::default();
    // 40 s of attack: a customer joins every 2 s, an operator logs in every 10 s.
    let until = Instant::now() + Duration::from_secs(40);
    let mut k = 0;
    while Instant::now() < until {
        k += 1;
        legit.start();
        let joined = legit_customer(&target, &mut operator, addr(203, k)).await;
        legit.add(matches!(joined, Joined::Paired { .. }));
        if k % 5 == 0 {
            legit.start();
            legit.add(login(&target, addr(1, 2), OPERATOR).await.is_some());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let attacker_held = held.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for h in holders {
        h.abort();
    }
    let pings = ping.finish((flood_start, Instant::now())).await;
    report(
        "slots (H3): one address holds Hello'd connections (relay cap 200)",
        &legit,
        pings,
        idle,
        rss.peak_mib(),
    );
    println!("  attacker connections still open at the end: {attacker_held}");
    target.stop().await;
}

/// M8: 16 MiB session frames before Hello and without a session.
async fn frames() {
    const BODY: usize = 16 * 1024 * 1024;
    let target = Arc::new(Target::start(None).await);
    let mut operator = login(&target, addr(1, 1), OPERATOR)
        .await
        .expect("operator logs in before the attack");
    let idle = target.rss_mib();
    let rss = RssProbe::start(&target);
    let ping = PingProbe::start(&target, addr(250, 4)).await;
    let chunk = vec![0x5au8; 64 * 1024];
    let flood_start = Instant::now();
    let mut senders = Vec::new();
    for i in 0..100u32 {
        let (t, chunk) = (target.clone(), chunk.clone());
        senders.push(tokio::spawn(async move {
            let source = addr(88, i + 1);
            let header = Frame::new(FrameKind::Session, Bytes::from(vec![0u8; BODY])).header();
            let stream = if i < 50 {
                // Before Hello: raw TLS, then the frame.
                let Ok(conn) = t.dial(source).await else {
                    return;
                };
                conn.into_inner()
            } else {
                let Some(conn) = t.hello(source, Role::Customer).await else {
                    return;
                };
                conn.into_inner()
            };
            let mut stream = stream;
            if stream.write_all(&header).await.is_err() {
                return;
            }
            for _ in 0..BODY / chunk.len() {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            let _ = stream.flush().await;
            // Hold the connection for a while so its buffers stay counted.
            tokio::time::sleep(Duration::from_secs(5)).await;
        }));
    }
    let mut legit = Tally::default();
    for k in 0..10 {
        legit.start();
        let joined = legit_customer(&target, &mut operator, addr(204, k + 1)).await;
        legit.add(matches!(joined, Joined::Paired { .. }));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let flood = (flood_start, flood_end(senders).await.expect("senders"));
    let pings = ping.finish(flood).await;
    report(
        "frames (M8): 16 MiB session frames on 50 connections before Hello and 50 after Hello without a session; 10 joins",
        &legit,
        pings,
        idle,
        rss.peak_mib(),
    );
    target.stop().await;
}
