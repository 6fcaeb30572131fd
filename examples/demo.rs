//! The whole product in one process — the README's main job
//! (`bash scripts/demo.sh`).
//!
//! A relay, an operator and a customer on loopback with real TLS (a
//! self-signed certificate pinned by fingerprint) and the relay's SQLite
//! store. The customer shares the X display when `DISPLAY` is set, a
//! synthetic desktop otherwise. In order: code, join, chat, consent to view,
//! consent to control, a file, remote printing, drawing, pause, a
//! screenshot, end, and the relay's audit row. Each step prints one line.
//!
//! To build your own program, start with `operator.rs` and `customer.rs`;
//! the scaffolding this demo stands on is in `common/demo_support.rs`.

#[path = "common/demo_support.rs"]
mod demo_support;
#[path = "common/print_app.rs"]
mod print_app;
#[path = "common/web_demo.rs"]
mod web_demo;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use demo_support::{
    audit_row, customer_platform, demo_dir, grant, save_png, session_started, start_relay, wait,
    watch_frames, Error, OPERATOR, OPERATOR_PASSWORD, STEP,
};
use rsupport::client::{Customer, Drawing, Operator, OperatorOptions};
use rsupport::core::files::FileEvent;
use rsupport::core::print::{
    CustomerPrintEvent, OperatorPrintEvent, PrintEvent, ReceiverEvent, SenderEvent,
};
use rsupport::core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport::print::{SaveToDirectory, VirtualPrinter, VirtualPrinterConfig};
use rsupport::proto::annotate::Argb;
use rsupport::proto::input::{InputMessage, MouseButton};
use rsupport::proto::relay::CustomerInfo;
use rsupport::proto::{ConnectionMode, EndReason, Point};

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
        invitation.display_code(),
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
    // 3b. Both sides agree keys over the code's secret digits before
    // anything else; the relay forwards what it cannot read.
    for (who, handle) in [("operator", &mut op), ("customer", &mut cu)] {
        let protection = wait(handle, |e| match e {
            SessionEvent::Protection(p) => Some(p.clone()),
            _ => None,
        })
        .await?;
        println!("{who}: {protection}");
    }

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
    op.end(EndReason::OperatorEnded, "printer fixed").await?;
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

    // 13. The web console, served by the same relay.
    let url = format!("https://{}/operator/", target.addr());
    let (platform, _) = customer_platform(injected.clone());
    let shot = web_demo::screenshot_of_the_console(&target, &url, platform, &state).await?;
    println!(
        "web console: the operator's browser shows the customer's screen (end-to-end \
         encrypted; the relay only forwarded it): {}",
        shot.display()
    );
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let (platform, _) = customer_platform(injected);
        web_demo::serve_a_person(&target, &url, &login.operator_id, platform).await?;
    }
    println!("demo complete");
    Ok(())
}
