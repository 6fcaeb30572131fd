//! Shared harness for the end-to-end session tests: a real relay over TLS
//! on loopback with a SQLite store, and helpers to pair an operator with a
//! customer through the vendor API.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_client::{
    Customer, HostPlatform, LobbyEvent, Operator, OperatorOptions, RelayTarget, SessionHandle,
};
use rsupport_core::session::{ControlEvent, SessionEvent};
use rsupport_net::tls::{fingerprint_hex, Identity};
use rsupport_proto::relay::admin::{AuditQuery, AuditRecord};
use rsupport_proto::relay::CustomerInfo;
use rsupport_proto::{ConnectionMode, Role};
use rsupport_relay::auth::Argon2Params;
use rsupport_relay::store::{SqliteStore, Store};
use rsupport_relay::{create_account, AccountSpec, Relay, RelayConfig, RunningRelay, ShutdownMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

/// The operator account every test relay has.
pub const OPERATOR: &str = "aiko";
/// The password of [`OPERATOR`].
pub const PASSWORD: &str = "Operator1";
/// How long a test waits for an event before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// Starts a relay on 127.0.0.1 with one operator account; its SQLite store
/// lives at `database` (or in memory).
pub async fn start_relay(database: Option<&Path>) -> RelayTarget {
    start_relay_with(database, false, |_| {}).await
}

/// [`start_relay`] with the operator's "full file transfer control" grant
/// set as given (offers in control mode are then accepted without asking)
/// and the relay's configuration adjusted by `configure`.
pub async fn start_relay_with(
    database: Option<&Path>,
    full_file_control: bool,
    configure: impl FnOnce(&mut RelayConfig),
) -> RelayTarget {
    let relay = Relay::builder()
        .store(relay_store(database, full_file_control))
        .configure(|config| {
            config.argon2 = Argon2Params::insecure_fast();
            configure(config);
        })
        .rng(StdRng::seed_from_u64(12))
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let target = RelayTarget::pinned(
        relay.local_addr().to_string(),
        "localhost",
        relay.fingerprint_hex(),
    );
    relay.detach(); // serves until the test's runtime ends
    target
}

/// A store with the operator account (added once).
fn relay_store(database: Option<&Path>, full_file_control: bool) -> SqliteStore {
    let mut store = match database {
        Some(path) => SqliteStore::open(path).unwrap(),
        None => SqliteStore::in_memory().unwrap(),
    };
    if store.find_account(OPERATOR).unwrap().is_some() {
        return store;
    }
    let mut rng = StdRng::seed_from_u64(11);
    let mut op = create_account(
        &mut store,
        AccountSpec {
            username: OPERATOR,
            display_name: "Aiko",
            password: PASSWORD,
            role: Role::Operator,
        },
        Argon2Params::insecure_fast(),
        &mut rng,
        0,
    )
    .unwrap();
    if full_file_control {
        op.full_file_control = true;
        store.update_account(OPERATOR, &op).unwrap();
    }
    store
}

/// A real TLS relay over a SQLite file that can be stopped (either way) or
/// crashed, and started again on the same address with the same
/// certificate and database.
pub struct RestartableRelay {
    addr: SocketAddr,
    identity: Identity,
    database: PathBuf,
    running: Option<RunningRelay>,
    runs: u64,
}

impl RestartableRelay {
    /// Starts the first run.
    pub async fn start(database: &Path) -> Self {
        let (identity, _, _) =
            rsupport_relay::identity::self_signed(&["localhost".into()]).unwrap();
        drop(relay_store(Some(database), false));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut relay = RestartableRelay {
            addr: listener.local_addr().unwrap(),
            identity,
            database: database.to_owned(),
            running: None,
            runs: 0,
        };
        relay.run(listener);
        relay
    }

    fn run(&mut self, listener: TcpListener) {
        self.runs += 1;
        let running = Relay::builder()
            .configure(|config| config.argon2 = Argon2Params::insecure_fast())
            .store(SqliteStore::open(&self.database).unwrap())
            .identity(self.identity.clone())
            .rng(StdRng::seed_from_u64(12 + self.runs))
            .start_on(listener)
            .unwrap();
        self.running = Some(running);
    }

    /// The address to reach it at directly.
    pub fn target(&self) -> RelayTarget {
        self.target_via(self.addr)
    }

    /// The relay reached through `addr` (a [`Forwarder`]).
    pub fn target_via(&self, addr: SocketAddr) -> RelayTarget {
        let fingerprint = fingerprint_hex(&self.identity.fingerprint());
        RelayTarget::pinned(addr.to_string(), "localhost", fingerprint)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the way `mode` says and waits for it.
    pub async fn stop(&mut self, mode: ShutdownMode) {
        if let Some(running) = self.running.take() {
            tokio::time::timeout(WAIT, running.stop(mode))
                .await
                .unwrap()
                .unwrap();
        }
    }

    /// Aborts the serving task: connections are cut without a goodbye.
    pub async fn crash(&mut self) {
        if let Some(running) = self.running.take() {
            running.crash().await;
        }
    }

    /// Starts a new run on the same address, certificate and database.
    pub async fn restart(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.run(listener);
    }
}

/// A TCP forwarder between a client and the relay with a kill switch: it
/// counts the bytes it delivers to each client connection and can cut
/// connections (at once, or when a connection has delivered some bytes) or
/// hold the relay-to-client direction to freeze a transfer mid-way.
pub struct Forwarder {
    addr: SocketAddr,
    shared: Arc<ForwarderShared>,
}

struct ForwarderShared {
    /// Bytes delivered towards the client, per accepted connection.
    delivered: Mutex<Vec<u64>>,
    /// Cut the connection that has delivered this many bytes (once).
    cut_at: AtomicU64,
    /// Hold the connection that has delivered this many bytes (once).
    stall_at: AtomicU64,
    stalled: Notify,
    /// Bumped to cut every current connection.
    generation: watch::Sender<u64>,
}

impl Forwarder {
    /// Listens on 127.0.0.1 and forwards each connection to `relay`.
    pub async fn start(relay: SocketAddr) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(ForwarderShared {
            delivered: Mutex::new(Vec::new()),
            cut_at: AtomicU64::new(u64::MAX),
            stall_at: AtomicU64::new(u64::MAX),
            stalled: Notify::new(),
            generation: watch::channel(0).0,
        });
        let s = shared.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let index = {
                    let mut d = s.delivered.lock().unwrap();
                    d.push(0);
                    d.len() - 1
                };
                tokio::spawn(pipe(client, relay, index, s.clone()));
            }
        });
        Forwarder { addr, shared }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Bytes delivered to the client, per connection in accept order.
    pub fn delivered(&self) -> Vec<u64> {
        self.shared.delivered.lock().unwrap().clone()
    }

    /// Cuts the connection that delivers its `bytes`th byte to the client.
    pub fn cut_after(&self, bytes: u64) {
        self.shared.cut_at.store(bytes, Ordering::SeqCst);
    }

    /// Stops forwarding to the client on the connection that reaches
    /// `bytes`; [`Forwarder::stalled`] resolves then.
    pub fn stall_after(&self, bytes: u64) {
        self.shared.stall_at.store(bytes, Ordering::SeqCst);
    }

    /// Resolves once a connection stalled.
    pub async fn stalled(&self) {
        tokio::time::timeout(WAIT, self.shared.stalled.notified())
            .await
            .expect("the transfer reached the stall point");
    }

    /// Cuts every current connection (both sockets closed).
    pub fn cut(&self) {
        self.shared.generation.send_modify(|g| *g += 1);
    }
}

