//! The whole product in one process: a relay, an operator and a customer on
//! loopback with real TLS (a self-signed certificate, pinned by
//! fingerprint) and the embedded SQLite store. The customer shares the real
//! screen when an X display is present (`DISPLAY`), a synthetic desktop
//! otherwise. Walks through code, join, consent, view, control, chat, a file
//! transfer, remote printing, drawing, pause and end, then prints the
//! relay's audit row.
//!
//! Run with `cargo run --release --example demo` (or `bash scripts/demo.sh`).

#[path = "common/print_app.rs"]
mod print_app;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport::capture::source::{Capturer, SyntheticSource, X11Capturer};
use rsupport::client::{
    Customer, Drawing, HostPlatform, LobbyEvent, Operator, OperatorOptions, RelayTarget,
    SessionHandle,
};
use rsupport::core::files::FileEvent;
use rsupport::core::print::{
    CustomerPrintEvent, OperatorPrintEvent, PrintEvent, ReceiverEvent, SenderEvent,
};
use rsupport::core::session::screen::ViewerScreenEvent;
use rsupport::core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport::input::inject::{InjectError, Injector, RecordingInjector, X11Injector};
use rsupport::input::InputEvent;
use rsupport::net::tls::{fingerprint_hex, server_config};
use rsupport::print::{SaveToDirectory, VirtualPrinter, VirtualPrinterConfig};
use rsupport::proto::annotate::Argb;
use rsupport::proto::input::{InputMessage, MouseButton};
use rsupport::proto::relay::admin::AuditQuery;
use rsupport::proto::relay::CustomerInfo;
use rsupport::proto::{ConnectionMode, EndReason, Point, Role};
use rsupport_relay::auth::{Argon2Params, PasswordHasher};
use rsupport_relay::store::{SqliteStore, Store};
use rsupport_relay::{bootstrap_admin, new_account, serve, AccountSpec, RelayConfig, ServeConfig};
use tokio::net::TcpListener;

type Error = Box<dyn std::error::Error + Send + Sync>;

