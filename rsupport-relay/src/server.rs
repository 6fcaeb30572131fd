//! The tokio driver: accepts TCP, runs TLS, cuts frames, hands relay-control
//! messages to the broker thread and forwards session frames directly
//! between paired connections through their priority queues.
//!
//! Threads and tasks:
//! - one accept loop (the `serve` future itself);
//! - per connection, a reader task and a writer task;
//! - one broker thread owning the [`Broker`] and its synchronous [`Store`]
//!   (SQLite), fed by a channel, so slow database work never blocks the
//!   async runtime;
//! - a few password threads ([`PasswordPool`]) running the broker's argon2
//!   jobs, so hashing never blocks the broker.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use rand::RngCore;
use rsupport_proto::envelope::Envelope;
use rsupport_proto::framing::{announced, Frame, FrameDecoder, FrameKind, FrameLimits, HEADER_LEN};
use rsupport_proto::relay::RelayMessage;
use rsupport_proto::CloseReason;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::broker::{Broker, ConnId, ConnInfo, Output, TrafficMeter};
use super::config::RelayConfig;
use super::conn_limits::Admission;
use super::event_channel::{self, EventRx, EventTx, EVENT_QUEUE_CAPACITY};
use super::hashing::{default_workers, PasswordOutcome, PasswordPool};
use super::memory::{Holder, MemoryBudget};
use super::queue::{Next, OutQueue, Pushed};
use crate::store::Store;
use crate::web::sniff::{sniff, Prefixed, Speaks};
use crate::web::WebFront;

mod streams;
use streams::{read_loop, write_loop};

/// Bodies below this are copied into the write batch (coalescing small
/// frames into one TLS record); larger ones are written from their own buffer.
const COALESCE_BELOW: usize = 8 * 1024;
/// How long a closing connection may take to deliver its last frames.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long shutdown waits for connections to say goodbye.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Largest `Session` frame buffered from a connection that has never been
/// routed into a session (before `Hello`, before pairing): a party sends
/// session traffic only once paired, so anything bigger is refused from the
/// header alone instead of being buffered only to be dropped (M8).
const UNROUTED_SESSION_MAX: u32 = 64 * 1024;
/// The read buffer grows by at most this much per read, following the
/// bytes that actually arrive rather than the length a header announces.
const READ_CHUNK: usize = 16 * 1024;

/// Everything [`serve`] needs.
pub struct ServeConfig {
    /// Relay settings and limits.
    pub relay: RelayConfig,
    /// TLS; `None` serves plain TCP, for benchmarks and tests on loopback only.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Accounts, settings and audit history.
    pub store: Box<dyn Store>,
    /// Randomness for codes, ids and salts.
    pub rng: Box<dyn RngCore + Send>,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("relay", &self.relay)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Debug, Clone)]
struct Route {
    peer: Weak<ConnShared>,
    meter: Arc<TrafficMeter>,
    peer_is_operator: bool,
}

/// State shared between a connection's tasks and the broker thread.
#[derive(Debug)]
struct ConnShared {
    queue: OutQueue,
    routes: Mutex<HashMap<u64, Route>>,
    /// Set once the broker routed this connection into a session: from then
    /// on full-size session frames are allowed.
    ever_routed: AtomicBool,
}

impl Holder for ConnShared {
    fn held(&self) -> usize {
        self.queue.charge().held()
    }
    fn closing(&self) -> bool {
        self.queue.is_closing()
    }
    fn shed(&self) {
        self.queue
            .close(CloseReason::SlowConsumer, "relay memory budget exceeded");
    }
}

impl ConnShared {
    fn route(&self, session_id: u64) -> Option<Route> {
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&session_id)
            .cloned()
    }

    fn has_routes(&self) -> bool {
        !self
            .routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

enum Event {
    Connected(ConnId, ConnInfo, Arc<ConnShared>),
    Message(ConnId, RelayMessage),
    Disconnected(ConnId),
    PasswordChecked(u64, PasswordOutcome),
    Shutdown(ShutdownMode),
}

/// How [`serve_until`] stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShutdownMode {
    /// Stop for good: end every session (`RelayShutdown`) and close every
    /// connection with `Close(Shutdown)`.
    EndSessions,
    /// Stop for a restart (upgrade, configuration change): close every
    /// connection with `Close(Shutdown)` but keep the sessions in the store;
    /// the next run restores them and the parties resume within
    /// [`Settings::resume_grace_ms`](super::Settings::resume_grace_ms).
    KeepSessions,
}

