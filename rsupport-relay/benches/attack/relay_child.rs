//! The relay child process the attacks run against, and the probes that
//! watch it: its RSS, and a console pinging it.

use super::*;

// ---------------------------------------------------------------- the relay

/// Child mode: a relay with the default configuration (cap from
/// `ATTACK_MAX_CONNECTIONS`), real argon2 costs, an admin and an operator.
pub(crate) async fn child_relay() {
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
    child_relay::announce_and_serve(relay).await
}

/// The relay child, and how to reach it.
pub(crate) struct Target {
    child: std::sync::Mutex<Option<tokio::process::Child>>,
    pid: u32,
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
}

impl Target {
    pub(crate) async fn start(max_connections: Option<usize>) -> Target {
        let exe = std::env::current_exe().expect("exe");
        let mut command = tokio::process::Command::new(exe);
        command.env("ATTACK_CHILD", "1").env("RUST_LOG", "off");
        if let Some(cap) = max_connections {
            command.env("ATTACK_MAX_CONNECTIONS", cap.to_string());
        }
        let child = child_relay::spawn(command).await;
        Target {
            child: std::sync::Mutex::new(Some(child.process)),
            pid: child.pid,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, child.port)),
            tls: child.tls,
        }
    }

    pub(crate) fn rss_mib(&self) -> f64 {
        rsupport_testkit::rss_kib(self.pid) as f64 / 1024.0
    }

    /// A TLS connection from `source` (an address in 127.0.0.0/8).
    pub(crate) async fn dial(&self, source: Ipv4Addr) -> std::io::Result<Conn> {
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
    pub(crate) async fn hello(&self, source: Ipv4Addr, role: Role) -> Option<Conn> {
        let mut conn = tokio::time::timeout(REPLY_TIMEOUT, self.dial(source))
            .await
            .ok()?
            .ok()?;
        let hello = tokio::time::timeout(REPLY_TIMEOUT, conn.hello(role, "attack-bench"));
        matches!(hello.await, Ok(Ok(_))).then_some(conn)
    }

    pub(crate) async fn stop(&self) {
        let child = self.child.lock().expect("child").take();
        if let Some(mut child) = child {
            let _ = child.kill().await;
        }
    }
}

/// Samples the child's RSS every 50 ms until dropped; keeps the peak.
pub(crate) struct RssProbe {
    peak_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl RssProbe {
    pub(crate) fn start(target: &Target) -> RssProbe {
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

    pub(crate) fn peak_mib(&self) -> f64 {
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
pub(crate) struct PingProbe {
    samples: Arc<std::sync::Mutex<Vec<(Instant, f64)>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl PingProbe {
    /// Pings from a logged-in operator console at `source`: a connection
    /// that only said Hello would be closed at the relay's login deadline.
    pub(crate) async fn start(target: &Target, source: Ipv4Addr) -> PingProbe {
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
                let answered = await_reply(&mut conn, |m| match m {
                    RelayMessage::Pong { nonce: n } if n == nonce => Some(Some(())),
                    _ => None,
                })
                .await;
                let ms = started.elapsed().as_secs_f64() * 1e3;
                out.lock().expect("samples").push((started, ms));
                if answered.is_none() {
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
    pub(crate) async fn finish(self, flood: (Instant, Instant)) -> (f64, f64, usize, f64) {
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
