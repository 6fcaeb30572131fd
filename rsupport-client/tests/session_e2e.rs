//! Operator and customer through a real relay over TLS on loopback, driven
//! only through the vendor API (`Operator`, `Customer`, `SessionHandle`),
//! with a synthetic desktop on the customer's side.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use rsupport_testkit::relay as support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsupport_capture::source::SyntheticSource;
use rsupport_client::{Customer, HostPlatform, LobbyEvent, Operator, OperatorOptions};
use rsupport_core::session::screen::ViewerScreenEvent;
use rsupport_core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport_input::inject::{InjectError, Injector};
use rsupport_input::InputEvent;
use rsupport_proto::input::InputMessage;
use rsupport_proto::relay::CustomerInfo;
use rsupport_proto::{ConnectionMode, EndReason, Point};
use support::{grant, paired, start_relay, wait_for, WAIT};

/// Records what the customer's machine would have injected.
#[derive(Clone, Default)]
struct SharedInjector(Arc<Mutex<Vec<InputEvent>>>);

impl Injector for SharedInjector {
    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
    fn name(&self) -> &'static str {
        "shared-recording"
    }
}

fn platform(injector: SharedInjector) -> HostPlatform {
    HostPlatform::new(Box::new(SyntheticSource::new()), Box::new(injector), None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_join_consent_view_control_chat_pause_end() {
    let target = start_relay(None).await;
    let injected = SharedInjector::default();
    let (_operator, mut op, mut cu) = paired(&target, platform(injected.clone())).await;

    // Before consent: nothing arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(op.framebuffer().await.unwrap(), None);
    assert!(op
        .send_input(InputMessage::PointerMove {
            position: Point::new(1, 1)
        })
        .await
        .is_err());

    // Consent → frames of the customer's (synthetic) monitor arrive.
    grant(&mut op, &mut cu, ConnectionMode::ControlCustomer).await;
    wait_for(&mut op, |e| match e {
        SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated { width, height, .. }) => {
            Some((*width, *height))
        }
        _ => None,
    })
    .await;
    let fb = op.framebuffer().await.unwrap().expect("a frame");
    assert_eq!((fb.width(), fb.height()), (640, 400));

    // Control: operator input reaches the customer's injector.
    op.send_input(InputMessage::PointerMove {
        position: Point::new(10, 20),
    })
    .await
    .unwrap();
    tokio::time::timeout(WAIT, async {
        while injected.0.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    assert!(matches!(
        injected.0.lock().unwrap()[0],
        InputEvent::MoveTo(p) if (p.x, p.y) == (10, 20)
    ));

    // Chat both ways.
    cu.send_chat("ありがとう").await.unwrap();
    let line = wait_for(&mut op, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(l)) => Some(l.text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(line, "ありがとう");
    op.send_chat("one moment").await.unwrap();
    let sender = wait_for(&mut cu, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(l)) if l.text == "one moment" => {
            Some(l.sender_name.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(sender, "Aiko", "the operator's display name from the login");

    // Pause: no more frames reach the operator; input is refused.
    cu.set_paused(true).await.unwrap();
    wait_for(&mut op, |e| match e {
        SessionEvent::Control(ControlEvent::SharingChanged(s)) if s.is_paused() => Some(()),
        _ => None,
    })
    .await;
    let before = op.stats().await.unwrap().frames_applied;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(op.stats().await.unwrap().frames_applied, before);
    assert!(op
        .send_input(InputMessage::PointerMove {
            position: Point::new(5, 5)
        })
        .await
        .is_err());
    cu.set_paused(false).await.unwrap();

    // Settings and screenshot round trip.
    let shot = op.request_screenshot().unwrap();
    let png = wait_for(&mut op, |e| match e {
        SessionEvent::ViewerScreen(ViewerScreenEvent::Screenshot(s)) if s.request_id == shot => {
            Some(s.png.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(&png[1..4], b"PNG");

    // End by the operator: the customer is told.
    op.end(EndReason::OperatorEnded, "solved").await.unwrap();
    let reason = wait_for(&mut cu, |e| match e {
        SessionEvent::Control(ControlEvent::Ended { reason, .. }) => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, EndReason::OperatorEnded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_consent_shows_and_injects_nothing() {
    let target = start_relay(None).await;
    let injected = SharedInjector::default();
    let (_operator, mut op, mut cu) = paired(&target, platform(injected.clone())).await;
    op.request_mode(ConnectionMode::ControlCustomer, "please")
        .await
        .unwrap();
    let request_id = wait_for(&mut cu, |e| match e {
        SessionEvent::Control(ControlEvent::ConsentRequested { request_id, .. }) => {
            Some(*request_id)
        }
        _ => None,
    })
    .await;
    cu.decide(request_id, false).await.unwrap();
    wait_for(&mut op, |e| match e {
        SessionEvent::Control(ControlEvent::ModeRefused { .. }) => Some(()),
        _ => None,
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(op.framebuffer().await.unwrap(), None);
    assert!(op
        .send_input(InputMessage::PointerMove {
            position: Point::new(1, 1)
        })
        .await
        .is_err());
    assert!(injected.0.lock().unwrap().is_empty());
    assert_eq!(cu.stats().await.unwrap().frames_sent, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_travel_both_ways_and_drawings_reach_the_other_side() {
    use rsupport_client::Drawing;
    use rsupport_core::files::FileEvent;
    use rsupport_proto::annotate::Argb;

    let target = start_relay(None).await;
    let (_operator, mut op, mut cu) = paired(&target, platform(SharedInjector::default())).await;
    grant(&mut op, &mut cu, ConnectionMode::ControlCustomer).await;

    // Operator → customer: a folder with a 3 MiB file, asked and accepted.
    let src = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::create_dir(src.path().join("drivers")).unwrap();
    std::fs::write(src.path().join("drivers/setup.bin"), &data).unwrap();
    op.send_files(src.path().join("drivers")).await.unwrap();
    let offer = wait_for(&mut cu, |e| match e {
        SessionEvent::File(FileEvent::OfferReceived {
            transfer_id,
            total_size,
            ..
        }) => Some((*transfer_id, *total_size)),
        _ => None,
    })
    .await;
    assert_eq!(offer.1, data.len() as u64);
    let dest = tempfile::tempdir().unwrap();
    cu.accept_files(offer.0, dest.path()).await.unwrap();
    wait_for(&mut cu, |e| match e {
        SessionEvent::File(FileEvent::Finished { .. }) => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(
        std::fs::read(dest.path().join("drivers/setup.bin")).unwrap(),
        data
    );

    // Customer → operator: declined, nothing written.
    let log = src.path().join("log.txt");
    std::fs::write(&log, b"error 42").unwrap();
    cu.send_files(&log).await.unwrap();
    let id = wait_for(&mut op, |e| match e {
        SessionEvent::File(FileEvent::OfferReceived { transfer_id, .. }) => Some(*transfer_id),
        _ => None,
    })
    .await;
    op.decline_files(id, "not needed").unwrap();
    wait_for(&mut cu, |e| match e {
        SessionEvent::File(FileEvent::Declined { .. }) => Some(()),
        _ => None,
    })
    .await;

    // Drawing: the operator's stroke appears in the customer's layer.
    op.annotate(Drawing::Stroke {
        color: Argb::new(255, 255, 0, 0),
        width_px: 4.0,
        points: vec![Point::new(10, 10), Point::new(100, 100)],
        monitor_id: 0,
    })
    .unwrap();
    // The stroke arrives as begin, points and end: render once all are in.
    let mut frame = rsupport_capture::BgraFrame::filled(200, 200, [0, 0, 0, 255]);
    tokio::time::timeout(WAIT, async {
        loop {
            wait_for(&mut cu, |e| {
                matches!(e, SessionEvent::AnnotationsChanged).then_some(())
            })
            .await;
            let layer = cu.annotation_layer().await.unwrap();
            frame = rsupport_capture::BgraFrame::filled(200, 200, [0, 0, 0, 255]);
            rsupport_core::annotate::render(&layer, &mut frame, 0, std::time::Instant::now());
            if frame.pixel(55, 55) == Some([0, 0, 255, 255]) {
                return;
            }
        }
    })
    .await
    .expect("red ink on the diagonal");
    assert_eq!(
        frame.pixel(150, 20),
        Some([0, 0, 0, 255]),
        "untouched elsewhere"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_first_contact_then_remote_access_from_the_chat() {
    use rsupport_client::{Customer, LobbyEvent, Operator, OperatorOptions};
    use rsupport_proto::relay::CustomerInfo;

    let target = start_relay(None).await;
    let mut operator = Operator::connect(&target, OperatorOptions::default())
        .await
        .unwrap();
    let login = operator
        .login(support::OPERATOR, support::PASSWORD, None)
        .await
        .unwrap();
    let customer = Customer::connect(&target, platform(SharedInjector::default()))
        .await
        .unwrap();
    let operator_id = login.operator_id.clone();
    let contact = tokio::spawn(async move {
        customer
            .contact(
                &operator_id,
                CustomerInfo {
                    name: "Chie".into(),
                    ..Default::default()
                },
                "My screen froze",
            )
            .await
    });
    // The contact request reaches this operator, who accepts it.
    let request = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(LobbyEvent::ContactRequest(c)) = operator.next_event().await {
                return c;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(request.first_message, "My screen froze");
    assert_eq!(request.customer.name, "Chie");
    operator.answer_contact(request.contact_id, true).unwrap();
    let mut op = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(LobbyEvent::SessionStarted(s)) = operator.next_event().await {
                return s;
            }
        }
    })
    .await
    .unwrap();
    let mut cu = contact.await.unwrap().unwrap();

    // Chat first, nothing shared yet; then remote access asked from the chat.
    op.send_chat("Can I take a look?").await.unwrap();
    wait_for(&mut cu, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(l)) => Some(l.text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(op.framebuffer().await.unwrap(), None);
    grant(&mut op, &mut cu, ConnectionMode::ViewCustomer).await;
    wait_for(&mut op, |e| match e {
        SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated { .. }) => Some(()),
        _ => None,
    })
    .await;
}

/// Waits until the operator's framebuffer satisfies `check`.
async fn framebuffer_where(
    op: &mut rsupport_client::SessionHandle,
    mut check: impl FnMut(&rsupport_capture::BgraFrame) -> bool,
) -> rsupport_capture::BgraFrame {
    tokio::time::timeout(WAIT, async {
        loop {
            wait_for(op, |e| match e {
                SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated { .. }) => Some(()),
                _ => None,
            })
            .await;
            if let Some(fb) = op.framebuffer().await.unwrap() {
                if check(&fb) {
                    return fb;
                }
            }
        }
    })
    .await
    .expect("framebuffer in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_settings_change_live() {
    use rsupport_proto::screen::DisplaySettings;
    use rsupport_proto::ColorDepth;

    let target = start_relay(None).await;
    let (_operator, mut op, mut cu) = paired(&target, platform(SharedInjector::default())).await;
    grant(&mut op, &mut cu, ConnectionMode::ViewCustomer).await;
    framebuffer_where(&mut op, |fb| (fb.width(), fb.height()) == (640, 400)).await;

    // Half scale: the host sends a 320×200 picture.
    op.set_display_settings(DisplaySettings {
        scale_percent: 50,
        ..DisplaySettings::default()
    })
    .unwrap();
    framebuffer_where(&mut op, |fb| (fb.width(), fb.height()) == (320, 200)).await;

    // Four colours: the picture holds at most four distinct colours.
    op.set_display_settings(DisplaySettings {
        color_depth: ColorDepth::Colors4,
        ..DisplaySettings::default()
    })
    .unwrap();
    framebuffer_where(&mut op, |fb| {
        let colours: std::collections::HashSet<&[u8]> = fb.pixels().chunks_exact(4).collect();
        fb.width() == 640 && colours.len() <= 4
    })
    .await;

    // The synthetic desktop's second monitor is 400×300.
    op.set_display_settings(DisplaySettings {
        monitor_id: 2,
        ..DisplaySettings::default()
    })
    .unwrap();
    framebuffer_where(&mut op, |fb| (fb.width(), fb.height()) == (400, 300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_input_takes_control_back() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let target = start_relay(None).await;
    let injected = SharedInjector::default();
    let touched = Arc::new(AtomicBool::new(false));
    let flag = touched.clone();
    let platform =
        platform(injected.clone()).with_local_activity(move || flag.swap(false, Ordering::Relaxed));
    let (_operator, mut op, mut cu) = paired(&target, platform).await;
    grant(&mut op, &mut cu, ConnectionMode::ControlCustomer).await;
    let mv = |x| InputMessage::PointerMove {
        position: Point::new(x, 10),
    };
    op.send_input(mv(1)).await.unwrap();
    tokio::time::timeout(WAIT, async {
        while injected.0.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();

    // The customer moves the mouse: the operator's input is dropped for the
    // grace period instead of fighting the local user.
    touched.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = injected.0.lock().unwrap().len();
    op.send_input(mv(2)).await.unwrap();
    tokio::time::timeout(WAIT, async {
        while cu.stats().await.unwrap().ignored_input == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("remote input refused while the local user is active");
    assert_eq!(injected.0.lock().unwrap().len(), before);
}

/// A program may exit right after `end().await`: the relay has been told,
/// so its history says the operator ended it, not that a connection was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_exits_right_after_end_still_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let target = start_relay(Some(&db)).await;

    // The operator's program runs on a runtime of its own, dropped (every
    // task stopped at once, as at process exit) right after end() returns.
    let (code_tx, code_rx) = tokio::sync::oneshot::channel();
    let op_target = target.clone();
    let operator_program = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let options = OperatorOptions::default();
            let mut operator = Operator::connect(&op_target, options).await.unwrap();
            operator
                .login(support::OPERATOR, support::PASSWORD, None)
                .await
                .unwrap();
            let invitation = operator.issue_code().await.unwrap();
            code_tx.send(invitation.code().to_owned()).unwrap();
            let session = loop {
                if let Some(LobbyEvent::SessionStarted(s)) = operator.next_event().await {
                    break s;
                }
            };
            session.end(EndReason::OperatorEnded, "done").await.unwrap();
            session.session_id()
        })
    });

    let code = code_rx.await.unwrap();
    let customer = Customer::connect(&target, HostPlatform::synthetic())
        .await
        .unwrap();
    let mut cu = customer.join(&code, CustomerInfo::default()).await.unwrap();
    let session_id = tokio::task::spawn_blocking(move || operator_program.join().unwrap())
        .await
        .unwrap();

    let reason = wait_for(&mut cu, |e| match e {
        SessionEvent::Control(ControlEvent::Ended { reason, .. }) => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, EndReason::OperatorEnded);
    let row = support::ended_session_row(&db, session_id).await;
    assert_eq!(row.end_reason, Some(EndReason::OperatorEnded));
}

/// An admin who sets an operator's modes to none means "chat only": every
/// mode request is refused without asking the customer (SECURITY M5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_allowed_modes_means_chat_only() {
    use rsupport_relay::store::{SqliteStore, Store};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite");
    let target = start_relay(Some(&db)).await;
    {
        let mut store = SqliteStore::open(&db).unwrap();
        let mut account = store.find_account(support::OPERATOR).unwrap().unwrap();
        account.allowed_modes = Vec::new();
        store.update_account(support::OPERATOR, &account).unwrap();
    }
    let (_operator, op, mut cu) = paired(&target, platform(SharedInjector::default())).await;
    assert!(op.allowed_modes().is_empty());
    assert!(cu.allowed_modes().is_empty());
    for &mode in ConnectionMode::ALL {
        assert!(op.request_mode(mode, "please").await.is_err(), "{mode:?}");
    }
    // Chat still works, and the customer was never asked.
    op.send_chat("hello").await.unwrap();
    loop {
        let event = tokio::time::timeout(support::WAIT, cu.next_event())
            .await
            .unwrap()
            .unwrap();
        match event {
            SessionEvent::Chat(ChatEvent::Received(_)) => break,
            SessionEvent::Control(ControlEvent::ConsentRequested { mode, .. }) => {
                panic!("the customer was asked for {mode:?}")
            }
            _ => {}
        }
    }
}