/// Runs the relay on `listener` until `shutdown` completes, then ends every
/// session, says `Close(Shutdown)` to every connection and returns.
///
/// Sessions a previous run left in the store (after a restart or a crash)
/// are restored first and wait for their parties to resume.
pub async fn serve(
    listener: TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_until(listener, config, async {
        shutdown.await;
        ShutdownMode::EndSessions
    })
    .await
}

/// As [`serve`], stopping the way the `shutdown` future's output says.
///
/// Dropping the future (aborting its task) behaves like a crash: every
/// connection is cut without a goodbye and the sessions stay in the store,
/// resumable by the next run.
pub async fn serve_until(
    listener: TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ShutdownMode>,
) -> std::io::Result<()> {
    let ServeConfig {
        relay,
        tls,
        store,
        rng,
    } = config;
    let (events, rx) = event_channel::channel::<Event>(EVENT_QUEUE_CAPACITY);
    let admission = Arc::new(Admission::new(
        relay.max_connections_per_source,
        &relay.trusted_proxies,
    ));
    let budget = MemoryBudget::new(relay.memory_budget_bytes);
    let mut broker = Broker::new(relay.clone(), store, rng);
    broker.restore_sessions(now_ms());
    // Connection tasks end when this sender is dropped: normally after
    // shutdown, or at once when this future is dropped (aborted).
    let (alive, _) = tokio::sync::watch::channel(());
    let workers = match relay.password_workers {
        0 => default_workers(),
        n => n,
    };
    let to_broker = Mutex::new(events.clone());
    let pool = Arc::new(PasswordPool::start(
        workers,
        relay.password_queue,
        move |job, outcome| {
            let tx = to_broker.lock().unwrap_or_else(|e| e.into_inner());
            let _ = tx.blocking_send(Event::PasswordChecked(job, outcome));
        },
    )?);
    let broker_pool = pool.clone();
    // Also when this future is dropped (a simulated crash): the workers
    // hold a sender, and the broker thread ends only when all are gone.
    let pool = StopOnDrop(pool);
    let broker_thread = std::thread::Builder::new()
        .name("relay-broker".into())
        .spawn(move || run_broker(broker, rx, &broker_pool))?;
    let relay = Arc::new(relay);
    let permits = Arc::new(Semaphore::new(relay.max_connections));
    let tls_on = tls.is_some();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let next_id = Arc::new(AtomicU64::new(1));
    let web = relay.web_enabled.then(|| {
        let dialer = Dialer {
            events: events.clone(),
            relay: relay.clone(),
            budget: budget.clone(),
            next_id: next_id.clone(),
            alive: alive.subscribe(),
        };
        WebFront::start(dialer, tls_on)
    });
    let live = Arc::new(tokio::sync::Notify::new());
    tokio::pin!(shutdown);
    let mode = loop {
        tokio::select! {
            mode = &mut shutdown => break mode,
            accepted = listener.accept() => {
                let (tcp, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and similar: back off briefly, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    tracing::warn!(%addr, "connection cap reached; refusing");
                    continue;
                };
                // Per source, from accept: half-open sockets hold their slot too.
                let Some(accepted) = admission.at_accept(addr) else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                let (events, relay, acceptor, live) = (events.clone(), relay.clone(), acceptor.clone(), live.clone());
                let (admission, budget) = (admission.clone(), budget.clone());
                let web = web.clone();
                let mut alive = alive.subscribe();
                tokio::spawn(async move {
                  tokio::select! {
                    // The serve future is gone (aborted): cut the connection like a crash.
                    _ = alive.changed() => {}
                    () = async {
                    let handshake = tokio::time::Instant::now() + Duration::from_millis(relay.handshake_timeout_ms);
                    // The PROXY header (trusted proxies only) and the TLS
                    // handshake share the handshake deadline.
                    let Ok(Some(admitted)) = tokio::time::timeout_at(handshake, admission.finish(tcp, accepted)).await else {
                        return;
                    };
                    let addr = admitted.client;
                    let conn = Conn { id, addr, relay, events, budget };
                    match acceptor {
                        Some(acceptor) => match tokio::time::timeout_at(handshake, acceptor.accept(admitted.stream)).await {
                            Ok(Ok(tls)) => {
                                let client_cert = tls.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty());
                                front_door(tls, conn, client_cert, handshake, web).await;
                            }
                            Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                        },
                        None => front_door(admitted.stream, conn, false, handshake, web).await,
                    }
                    } => {}
                  }
                    drop(permit);
                    live.notify_one();
                });
            }
        }
    };
    drop(listener);
    // The web front door's own tasks hold senders to the broker: stop them.
    drop(web);
    let _ = events.send(Event::Shutdown(mode)).await;
    // Wait until every connection has finished (or the grace period ends).
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while permits.available_permits() < relay.max_connections {
        if tokio::time::timeout_at(deadline, live.notified())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace period over; dropping remaining connections");
            break;
        }
    }
    drop(events);
    // The pool's workers hold the last sender: stop them so the broker
    // thread sees the channel close and ends.
    drop(pool);
    drop(alive);
    let _ = tokio::task::spawn_blocking(move || broker_thread.join()).await;
    Ok(())
}

