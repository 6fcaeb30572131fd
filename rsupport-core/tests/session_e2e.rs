//! Operator and customer through a real relay over TLS on loopback, driven
//! only through the vendor API (`Operator`, `Customer`, `SessionHandle`),
//! with a synthetic desktop on the customer's side.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsupport_capture::source::SyntheticSource;
use rsupport_core::endpoint::HostPlatform;
use rsupport_core::session::screen::ViewerScreenEvent;
use rsupport_core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport_input::inject::{InjectError, Injector};
use rsupport_input::InputEvent;
use rsupport_proto::input::InputMessage;
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