async fn pipe(client: TcpStream, relay: SocketAddr, index: usize, s: Arc<ForwarderShared>) {
    let Ok(upstream) = TcpStream::connect(relay).await else {
        return; // relay down: the client sees its connection close
    };
    let mut cut = s.generation.subscribe();
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut relay_rd, mut relay_wr) = upstream.into_split();
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match client_rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if relay_wr.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0u64;
        loop {
            let n = match relay_rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n as u64,
            };
            let cut_at = s.cut_at.load(Ordering::SeqCst);
            let stall_at = s.stall_at.load(Ordering::SeqCst);
            // Deliver up to the trigger point exactly, then act.
            let limit = cut_at.min(stall_at);
            let send = if total + n >= limit {
                limit.saturating_sub(total)
            } else {
                n
            };
            if client_wr.write_all(&buf[..send as usize]).await.is_err() {
                return;
            }
            total += send;
            s.delivered.lock().unwrap()[index] = total;
            if total >= cut_at
                && s.cut_at
                    .compare_exchange(cut_at, u64::MAX, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                return;
            }
            if total >= stall_at
                && s.stall_at
                    .compare_exchange(stall_at, u64::MAX, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                s.stalled.notify_one();
                std::future::pending::<()>().await;
            }
            if send < n {
                // Cut or stall armed by another connection meanwhile: forward the rest.
                let rest = &buf[send as usize..n as usize];
                if client_wr.write_all(rest).await.is_err() {
                    return;
                }
                total += rest.len() as u64;
                s.delivered.lock().unwrap()[index] = total;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
        _ = cut.changed() => {}
    }
    // Dropping the halves closes both sockets.
}