fn run_broker(mut broker: Broker, rx: EventRx<Event>, pool: &PasswordPool) {
    let mut conns: HashMap<ConnId, Arc<ConnShared>> = HashMap::new();
    loop {
        // Deadlines first: a steady stream of events (a Ping flood) must not
        // keep the timers (Hello and login deadlines, code expiry) from running.
        let now = now_ms();
        let mut next = broker.poll_timeout();
        if next.is_some_and(|t| t <= now) {
            broker.handle_timeout(now);
            while let Some(out) = broker.poll_output() {
                apply(&conns, out);
            }
            next = broker.poll_timeout();
        }
        let wait = next.map_or(Duration::from_secs(1), |t| {
            Duration::from_millis(t.saturating_sub(now))
        });
        match rx.recv_timeout(wait) {
            Ok(Event::Connected(id, info, shared)) => {
                conns.insert(id, shared);
                broker.handle_connect(id, info, now_ms());
            }
            Ok(Event::Message(id, msg)) => broker.handle_message(id, msg, now_ms()),
            Ok(Event::Disconnected(id)) => {
                broker.handle_disconnect(id, now_ms());
                conns.remove(&id);
            }
            Ok(Event::PasswordChecked(job, outcome)) => {
                broker.handle_password_checked(job, outcome, now_ms())
            }
            Ok(Event::Shutdown(ShutdownMode::EndSessions)) => broker.shutdown(now_ms()),
            Ok(Event::Shutdown(ShutdownMode::KeepSessions)) => {
                broker.shutdown_for_restart(now_ms())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => broker.handle_timeout(now_ms()),
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        while let Some(out) = broker.poll_output() {
            match out {
                Output::CheckPassword(job) => {
                    if let Err(job) = pool.submit(job) {
                        broker.handle_password_checked(job.id, PasswordOutcome::Busy, now_ms());
                    }
                }
                out => apply(&conns, out),
            }
        }
    }
}

fn apply(conns: &HashMap<ConnId, Arc<ConnShared>>, out: Output) {
    match out {
        Output::Send { conn, message } => {
            if let Some(c) = conns.get(&conn) {
                let body = message.encode();
                let frame = Frame::new(FrameKind::Relay, body);
                c.queue.push_control(frame.header(), frame.body);
            }
        }
        Output::Close {
            conn,
            reason,
            detail,
        } => {
            if let Some(c) = conns.get(&conn) {
                c.queue.close(reason, &detail);
            }
        }
        Output::Route {
            conn,
            session_id,
            peer,
            meter,
            peer_is_operator,
        } => {
            if let (Some(c), Some(p)) = (conns.get(&conn), conns.get(&peer)) {
                let route = Route {
                    peer: Arc::downgrade(p),
                    meter,
                    peer_is_operator,
                };
                c.routes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(session_id, route);
                c.ever_routed.store(true, Ordering::Relaxed);
            }
        }
        Output::Unroute { conn, session_id } => {
            if let Some(c) = conns.get(&conn) {
                c.routes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&session_id);
            }
        }
        // Handled by run_broker, which owns the pool.
        Output::CheckPassword(_) => {}
    }
}

/// What a connection's tasks need besides the stream.
struct Conn {
    id: ConnId,
    /// The client (named by a trusted proxy's header, or the TCP peer).
    addr: SocketAddr,
    relay: Arc<RelayConfig>,
    events: EventTx<Event>,
    budget: Arc<MemoryBudget>,
}

async fn run_connection<S>(stream: S, conn: Conn, client_cert: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Conn {
        id,
        addr,
        relay,
        events,
        budget,
    } = conn;
    let shared = Arc::new(ConnShared {
        queue: OutQueue::with_charge(
            relay.queue_soft_bytes,
            relay.queue_hard_bytes,
            budget.charge(),
        ),
        routes: Mutex::new(HashMap::new()),
        ever_routed: AtomicBool::new(false),
    });
    let holder: Arc<dyn Holder> = shared.clone();
    budget.register(id, Arc::downgrade(&holder));
    drop(holder);
    let _registered = Unregister(&budget, id);
    let info = ConnInfo {
        source: addr.ip(),
        client_cert,
    };
    if events
        .send(Event::Connected(id, info, shared.clone()))
        .await
        .is_err()
    {
        return;
    }
    let (rd, wr) = tokio::io::split(stream);
    let reader = AbortOnDrop(tokio::spawn(read_loop(
        rd,
        id,
        shared.clone(),
        relay,
        events.clone(),
    )));
    let writer = write_loop(wr, &shared);
    tokio::pin!(writer);
    tokio::select! {
        _ = &mut writer => {}
        _ = shared.queue.wait_closing() => {
            // Let the writer deliver what is queued and the `Close`; a peer
            // that does not read (a slow consumer) is dropped after the grace.
            let _ = tokio::time::timeout(CLOSE_GRACE, &mut writer).await;
        }
    }
    // The writer ends after a close or a write error; stop the reader too.
    shared.queue.close(CloseReason::Normal, "");
    drop(reader);
    let _ = events.send(Event::Disconnected(id)).await;
}

/// Hands a connection to the web front door or to [`run_connection`],
/// by its first bytes (read under the handshake deadline and replayed).
async fn front_door<S>(
    mut stream: S,
    conn: Conn,
    client_cert: bool,
    handshake: tokio::time::Instant,
    web: Option<Arc<WebFront>>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Some(web) = web else {
        return run_connection(stream, conn, client_cert).await;
    };
    let addr = conn.addr;
    let (speaks, first) = match tokio::time::timeout_at(handshake, sniff(&mut stream)).await {
        Ok(Ok(sniffed)) => sniffed,
        Ok(Err(_)) => return,
        Err(_) => {
            tracing::debug!(%addr, "nothing recognisable sent before the handshake deadline");
            return;
        }
    };
    let stream = Prefixed::new(first, stream);
    match speaks {
        Speaks::Framed => run_connection(stream, conn, client_cert).await,
        Speaks::Http => web.serve(stream, addr, client_cert).await,
    }
}

/// Opens connections into the relay from inside it: WebSockets after the
/// upgrade, and the admin API's in-process connections. Each runs through
/// [`run_connection`] like a native one, with the same limits.
#[derive(Clone)]
pub(crate) struct Dialer {
    events: EventTx<Event>,
    relay: Arc<RelayConfig>,
    budget: Arc<MemoryBudget>,
    next_id: Arc<AtomicU64>,
    /// Changes (closes) when the relay stops or is dropped.
    alive: tokio::sync::watch::Receiver<()>,
}

impl Dialer {
    /// The relay's settings.
    pub(crate) fn relay(&self) -> &RelayConfig {
        &self.relay
    }

    /// Resolves when the relay stops serving.
    pub(crate) async fn stopped(&self) {
        let mut alive = self.alive.clone();
        while alive.changed().await.is_ok() {}
    }

    /// Runs `stream` as a connection from `addr` until it ends (or the relay stops).
    pub(crate) async fn run<S>(&self, stream: S, addr: SocketAddr, client_cert: bool)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let conn = Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            addr,
            relay: self.relay.clone(),
            events: self.events.clone(),
            budget: self.budget.clone(),
        };
        tokio::select! {
            () = run_connection(stream, conn, client_cert) => {}
            () = self.stopped() => {}
        }
    }

    /// An in-process connection on behalf of a client at `addr`: the
    /// returned end speaks the framed protocol to the relay.
    pub(crate) fn open(&self, addr: SocketAddr) -> tokio::io::DuplexStream {
        let (ours, theirs) = tokio::io::duplex(256 * 1024);
        let dialer = self.clone();
        tokio::spawn(async move { dialer.run(theirs, addr, false).await });
        ours
    }
}

/// Takes a connection off the memory budget's list when it ends.
struct Unregister<'a>(&'a MemoryBudget, ConnId);

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.0.unregister(self.1);
    }
}

/// Stops the password pool when dropped.
struct StopOnDrop(Arc<PasswordPool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Aborts the task when dropped, so a connection cut mid-way (the relay's
/// task aborted) leaves no reader behind.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