const OPERATOR: &str = "aiko";
const OPERATOR_PASSWORD: &str = "Demo-Operator-1";
const STEP: Duration = Duration::from_secs(15);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let state = demo_dir()?;
    println!("rsupport demo — state in {}", state.display());

    // 1. The relay: certificate, store with an admin and an operator, TLS listener.
    let (target, db) = start_relay(&state).await?;

    // 2. The operator logs in and issues a session code. Jobs the customer
    //    prints are saved as files here (a CUPS queue works the same way).
    let prints = state.join("prints");
    let options =
        OperatorOptions::default().with_print_sink(Arc::new(SaveToDirectory::new(&prints)));
    let mut operator = Operator::connect(&target, options).await?;
    let login = operator.login(OPERATOR, OPERATOR_PASSWORD, None).await?;
    println!(
        "operator {} logged in (operator ID {}, modes {:?})",
        login.display_name, login.operator_id, login.allowed_modes
    );
    let invitation = operator.issue_code().await?;
    println!(
        "invitation: code {} (single use, expires at {} ms), link {:?}",
        invitation.code(),
        invitation.expires_at_ms(),
        invitation.join_link()
    );

    // 3. The customer joins with the code.
    let injected = Arc::new(AtomicU64::new(0));
    let (platform, desktop) = customer_platform(injected.clone());
    println!("customer shares: {desktop}");
    // The SDK's printer on the customer's machine (CUPS would list it).
    let printer = VirtualPrinter::start(VirtualPrinterConfig::new(
        "rsupport remote",
        state.join("spool"),
    ))
    .await?;
    let (printer_addr, printer_uri) = (printer.local_addr(), printer.uri().to_owned());
    let platform = platform.with_printer(printer);
    let customer = Customer::connect(&target, platform).await?;
    let code = invitation.code().to_owned();
    let info = CustomerInfo {
        name: "Bob".into(),
        description: "printer does not print".into(),
        os: std::env::consts::OS.into(),
        hostname: "bob-pc".into(),
    };
    let join = tokio::spawn(async move { customer.join(&code, info).await });
    let mut op = session_started(&mut operator).await?;
    let mut cu = join.await??;
    println!(
        "paired: session {} with {} ({})",
        op.session_id(),
        op.customer().name,
        op.customer().description
    );

    // 4. Chat first.
    cu.send_chat("こんにちは、印刷できません").await?;
    let line = wait(&mut op, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(l)) => Some(l.text.clone()),
        _ => None,
    })
    .await?;
    println!("customer → operator chat: {line}");
    op.send_chat("I'll take a look, please allow screen sharing")
        .await?;
    wait(&mut cu, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(_)) => Some(()),
        _ => None,
    })
    .await?;

    // 5. View: the operator asks, the customer consents.
    grant(&mut op, &mut cu, ConnectionMode::ViewCustomer).await?;
    let (frames, width, height, latency) = watch_frames(&mut op, 20).await?;
    println!(
        "view: {frames} frames of {width}x{height}, capture→operator latency p50 {} ms, max {} ms",
        latency.0, latency.1
    );
    let denied = op
        .send_input(InputMessage::PointerMove {
            position: Point::new(5, 5),
        })
        .await;
    println!(
        "input while view-only: {}",
        if denied.is_err() {
            "refused"
        } else {
            "SENT (bug)"
        }
    );

    // 6. Control: input reaches the customer's machine.
    grant(&mut op, &mut cu, ConnectionMode::ControlCustomer).await?;
    for message in [
        InputMessage::PointerMove {
            position: Point::new(200, 150),
        },
        InputMessage::PointerButton {
            button: MouseButton::Left,
            pressed: true,
            position: Point::new(200, 150),
        },
        InputMessage::PointerButton {
            button: MouseButton::Left,
            pressed: false,
            position: Point::new(200, 150),
        },
    ] {
        op.send_input(message).await?;
    }
    tokio::time::timeout(STEP, async {
        while injected.load(Ordering::Relaxed) < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await?;
    println!(
        "control: {} input events injected on the customer's side",
        injected.load(Ordering::Relaxed)
    );

    // 7. A file from the operator, accepted by the customer into a folder.
    let outgoing = state.join("outgoing");
    std::fs::create_dir_all(&outgoing)?;
    let payload: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(outgoing.join("printer-driver.bin"), &payload)?;
    op.send_files(outgoing.join("printer-driver.bin")).await?;
    let (transfer_id, size) = wait(&mut cu, |e| match e {
        SessionEvent::File(FileEvent::OfferReceived {
            transfer_id,
            total_size,
            ..
        }) => Some((*transfer_id, *total_size)),
        _ => None,
    })
    .await?;
    println!("customer is offered a file of {size} bytes → accepts");
    let downloads = state.join("downloads");
    std::fs::create_dir_all(&downloads)?;
    cu.accept_files(transfer_id, &downloads).await?;
    wait(&mut cu, |e| {
        matches!(e, SessionEvent::File(FileEvent::Finished { .. })).then_some(())
    })
    .await?;
    let arrived = std::fs::read(downloads.join("printer-driver.bin"))?;
    println!(
        "file transfer: {} bytes arrived, SHA-256 verified, identical: {}",
        arrived.len(),
        arrived == payload
    );

    // 8. The customer prints; the job comes out on the operator's side.
    let document = print_app::postscript("Printer test page", 2);
    let status =
        print_app::print_postscript(printer_addr, &printer_uri, "Printer test page", &document)
            .await?;
    println!("customer's application prints 2 pages to {printer_uri}: {status}");
    let offer = wait(&mut op, |e| match e {
        SessionEvent::Print(PrintEvent::Operator(OperatorPrintEvent::Channel(
            ReceiverEvent::Offered(offer),
        ))) => Some(offer.clone()),
        _ => None,
    })
    .await?;
    println!(
        "operator is offered print job \"{}\" ({} bytes) → accepts",
        offer.name, offer.size
    );
    op.accept_print(offer.job_id).await?;
    let (outcome, destination) = wait(&mut cu, |e| match e {
        SessionEvent::Print(PrintEvent::Customer(CustomerPrintEvent::Channel(
            SenderEvent::Finished {
                outcome,
                destination,
                ..
            },
        ))) => Some((*outcome, destination.clone())),
        _ => None,
    })
    .await?;
    let printed = std::fs::read(&destination)?;
    println!(
        "print job: {outcome:?} at {destination} — the customer is told; identical: {}",
        printed == document
    );

    // 9. The operator circles something on the customer's screen.
    op.annotate(Drawing::Stroke {
        color: Argb::new(255, 230, 30, 30),
        width_px: 5.0,
        points: (0..=36)
            .map(|i| {
                let a = f64::from(i) * std::f64::consts::TAU / 36.0;
                Point::new(320 + (60.0 * a.cos()) as i32, 200 + (40.0 * a.sin()) as i32)
            })
            .collect(),
        monitor_id: 0,
    })?;
    let mut strokes = 0;
    for _ in 0..50 {
        wait(&mut cu, |e| {
            matches!(e, SessionEvent::AnnotationsChanged).then_some(())
        })
        .await?;
        strokes = cu.annotation_layer().await?.items().len();
        if strokes > 0 {
            break;
        }
    }
    println!("drawing: {strokes} annotation(s) on the customer's layer");

    // 10. Pause: nothing is captured or sent, input is refused.
    cu.set_paused(true).await?;
    wait(&mut op, |e| match e {
        SessionEvent::Control(ControlEvent::SharingChanged(s)) if s.is_paused() => Some(()),
        _ => None,
    })
    .await?;
    let before = op.stats().await?.frames_applied;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = op.stats().await?.frames_applied;
    let refused = op
        .send_input(InputMessage::PointerMove {
            position: Point::new(1, 1),
        })
        .await
        .is_err();
    println!(
        "pause: {} frames arrived in 0.5 s, input {}",
        after - before,
        if refused { "refused" } else { "SENT (bug)" }
    );
    cu.set_paused(false).await?;

    // 11. A screenshot of what the operator sees.
    if let Some(frame) = op.framebuffer().await? {
        let path = state.join("operator-view.png");
        save_png(&frame, &path)?;
        println!("operator's view saved to {}", path.display());
    }

    // 12. End, and the audit history.
    let session_id = op.session_id();
    op.end(EndReason::OperatorEnded, "printer fixed")?;
    let reason = wait(&mut cu, |e| match e {
        SessionEvent::Control(ControlEvent::Ended { reason, .. }) => Some(*reason),
        _ => None,
    })
    .await?;
    println!("session ended: {reason:?}");
    let row = audit_row(&db, session_id).await?;
    println!(
        "audit: session {} operator {} customer {:?} modes {:?} duration {} ms, \
         {} bytes to operator, {} bytes to customer, end {:?}",
        row.session_id,
        row.operator_username,
        row.customer,
        row.modes,
        row.ended_ms.saturating_sub(row.started_ms),
        row.bytes_to_operator,
        row.bytes_to_customer,
        row.end_reason
    );
    println!("demo complete");
    Ok(())
}

fn demo_dir() -> Result<PathBuf, Error> {
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let dir = std::env::temp_dir().join(format!("rsupport-demo-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn start_relay(state: &Path) -> Result<(RelayTarget, PathBuf), Error> {
    let (identity, _, _) = rsupport_relay::identity::self_signed(&["localhost".into()])?;
    let fingerprint = fingerprint_hex(&identity.fingerprint());
    println!("relay certificate SHA-256 fingerprint: {fingerprint}");
    let db = state.join("relay.db");
    let mut store = SqliteStore::open(&db)?;
    let mut rng = StdRng::from_os_rng();
    // Cheaper argon2 parameters keep the demo quick; a real relay keeps the defaults.
    let params = Argon2Params::insecure_fast();
    bootstrap_admin(
        &mut store,
        "admin",
        "Demo-Admin-1",
        params,
        &mut rng,
        now_ms(),
    )?;
    let hasher = PasswordHasher::new(params, &mut rng);
    let mut account = new_account(
        &store,
        AccountSpec {
            username: OPERATOR,
            display_name: "Aiko Sato",
            password: OPERATOR_PASSWORD,
            role: Role::Operator,
        },
        &hasher,
        &mut rng,
        now_ms(),
    )?;
    account.must_change_password = false;
    store.insert_account(&account)?;
    let mut relay = RelayConfig::default();
    relay.argon2 = params;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = ServeConfig {
        relay,
        tls: Some(server_config(identity, None)?),
        store: Box::new(store),
        rng: Box::new(StdRng::from_os_rng()),
    };
    tokio::spawn(serve(listener, config, std::future::pending()));
    println!(
        "relay listening on {addr} (TLS, SQLite store {})",
        db.display()
    );
    Ok((
        RelayTarget::pinned(addr.to_string(), "localhost", fingerprint),
        db,
    ))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Counts what the customer's machine injects, then passes it on.
struct Counting<I> {
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
fn customer_platform(count: Arc<AtomicU64>) -> (HostPlatform, String) {
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

async fn session_started(operator: &mut Operator) -> Result<SessionHandle, Error> {
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

async fn wait<T>(
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

async fn grant(
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
async fn watch_frames(
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

fn save_png(frame: &rsupport::capture::BgraFrame, path: &std::path::Path) -> Result<(), Error> {
    std::fs::write(path, frame.to_png()?)?;
    Ok(())
}

async fn audit_row(
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
