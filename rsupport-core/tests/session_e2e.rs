//! Operator and customer through a real relay over TLS on loopback, driven
//! only through the vendor API (`Operator`, `Customer`, `SessionHandle`),
//! with a synthetic desktop on the customer's side.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsupport_capture::source::SyntheticSource;
use rsupport_core::auth::{Argon2Params, PasswordHasher};
use rsupport_core::endpoint::{
    Customer, HostPlatform, LobbyEvent, Operator, OperatorOptions, RelayTarget, SessionHandle,
};
use rsupport_core::relay::{new_account, serve, RelayConfig, ServeConfig};
use rsupport_core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport_core::store::{SqliteStore, Store};
use rsupport_core::tls::{fingerprint_hex, server_config, Identity};
use rsupport_input::inject::{InjectError, Injector};
use rsupport_input::InputEvent;
use rsupport_proto::input::InputMessage;
use rsupport_proto::relay::CustomerInfo;
use rsupport_proto::screen::ScreenMessage;
use rsupport_proto::{ConnectionMode, EndReason, Point, Role};
use tokio::net::TcpListener;

const PW: &str = "Operator1";
const WAIT: Duration = Duration::from_secs(20);

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

async fn start_relay() -> RelayTarget {
    let (identity, _, _) = Identity::self_signed(&["localhost".into()]).unwrap();
    let fingerprint = fingerprint_hex(&identity.fingerprint());
    let mut store = SqliteStore::in_memory().unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let hasher = PasswordHasher::new(Argon2Params::insecure_fast(), &mut rng);
    let mut op = new_account(
        &store,
        "aiko",
        "Aiko",
        PW,
        Role::Operator,
        &hasher,
        &mut rng,
        0,
    )
    .unwrap();
    op.must_change_password = false;
    store.insert_account(&op).unwrap();
    let mut relay = RelayConfig::default();
    relay.argon2 = Argon2Params::insecure_fast();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServeConfig {
        relay,
        tls: Some(server_config(identity, None).unwrap()),
        store: Box::new(store),
        rng: Box::new(StdRng::seed_from_u64(12)),
    };
    tokio::spawn(serve(listener, config, std::future::pending()));
    RelayTarget::pinned(addr.to_string(), "localhost", fingerprint)
}

/// Waits for the first event `pick` accepts, skipping others.
async fn wait_for<T>(
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

async fn paired(
    target: &RelayTarget,
    injector: SharedInjector,
) -> (Operator, SessionHandle, SessionHandle) {
    let mut operator = Operator::connect(target, OperatorOptions::default())
        .await
        .unwrap();
    operator.login("aiko", PW, None).await.unwrap();
    let invitation = operator.issue_code().await.unwrap();
    assert_eq!(invitation.code().len(), 8);
    let platform = HostPlatform::new(Box::new(SyntheticSource::new()), Box::new(injector), None);
    let customer = Customer::connect(target, platform).await.unwrap();
    let code = invitation.code().to_owned();
    let join = tokio::spawn(async move {
        customer
            .join(
                &code,
                CustomerInfo {
                    name: "Bob".into(),
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

async fn grant(op: &mut SessionHandle, cu: &mut SessionHandle, mode: ConnectionMode) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_join_consent_view_control_chat_pause_end() {
    let target = start_relay().await;
    let injected = SharedInjector::default();
    let (_operator, mut op, mut cu) = paired(&target, injected.clone()).await;

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
        SessionEvent::ViewerScreen(
            rsupport_core::session::screen::ViewerScreenEvent::FrameUpdated {
                width, height, ..
            },
        ) => Some((*width, *height)),
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
    wait_for(&mut cu, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(l)) if l.text == "one moment" => Some(()),
        _ => None,
    })
    .await;

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
    let _ = ScreenMessage::Refresh;
    let shot = op.request_screenshot().unwrap();
    let png = wait_for(&mut op, |e| match e {
        SessionEvent::ViewerScreen(
            rsupport_core::session::screen::ViewerScreenEvent::Screenshot(s),
        ) if s.request_id == shot => Some(s.png.clone()),
        _ => None,
    })
    .await;
    assert_eq!(&png[1..4], b"PNG");

    // End by the operator: the customer is told.
    op.end(EndReason::OperatorEnded, "solved").unwrap();
    let reason = wait_for(&mut cu, |e| match e {
        SessionEvent::Control(ControlEvent::Ended { reason, .. }) => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, EndReason::OperatorEnded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_consent_shows_and_injects_nothing() {
    let target = start_relay().await;
    let injected = SharedInjector::default();
    let (_operator, mut op, mut cu) = paired(&target, injected.clone()).await;
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