/// Waits for the first event `pick` accepts, skipping others.
pub async fn wait_for<T>(
    session: &mut SessionHandle,
    mut pick: impl FnMut(&SessionEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let event = session.next_event().await.expect("session still open");
            if let Some(t) = pick(&event) {
                return t;
            }
        }
    })
    .await
    .expect("event in time")
}

/// An operator logged in, a customer joined with the operator's code.
pub async fn paired(
    target: &RelayTarget,
    platform: HostPlatform,
) -> (Operator, SessionHandle, SessionHandle) {
    paired_via(target, target, platform).await
}

/// As [`paired`], the customer reaching the relay through `customer_target`.
pub async fn paired_via(
    target: &RelayTarget,
    customer_target: &RelayTarget,
    platform: HostPlatform,
) -> (Operator, SessionHandle, SessionHandle) {
    pair(
        target,
        customer_target,
        OperatorOptions::default(),
        platform,
    )
    .await
}

/// As [`paired`], with the operator's options (printer, platform) given.
pub async fn paired_with(
    target: &RelayTarget,
    options: OperatorOptions,
    platform: HostPlatform,
) -> (Operator, SessionHandle, SessionHandle) {
    pair(target, target, options, platform).await
}

async fn pair(
    target: &RelayTarget,
    customer_target: &RelayTarget,
    options: OperatorOptions,
    platform: HostPlatform,
) -> (Operator, SessionHandle, SessionHandle) {
    let mut operator = Operator::connect(target, options).await.unwrap();
    operator.login(OPERATOR, PASSWORD, None).await.unwrap();
    let invitation = operator.issue_code().await.unwrap();
    // 7 digits from the relay, and 5 secret ones unless the program is a protocol-1 one.
    assert!(
        matches!(invitation.code().len(), 7 | 12),
        "{}",
        invitation.code().len()
    );
    let customer = Customer::connect(customer_target, platform).await.unwrap();
    let code = invitation.code().to_owned();
    let join = tokio::spawn(async move {
        customer
            .join(
                &code,
                CustomerInfo {
                    name: "Bob".into(),
                    description: "printer broken".into(),
                    ..Default::default()
                },
            )
            .await
    });
    let op_session = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(LobbyEvent::SessionStarted(s)) = operator.next_event().await {
                return s;
            }
        }
    })
    .await
    .unwrap();
    let cu_session = join.await.unwrap().unwrap();
    assert_eq!(op_session.customer().name, "Bob");
    (operator, op_session, cu_session)
}

/// The next session that starts on `operator`'s console (within [`WAIT`]).
pub async fn session_started(operator: &mut Operator) -> SessionHandle {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(LobbyEvent::SessionStarted(s)) = operator.next_event().await {
                return s;
            }
        }
    })
    .await
    .expect("a session starts in time")
}

