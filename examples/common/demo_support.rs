//! The demo's scaffolding: an in-process relay with a store holding an
//! admin and an operator, a customer platform that counts injected input,
//! and waiting for one event with a timeout. `demo.rs` is the story; this is
//! what it stands on.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport::capture::source::{Capturer, SyntheticSource, X11Capturer};
use rsupport::client::{HostPlatform, LobbyEvent, Operator, RelayTarget, SessionHandle};
use rsupport::core::session::screen::ViewerScreenEvent;
use rsupport::core::session::{ControlEvent, SessionEvent};
use rsupport::input::inject::{InjectError, Injector, RecordingInjector, X11Injector};
use rsupport::input::InputEvent;
use rsupport::proto::relay::admin::AuditQuery;
use rsupport::proto::{ConnectionMode, Role};
use rsupport_relay::auth::Argon2Params;
use rsupport_relay::store::{SqliteStore, Store};
use rsupport_relay::{bootstrap_admin, create_account, AccountSpec, Relay};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub const OPERATOR: &str = "aiko";
pub const OPERATOR_PASSWORD: &str = "Demo-Operator-1";
/// How long any one step may take before the demo gives up.
pub const STEP: Duration = Duration::from_secs(15);

pub fn demo_dir() -> Result<PathBuf, Error> {
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let dir = std::env::temp_dir().join(format!("rsupport-demo-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub async fn start_relay(state: &Path) -> Result<(RelayTarget, PathBuf), Error> {
    let db = state.join("relay.db");
    let mut store = SqliteStore::open(&db)?;
    let mut rng = StdRng::from_os_rng();
    // Cheaper argon2 parameters keep the demo quick; a real relay keeps the defaults.
    let params = Argon2Params::insecure_fast();
    bootstrap_admin(
        &mut store,
        "admin",
        "demo-admin-violet-kettle-42",
        params,
        &mut rng,
        now_ms(),
    )?;
    let operator = AccountSpec {
        username: OPERATOR,
        display_name: "Aiko Sato",
        password: OPERATOR_PASSWORD,
        role: Role::Operator,
    };
    create_account(&mut store, operator, params, &mut rng, now_ms())?;
    let web_root = super::web_demo::console_dir();
    let relay = Relay::builder()
        .configure(|config| {
            config.argon2 = params;
            // The web console scripts/build-web.sh built (demo.sh runs it).
            config.web_root = Some(web_root);
        })
        .store(store)
        .start("127.0.0.1:0")
        .await?;
    let addr = relay.local_addr();
    let fingerprint = relay.fingerprint_hex();
    println!("relay certificate SHA-256 fingerprint: {fingerprint}");
    println!(
        "relay listening on {addr} (TLS, SQLite store {})",
        db.display()
    );
    relay.detach(); // serves until the demo ends
    Ok((
        RelayTarget::pinned(addr.to_string(), "localhost", fingerprint),
        db,
    ))
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Counts what the customer's machine injects, then passes it on.
pub struct Counting<I> {
    inner: I,
    count: Arc<AtomicU64>,
}

impl<I: Injector> Injector for Counting<I> {
    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError> {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inner.inject(event)
    }
    fn flush(&mut self) -> Result<(), InjectError> {
        self.inner.flush()
    }
    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

/// The real X display when there is one, a synthetic desktop otherwise.
pub fn customer_platform(count: Arc<AtomicU64>) -> (HostPlatform, String) {
    if let Ok(display) = std::env::var("DISPLAY") {
        if let (Ok(mut capturer), Ok(injector)) = (
            X11Capturer::connect(Some(&display)),
            X11Injector::connect(Some(&display)),
        ) {
            let size = capturer
                .monitors()
                .ok()
                .and_then(|m| m.first().map(|m| (m.rect.width, m.rect.height)))
                .unwrap_or_default();
            let what = format!("X display {display} ({}x{})", size.0, size.1);
            let injector = Counting {
                inner: injector,
                count,
            };
            return (
                HostPlatform::new(Box::new(capturer), Box::new(injector), None),
                what,
            );
        }
    }
    let injector = Counting {
        inner: RecordingInjector::new(),
        count,
    };
    (
        HostPlatform::new(Box::new(SyntheticSource::new()), Box::new(injector), None),
        "a synthetic desktop (no X display)".into(),
    )
}

pub async fn session_started(operator: &mut Operator) -> Result<SessionHandle, Error> {
    Ok(tokio::time::timeout(STEP, async {
        loop {
            match operator.next_event().await {
                Some(LobbyEvent::SessionStarted(s)) => return Ok(s),
                Some(_) => {}
                None => return Err("relay connection closed"),
            }
        }
    })
    .await??)
}

pub async fn wait<T>(
    session: &mut SessionHandle,
    mut pick: impl FnMut(&SessionEvent) -> Option<T>,
) -> Result<T, Error> {
    Ok(tokio::time::timeout(STEP, async {
        loop {
            match session.next_event().await {
                Some(e) => {
                    if let Some(t) = pick(&e) {
                        return Ok(t);
                    }
                }
                None => return Err("session closed"),
            }
        }
    })
    .await??)
}

pub async fn grant(
    op: &mut SessionHandle,
    cu: &mut SessionHandle,
    mode: ConnectionMode,
) -> Result<(), Error> {
    op.request_mode(mode, "to check the printer settings")
        .await?;
    let (request_id, reason) = wait(cu, |e| match e {
        SessionEvent::Control(ControlEvent::ConsentRequested {
            request_id, reason, ..
        }) => Some((*request_id, reason.clone())),
        _ => None,
    })
    .await?;
    println!("customer is asked: allow {mode:?} ({reason})? → allows");
    cu.decide(request_id, true).await?;
    wait(op, |e| match e {
        SessionEvent::Control(ControlEvent::SharingChanged(s)) if s.mode() == Some(mode) => {
            Some(())
        }
        _ => None,
    })
    .await
}

/// Counts `n` frame updates; returns frames, size and latency (p50, max) in ms.
pub async fn watch_frames(
    op: &mut SessionHandle,
    n: usize,
) -> Result<(usize, u32, u32, (u64, u64)), Error> {
    let mut latencies = Vec::with_capacity(n);
    let (mut w, mut h) = (0, 0);
    let start = Instant::now();
    while latencies.len() < n && start.elapsed() < STEP {
        let (width, height, captured) = wait(op, |e| match e {
            SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated {
                width,
                height,
                captured_at_ms,
                ..
            }) => Some((*width, *height, *captured_at_ms)),
            _ => None,
        })
        .await?;
        (w, h) = (width, height);
        latencies.push(now_ms().saturating_sub(captured));
    }
    latencies.sort_unstable();
    let p50 = latencies.get(latencies.len() / 2).copied().unwrap_or(0);
    let max = latencies.last().copied().unwrap_or(0);
    Ok((latencies.len(), w, h, (p50, max)))
}

pub fn save_png(frame: &rsupport::capture::BgraFrame, path: &std::path::Path) -> Result<(), Error> {
    std::fs::write(path, frame.to_png()?)?;
    Ok(())
}

pub async fn audit_row(
    db: &Path,
    session_id: u64,
) -> Result<rsupport::proto::relay::admin::AuditRecord, Error> {
    let deadline = Instant::now() + STEP;
    loop {
        let store = SqliteStore::open(db)?;
        let rows = store.query_audit(&AuditQuery::default(), 10_000)?;
        if let Some(row) = rows
            .into_iter()
            .find(|r| r.session_id == session_id && r.ended_ms != 0)
        {
            return Ok(row);
        }
        if Instant::now() > deadline {
            return Err("no audit row for the session".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