/// An operator connected to `target` and logged in as [`OPERATOR`].
pub async fn operator_logged_in(target: &RelayTarget) -> Operator {
    let mut operator = Operator::connect(target, OperatorOptions::default())
        .await
        .unwrap();
    operator.login(OPERATOR, PASSWORD, None).await.unwrap();
    operator
}

/// The operator asks for `mode`; the customer allows it.
pub async fn grant(op: &mut SessionHandle, cu: &mut SessionHandle, mode: ConnectionMode) {
    op.request_mode(mode, "to help").await.unwrap();
    let request_id = wait_for(cu, |e| match e {
        SessionEvent::Control(ControlEvent::ConsentRequested {
            request_id,
            mode: m,
            ..
        }) if *m == mode => Some(*request_id),
        _ => None,
    })
    .await;
    cu.decide(request_id, true).await.unwrap();
    wait_for(op, |e| match e {
        SessionEvent::Control(ControlEvent::SharingChanged(s)) if s.mode() == Some(mode) => {
            Some(())
        }
        _ => None,
    })
    .await;
}

/// The audit row of `session_id` once the relay over the SQLite file `db`
/// has recorded its end (waits up to [`WAIT`]).
pub async fn ended_session_row(db: &Path, session_id: u64) -> AuditRecord {
    tokio::time::timeout(WAIT, async {
        loop {
            let store = SqliteStore::open(db).unwrap();
            let rows = store.query_audit(&AuditQuery::default(), 1000).unwrap();
            if let Some(row) = rows
                .into_iter()
                .find(|r| r.session_id == session_id && r.ended_ms != 0)
            {
                return row;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the relay records the end of the session in its history")
}

/// A relay connection over TLS, as [`rsupport_net::connect`] makes it.
pub type RawConnection = rsupport_net::RelayConnection<tokio_rustls::client::TlsStream<TcpStream>>;

/// A customer speaking the relay protocol itself, as a modified program
/// would: connected to `target` and past `Hello`. The relay's fingerprint is
/// learnt the way a stranger learns it, from the mismatch a wrong pin reports.
pub async fn raw_customer(target: &RelayTarget) -> RawConnection {
    let wrong = RelayTarget::pinned(target.addr(), "localhost", "00".repeat(32));
    let Err(rsupport_client::ClientError::FingerprintMismatch { seen, .. }) =
        rsupport_client::Customer::connect(&wrong, rsupport_client::HostPlatform::synthetic())
            .await
    else {
        panic!("a wrong pin is refused with the fingerprint the relay presented")
    };
    let fp = rsupport_net::tls::parse_fingerprint(&seen).expect("a fingerprint");
    let tls = rsupport_net::tls::client_config(rsupport_net::tls::Trust::Fingerprint(fp), None)
        .expect("a client configuration");
    let mut conn = rsupport_net::connect(target.addr(), "localhost", tls)
        .await
        .expect("the relay accepts the connection");
    conn.hello(Role::Customer, "raw").await.expect("Hello");
    conn
}

/// A session with no screen or input of its own (a one-pixel monitor),
/// for parties that only speak the protocol: a hostile customer, a relay
/// that runs its own key exchange.
pub(crate) fn headless_session(
    side: rsupport_core::Side,
    session_id: u64,
    key_exchange: rsupport_core::e2e::KeyExchange,
) -> rsupport_core::session::Session {
    let mapper = rsupport_input::CoordinateMapper::for_monitor(
        vec![rsupport_input::Monitor::new(
            rsupport_proto::Rect::new(0, 0, 1, 1),
            1.0,
        )],
        0,
        1,
        1,
    )
    .unwrap();
    rsupport_core::session::Session::new(
        rsupport_core::session::SessionConfig {
            side,
            session_id,
            display_name: "headless".into(),
            policy: rsupport_core::session::SessionPolicy::allowing(
                ConnectionMode::ALL.iter().copied(),
            ),
            gate: rsupport_input::GateConfig::default(),
            full_file_control: false,
            download_dir: None,
            key_exchange,
        },
        mapper,
    )
}

/// A customer that holds its session's end-to-end keys but sends whatever
/// it likes, as a modified customer program would: a raw connection and a
/// customer [`Session`](rsupport_core::session::Session) that ran the key
/// exchange. [`send`](Self::send) seals any message, valid or not.
pub struct KeyedCustomer {
    conn: RawConnection,
    session: rsupport_core::session::Session,
    /// What the relay said when pairing.
    pub paired: rsupport_proto::relay::Paired,
}

impl KeyedCustomer {
    /// Joins with the whole `code` (relay digits and secret digits) and
    /// completes the key exchange.
    pub async fn join(target: &RelayTarget, code: &str) -> KeyedCustomer {
        use rsupport_core::e2e::{KeyExchange, Protection, SplitCode};
        let split = SplitCode::parse(code).expect("a whole session code");
        let mut conn = raw_customer(target).await;
        conn.send(&rsupport_proto::relay::RelayMessage::JoinByCode {
            code: rsupport_proto::relay::Secret::new(split.routing.clone()),
            customer: CustomerInfo::default(),
        })
        .await
        .unwrap();
        let paired = tokio::time::timeout(WAIT, async {
            loop {
                if let rsupport_net::Incoming::Relay(rsupport_proto::relay::RelayMessage::Paired(
                    p,
                )) = conn.recv().await.unwrap()
                {
                    return p;
                }
            }
        })
        .await
        .expect("paired in time");
        let session = headless_session(
            rsupport_core::Side::Customer,
            paired.session_id,
            KeyExchange::Code {
                secret: split.secret,
            },
        );
        let mut keyed = KeyedCustomer {
            conn,
            session,
            paired,
        };
        tokio::time::timeout(WAIT, async {
            while !matches!(keyed.session.protection(), Protection::Encrypted { .. }) {
                keyed.flush().await;
                keyed.receive_one().await;
            }
        })
        .await
        .expect("the key exchange completes");
        keyed.flush().await;
        keyed
    }

    /// Seals `message` with the session's keys and sends it, whether or not
    /// the protocol allows it here.
    pub async fn send(&mut self, message: &rsupport_proto::session::SessionMessage) {
        self.send_bytes(message.priority(), message.encode()).await;
    }

    /// Seals bytes that need not be a session message at all.
    pub async fn send_bytes(
        &mut self,
        priority: rsupport_proto::envelope::Priority,
        payload: bytes::Bytes,
    ) {
        let envelope = self
            .session
            .wrap_raw(priority, payload)
            .expect("the keys are agreed");
        self.conn.send_envelope(&envelope).await.unwrap();
    }

    /// Sends what the honest session wants to send.
    pub async fn flush(&mut self) {
        while let Some(envelope) = self.session.poll_transmit() {
            self.conn.send_envelope(&envelope).await.unwrap();
        }
    }

    async fn receive_one(&mut self) {
        if let rsupport_net::Incoming::Session(envelope) = self.conn.recv().await.unwrap() {
            let _ = self
                .session
                .handle_envelope(envelope, std::time::Instant::now());
        }
    }

    /// Receives until the customer's session reports an event `pick`
    /// accepts (within [`WAIT`]).
    pub async fn wait_for<T>(&mut self, mut pick: impl FnMut(&SessionEvent) -> Option<T>) -> T {
        tokio::time::timeout(WAIT, async {
            loop {
                while let Some(event) = self.session.poll_event() {
                    if let Some(t) = pick(&event) {
                        return t;
                    }
                }
                self.flush().await;
                self.receive_one().await;
            }
        })
        .await
        .expect("event in time")
    }

    /// Grants the operator's next mode request, as a consenting customer would.
    pub async fn grant_next_request(&mut self) {
        let id = self
            .wait_for(|e| match e {
                SessionEvent::Control(ControlEvent::ConsentRequested { request_id, .. }) => {
                    Some(*request_id)
                }
                _ => None,
            })
            .await;
        self.session.control().decide(id, true).unwrap();
        self.flush().await;
    }
}
